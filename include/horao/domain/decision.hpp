#pragma once
// What the scheduler answers (API.md "Scheduling"): a decision on a
// reservation write, and the status of a stored reservation.
//
// Invariants:
//  * an accepted decision carries the body to store, with `start` (and, for
//    a dynamic start with an `end`, the shifted `end`) filled in as canonical
//    UTC text; a refusal carries the API's status, code and a message that
//    names the dimension, and for capacity by how much and who holds it;
//  * shortages list every short dimension once, in dimension order, each
//    with the pool where it is shortest (hsn only when the hsn pool is the
//    shorter one);
//  * a status's reason is a pure function of the replicated state: every
//    daemon shows the same text.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "horao/domain/amounts.hpp"

namespace horao::domain {

struct shortage {
  dimension dim = dimension::cpu;
  pool in = pool::total;
  quantity asked = 0;      // the reservation's demand
  quantity available = 0;  // the least left for it at any instant of the window
  quantity short_by = 0;   // asked - available, > 0
};

struct constraint_breach {
  dimension dim = dimension::cpu;
  quantity limit = 0;
  quantity asked = 0;  // this reservation's demand
  quantity held = 0;   // the most the tenant already holds at an instant of the window
};

// Who holds the short dimension at the worst instant.
struct holder {
  std::string key;     // "reservation/r1" or "maintenance/m1"
  std::string tenant;  // reservations only
  quantity amount = 0;
};

enum class verdict { accepted, constraint_exceeded, insufficient_capacity, invalid };

struct decision {
  verdict outcome = verdict::invalid;
  // accepted: the window chosen and the body to store.
  std::int64_t start = 0;
  std::optional<std::int64_t> end;  // nullopt: open-ended
  nlohmann::json body;
  // refused: what API.md's error carries (409 or 422).
  int status = 0;
  std::string code;
  std::string message;
  std::string field;  // JSON pointer, for `invalid`
  std::optional<constraint_breach> breach;
  std::vector<shortage> shortages;
  std::optional<std::int64_t> worst_at;  // the instant the first shortage is at its worst
  std::vector<holder> holders;           // largest first, at most max_holders

  static constexpr std::size_t max_holders = 10;
  bool accepted() const { return outcome == verdict::accepted; }
  // Machine-readable refusal: {"dimension", "limit", "asked", "held"} or
  // {"shortages": [...], "at", "holders": [...]}; null when accepted.
  nlohmann::json details() const;
};

struct reservation_status {
  bool accepted = true;
  std::string reason;  // why it is conflicted; empty when accepted
  amounts short_by;    // per dimension, when conflicted (impact reports)
};

// {"cpu": 16, ...} with only the dimensions that are > 0.
nlohmann::json short_json(const amounts& short_by);

}  // namespace horao::domain
