#include "horao/app/logging.hpp"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <iterator>
#include <memory>

namespace horao::app {
namespace {

using spdlog::memory_buf_t;

// The fields of the event being logged on this thread. spdlog formats a
// synchronous logger's message in the caller's thread, inside the log call,
// so the formatter can read them there; plain spdlog calls see none.
thread_local std::span<const log_field> current_fields;

spdlog::level::level_enum to_spdlog(log_level l) {
  switch (l) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::critical:
      return spdlog::level::critical;
    case log_level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

void append(memory_buf_t& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

void append_hex_escape(memory_buf_t& out, const char* prefix, unsigned value, int digits) {
  static const char hex[] = "0123456789abcdef";
  append(out, prefix);
  for (int i = digits - 1; i >= 0; --i) out.push_back(hex[(value >> (4 * i)) & 0xf]);
}

// Length of the valid UTF-8 sequence starting at s[i], 0 when invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// A JSON string literal; invalid UTF-8 becomes U+FFFD so the line stays JSON.
void append_json_string(memory_buf_t& out, std::string_view s) {
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          append(out, "\\\"");
          break;
        case '\\':
          append(out, "\\\\");
          break;
        case '\n':
          append(out, "\\n");
          break;
        case '\r':
          append(out, "\\r");
          break;
        case '\t':
          append(out, "\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            append_hex_escape(out, "\\u", c, 4);
          else
            out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      append(out, "\\ufffd");
      ++i;
    } else {
      append(out, s.substr(i, n));
      i += n;
    }
  }
  out.push_back('"');
}

// Text for people: control characters escaped, quoted when it would not read
// as one token (`quote_if_needed`, for field values).
void append_text(memory_buf_t& out, std::string_view s, bool quote_if_needed) {
  const bool quote = quote_if_needed && (s.empty() || s.find_first_of(" \"=\t") != std::string_view::npos);
  if (quote) out.push_back('"');
  for (unsigned char c : s) {
    if (c == '\n')
      append(out, "\\n");
    else if (c == '\r')
      append(out, "\\r");
    else if (c == '\t')
      append(out, "\\t");
    else if (c < 0x20 || c == 0x7f)
      append_hex_escape(out, "\\x", c, 2);
    else if (quote && (c == '"' || c == '\\')) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else
      out.push_back(static_cast<char>(c));
  }
  if (quote) out.push_back('"');
}

void append_timestamp(memory_buf_t& out, spdlog::log_clock::time_point t) {
  using namespace std::chrono;
  const auto since_epoch = t.time_since_epoch();
  const std::time_t secs = static_cast<std::time_t>(duration_cast<seconds>(since_epoch).count());
  const int millis = static_cast<int>(duration_cast<milliseconds>(since_epoch).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

void append_value(memory_buf_t& out, const log_value& v, bool json) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          if (json)
            append_json_string(out, x);
          else
            append_text(out, x, true);
        } else if constexpr (std::is_same_v<T, bool>) {
          append(out, x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(x))
            fmt::format_to(std::back_inserter(out), "{}", x);
          else
            append(out, json ? "null" : (std::isnan(x) ? "nan" : "inf"));
        } else {
          fmt::format_to(std::back_inserter(out), "{}", x);
        }
      },
      v.get());
}

class line_formatter final : public spdlog::formatter {
 public:
  explicit line_formatter(log_format format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    const std::string_view level = level_name(msg.level);
    if (format_ == log_format::json) {
      append(dest, "{\"ts\":\"");
      append_timestamp(dest, msg.time);
      append(dest, "\",\"level\":\"");
      append(dest, level);
      append(dest, "\",\"msg\":");
      append_json_string(dest, text);
      for (const auto& f : current_fields) {
        dest.push_back(',');
        append_json_string(dest, f.key);
        dest.push_back(':');
        append_value(dest, f.value, true);
      }
      append(dest, "}\n");
      return;
    }
    append_timestamp(dest, msg.time);
    dest.push_back(' ');
    append(dest, level);
    for (std::size_t pad = level.size(); pad < 5; ++pad) dest.push_back(' ');
    dest.push_back(' ');
    append_text(dest, text, false);
    for (const auto& f : current_fields) {
      dest.push_back(' ');
      append_text(dest, f.key, false);
      dest.push_back('=');
      append_value(dest, f.value, false);
    }
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<line_formatter>(format_);
  }

 private:
  log_format format_;
};

}  // namespace

void init_logging(std::string_view level, log_format format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("horaod", std::move(sink));
  logger->set_formatter(std::make_unique<line_formatter>(format));
  logger->set_level(spdlog::level::from_str(std::string(level)));
  // Warnings and above reach the terminal or journal at once; the rest is
  // flushed by the sink (stderr is unbuffered anyway).
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

bool log_enabled(log_level level) {
  return spdlog::default_logger_raw()->should_log(to_spdlog(level));
}

void log_event(log_level level, std::string_view message, std::span<const log_field> fields) {
  auto* logger = spdlog::default_logger_raw();
  const auto lvl = to_spdlog(level);
  if (!logger->should_log(lvl)) return;
  const auto previous = current_fields;
  current_fields = fields;
  try {
    logger->log(spdlog::source_loc{}, lvl, spdlog::string_view_t(message.data(), message.size()));
  } catch (...) {
    // Logging never takes the daemon down (spdlog reports its own errors).
  }
  current_fields = previous;
}

}  // namespace horao::app
