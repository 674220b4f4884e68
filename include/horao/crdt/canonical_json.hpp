#pragma once
// A one-pass check that a text is one JSON value in exactly the compact form
// nlohmann::json::dump() gives it (the form the store keeps and hashes), so
// that readers of stored or replicated values can accept canonical text as
// it is instead of parsing it into a tree and printing it again.
//
// Invariants: true only when parse-then-dump would give back the same bytes:
// no whitespace; objects with keys in strictly increasing byte order (no
// duplicates); strings valid UTF-8, escaping exactly what dump() escapes
// (\" \\ \b \f \n \r \t and \u00xx, lower-case hex, for other control
// characters) and nothing else; integers without leading zeros or "-0",
// within int64 (negative) or uint64 (positive); floats as dump() prints
// them; nesting at most `max_depth`. Anything unusual answers false, never
// true by mistake: false only means "take the slow path". No allocation
// except for the rare float, no recursion, no exceptions.

#include <cstddef>
#include <string_view>

namespace horao::crdt {

bool is_canonical_json(std::string_view text, std::size_t max_depth);

}  // namespace horao::crdt
