#pragma once
// Record state to and from JSON, for Redis and the replication wire.
//
//   {"c": HLC, "d": HLC, "f": {"name": [wall_us, counter, "node", value], "gone": [w, c, "node"]}}
//   HLC = [wall_us, counter, "node"]
//
// Invariants: decode(encode(r)) == r for every canonical record; decode never
// trusts its input and never throws: wrong shapes, walls outside 0 ..
// max_wall_us, counters above 2^32-1, too many fields, over-long or invalid
// UTF-8 names (CBOR does not validate text) and invalid UTF-8 values are
// refused with a message, and whatever it accepts comes back in canonical
// form. Values are re-serialised compactly so that equal values have equal
// text on every daemon.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "horao/crdt/record.hpp"

namespace horao::crdt {

inline constexpr std::size_t max_fields_per_record = 256;

nlohmann::json encode_hlc(const hlc& t);
std::optional<hlc> decode_hlc(const nlohmann::json& j, std::string* error = nullptr);

nlohmann::json encode_record(const record& r);
std::optional<record> decode_record(const nlohmann::json& j, std::string* error = nullptr);

}  // namespace horao::crdt
