#pragma once
// The value stored in Redis for one record.
//
//   format 2 (written):  CBOR [seq, record]   with record as crdt::append_record_cbor
//                        writes it: [c_wall, c_counter, c_node, d_wall, d_counter,
//                        d_node, [[name, wall, counter, node, "json text"?], ...]]
//   format 1 (read):     CBOR {"s": seq, "r": <crdt::encode_record(state)>}
//
// where seq is the record's local sequence when it was written. Format 2
// carries field values as the JSON text the store keeps, so writing copies
// bytes and loading a million records builds no JSON tree per record (the
// reason for the change); format 1 entries left by an older daemon are still
// read, and rewritten in format 2 the next time their record changes.
//
// Invariants: decode_entry(encode_entry(s, r)) gives back s and r for every
// canonical record and s >= 1. decode_entry treats its input as untrusted: it
// refuses (with a reason, never an exception) values larger than
// max_entry_bytes, CBOR nested deeper than max_entry_depth (checked while
// parsing, so hostile nesting cannot exhaust the stack), CBOR tags, other
// shapes or extra members or trailing bytes, a sequence of 0 or above
// max_entry_seq, and any record that crdt::decode_record /
// crdt::read_record_cbor refuses (values must be canonical JSON text).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "horao/crdt/record.hpp"

namespace horao::persist {

// meta "format": bumped when an older daemon could misread what this one
// writes (it then refuses to start instead). 2: entries as [seq, record].
inline constexpr int format_version = 2;
inline constexpr std::size_t max_entry_bytes = 16u << 20;
inline constexpr std::size_t max_entry_depth = 64;
inline constexpr std::uint64_t max_entry_seq = std::uint64_t{1} << 62;

struct decoded_entry {
  std::uint64_t seq = 0;
  crdt::record state;
};

std::string encode_entry(std::uint64_t seq, const crdt::record& state);
// The same bytes in two steps, for the batch writer that puts them straight
// into the command text Redis gets: their exact count, then written at `out`
// (room for that many); returns the end.
std::size_t entry_size(std::uint64_t seq, const crdt::record& state);
char* write_entry(std::uint64_t seq, const crdt::record& state, char* out);
std::optional<decoded_entry> decode_entry(std::string_view bytes, std::string* error = nullptr);

}  // namespace horao::persist
