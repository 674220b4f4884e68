#pragma once
// Hybrid logical clock timestamps (DESIGN §2).
//
// Invariants: timestamps are totally ordered by (wall_us, counter, node name);
// the node part compares by *name*, so the order is the same on every daemon
// although node ids are interned per process. hlc{} is the bottom element.
// Text form: 2026-11-25T07:31:02.123456Z/0003@dc-ams.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "horao/crdt/symbol_table.hpp"

namespace horao::crdt {

using node_id = std::uint32_t;  // id in node_names()

// The largest wall a timestamp may carry: 9999-12-31T23:59:59.999999Z, the
// last instant the text form (four-digit years) can show. Decoders refuse
// anything later, so that every accepted stamp prints and parses back, and
// clock arithmetic near it cannot overflow.
inline constexpr std::int64_t max_wall_us = 253'402'300'799'999'999;

struct hlc {
  std::int64_t wall_us = 0;    // microseconds since the Unix epoch
  std::uint32_t counter = 0;   // logical counter within one wall_us
  node_id node = 0;            // the writer

  friend bool operator==(const hlc&, const hlc&) = default;
  friend std::strong_ordering operator<=>(const hlc& a, const hlc& b) {
    if (auto c = a.wall_us <=> b.wall_us; c != 0) return c;
    if (auto c = a.counter <=> b.counter; c != 0) return c;
    if (a.node == b.node) return std::strong_ordering::equal;
    return node_names().name(a.node).compare(node_names().name(b.node)) < 0
               ? std::strong_ordering::less
               : std::strong_ordering::greater;
  }
};

// The node's name, e.g. "dc-ams".
inline const std::string& node_name(const hlc& t) { return node_names().name(t.node); }

std::string to_string(const hlc& t);
std::optional<hlc> parse_hlc(std::string_view text);

// RFC 3339 UTC with microseconds ("2026-11-25T07:31:02.123456Z") and back.
std::string format_time_us(std::int64_t unix_us);
// Accepts RFC 3339 with 'Z' or a numeric offset, with or without fraction.
std::optional<std::int64_t> parse_time_us(std::string_view text);

}  // namespace horao::crdt
