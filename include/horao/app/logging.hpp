#pragma once
// The daemon's log (DESIGN §8), through spdlog, as text for people or as JSON
// lines for machines (LOG_FORMAT), filtered by LOG_LEVEL.
//
// Invariants: one event is one line. JSON lines are objects with "ts" (RFC
// 3339 UTC, milliseconds), "level", "msg" and the event's fields in the order
// given. In both formats control characters are escaped, so no input quoted in
// a message or a field (a request path, a peer's error) can forge a line.
// Plain spdlog calls from any module go through the same formatter (without
// fields). Nothing here can tell a secret apart: callers never pass secrets,
// tokens or Authorization headers, as a message or as a field.
// Events are formatted and written synchronously in the calling thread.

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "horao/app/config.hpp"

namespace horao::app {

enum class log_level { trace, debug, info, warn, error, critical, off };

// A field's value: text, a whole number, a number or a boolean.
class log_value {
 public:
  using variant = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

  log_value(std::string_view s) : v_(s) {}
  log_value(const char* s) : v_(std::string_view(s)) {}
  log_value(const std::string& s) : v_(std::string_view(s)) {}
  template <std::integral T>
  log_value(T n) : v_(convert(n)) {}
  log_value(double d) : v_(d) {}

  const variant& get() const { return v_; }

 private:
  template <class T>
  static variant convert(T n) {
    if constexpr (std::is_same_v<T, bool>)
      return n;
    else if constexpr (std::is_signed_v<T>)
      return static_cast<std::int64_t>(n);
    else
      return static_cast<std::uint64_t>(n);
  }
  variant v_;
};

struct log_field {
  std::string_view key;  // a plain identifier, e.g. "status"
  log_value value;
};
using log_fields = std::initializer_list<log_field>;

// Installs the stderr logger as spdlog's default. `level` is a LOG_LEVEL value.
void init_logging(std::string_view level, log_format format);

bool log_enabled(log_level level);
void log_event(log_level level, std::string_view message, std::span<const log_field> fields);
inline void log_event(log_level level, std::string_view message, log_fields fields = {}) {
  log_event(level, message, std::span<const log_field>(fields.begin(), fields.size()));
}

inline void log_trace(std::string_view m, log_fields f = {}) {
  log_event(log_level::trace, m, f);
}
inline void log_debug(std::string_view m, log_fields f = {}) {
  log_event(log_level::debug, m, f);
}
inline void log_info(std::string_view m, log_fields f = {}) {
  log_event(log_level::info, m, f);
}
inline void log_warn(std::string_view m, log_fields f = {}) {
  log_event(log_level::warn, m, f);
}
inline void log_error(std::string_view m, log_fields f = {}) {
  log_event(log_level::error, m, f);
}
inline void log_critical(std::string_view m, log_fields f = {}) {
  log_event(log_level::critical, m, f);
}

}  // namespace horao::app
