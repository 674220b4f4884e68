#pragma once
// The value stored in Redis for one record: CBOR of
//
//   {"s": seq, "r": <crdt::encode_record(state)>}
//
// where seq is the record's local sequence when it was written.
//
// Invariants: decode_entry(encode_entry(s, r)) gives back s and r for every
// canonical record and s >= 1. decode_entry treats its input as untrusted: it
// refuses (with a reason, never an exception) values larger than
// max_entry_bytes, CBOR nested deeper than max_entry_depth (checked while
// parsing, so hostile nesting cannot exhaust the stack), CBOR tags, other
// shapes or extra members, a sequence of 0 or above max_entry_seq, and any
// record that crdt::decode_record refuses.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "horao/crdt/record.hpp"

namespace horao::persist {

inline constexpr int format_version = 1;  // meta "format"; bump when this layout changes
inline constexpr std::size_t max_entry_bytes = 16u << 20;
inline constexpr std::size_t max_entry_depth = 64;
inline constexpr std::uint64_t max_entry_seq = std::uint64_t{1} << 62;

struct decoded_entry {
  std::uint64_t seq = 0;
  crdt::record state;
};

std::string encode_entry(std::uint64_t seq, const crdt::record& state);
std::optional<decoded_entry> decode_entry(std::string_view bytes, std::string* error = nullptr);

}  // namespace horao::persist
