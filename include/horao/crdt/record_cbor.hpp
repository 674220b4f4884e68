#pragma once
// Record state as compact CBOR for replication frames, written and read
// without a JSON tree (the bootstrap of a million records spends its time
// here):
//
//   record = [c_wall, c_counter, c_node, d_wall, d_counter, d_node, [field, ...]]
//   field  = [name, wall, counter, node]                (absent: removed by a patch)
//          | [name, wall, counter, node, "json text"]   (the value, compact JSON)
//
// Values travel as the JSON text the store keeps, so the sender copies bytes
// instead of converting every value to CBOR and back.
//
// Invariants: read(append(r)) == r for every canonical record; the reader
// trusts nothing: walls outside 0 .. max_wall_us, counters above 2^32-1, more
// than max_fields_per_record fields, names that are empty, too long, not
// UTF-8 or beyond the symbol tables' capacity, and values that are not JSON
// or nest deeper than max_value_depth are refused with a message. Accepted
// values are stored in canonical compact form (re-serialised unless they are
// already canonical), so every daemon hashes the same text.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "horao/crdt/cbor.hpp"
#include "horao/crdt/record.hpp"

namespace horao::crdt {

inline constexpr std::size_t max_value_depth = 64;

void append_record_cbor(const record& r, std::vector<std::uint8_t>& out);
// The same bytes in two steps: their exact count, then written at `out`
// (which must have room for that many); returns the end.
std::size_t record_cbor_size(const record& r);
std::uint8_t* write_record_cbor(const record& r, std::uint8_t* out);
std::optional<record> read_record_cbor(cbor::reader& in, std::string* error);

// `text` as canonical compact JSON, or nullopt with `error` set when it is not
// one JSON value (or nests deeper than max_value_depth). Scalars that are
// canonical already (short integers, plain ASCII strings, true/false/null)
// are recognised without parsing.
std::optional<std::string> canonical_json_value(std::string_view text, std::string* error);

}  // namespace horao::crdt
