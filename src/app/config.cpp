#include "horao/app/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace horao::app {
namespace {

// A value that does not have the accepted form. The driver turns it into the
// message, so every key's message has the same shape:
//   KEY: expected <expected>, got "<value>" (from <where>)
struct bad_value {
  std::string expected;
  std::optional<std::string> shown;  // replaces the quoted value in the message (a part, or a mask)
};

// Where a raw value came from, for messages: "--port", "environment", ".env line 3".
struct raw_value {
  std::string value;
  std::string origin;
};

constexpr std::size_t max_env_file_bytes = 1 << 20;
constexpr std::size_t max_value_bytes = 64 * 1024;

std::string_view trim(std::string_view s) {
  const auto not_space = [](char c) { return c != ' ' && c != '\t' && c != '\r' && c != '\n'; };
  while (!s.empty() && !not_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && !not_space(s.back())) s.remove_suffix(1);
  return s;
}

// Quotes a value for a message: control characters escaped, length capped.
std::string quote_value(std::string_view v) {
  std::string out = "\"";
  const std::size_t cap = 120;
  for (std::size_t i = 0; i < v.size() && i < cap; ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (v.size() > cap) out += "...";
  out += '"';
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc{} || ptr != end || v < min || v > max) return std::nullopt;
  return v;
}

std::int64_t int_in(std::string_view s, std::int64_t min, std::int64_t max, std::string expected) {
  if (auto v = parse_int(s, min, max)) return *v;
  throw bad_value{std::move(expected), std::nullopt};
}

std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v, std::chars_format::fixed);
  if (s.empty() || ec != std::errc{} || ptr != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return std::nullopt;
}

bool is_ip_literal(std::string_view s) {
  const std::string text(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
    if (c == '-' && label == 1) return false;
  }
  return label != 0 || s.back() == '.';
}

// host[:port] with a bracketed IPv6 literal allowed; fills host (without
// brackets) and port (or keeps the default).
bool parse_authority(std::string_view a, std::string& host, std::uint16_t& port) {
  std::string_view h;
  std::string_view p;
  bool has_port = false;
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    h = a.substr(1, close - 1);
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      p = rest.substr(1);
      has_port = true;
    }
    const std::string text(h);
    unsigned char buf[16];
    if (inet_pton(AF_INET6, text.c_str(), buf) != 1) return false;
  } else {
    const auto colon = a.find(':');
    h = a.substr(0, colon);
    if (colon != std::string_view::npos) {
      p = a.substr(colon + 1);
      has_port = true;
    }
    if (!is_dns_name(h) && !is_ip_literal(h)) return false;
    if (h.find(':') != std::string_view::npos) return false;
  }
  if (has_port) {
    auto v = parse_int(p, 1, 65535);
    if (!v) return false;
    port = static_cast<std::uint16_t>(*v);
  }
  host = std::string(h);
  return true;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc{} || ptr != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

// REDIS_URL's grammar, as persist::parse_redis_url reads it:
//   redis://[user:password@]host[:port][/db]   unix://[user:password@]/path[?db=N]
// Checked here too so that a bad URL stops the daemon at start (exit 2) with
// the other configuration errors, not later when persistence connects.
bool valid_redis_url(std::string_view url) {
  const bool unix_socket = url.rfind("unix://", 0) == 0;
  if (!unix_socket && url.rfind("redis://", 0) != 0) return false;
  std::string_view rest = url.substr(unix_socket ? 7 : 8);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) return false;  // a user needs a password
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(userinfo.substr(colon + 1));
    if (!user || !password || password->empty()) return false;
    rest.remove_prefix(at + 1);
  }
  const auto valid_db = [](std::string_view db) { return parse_int(db, 0, 1'000'000).has_value(); };
  if (unix_socket) {
    const auto query = rest.find('?');
    const std::string_view path = rest.substr(0, query);
    if (path.size() < 2 || path.front() != '/' || path.size() > 107) return false;
    if (path.find_first_of(std::string_view("\0\n\r", 3)) != std::string_view::npos) return false;
    if (query == std::string_view::npos) return true;
    const std::string_view q = rest.substr(query + 1);
    return q.rfind("db=", 0) == 0 && valid_db(q.substr(3));
  }
  const auto slash = rest.find('/');
  std::string host;
  std::uint16_t port = 6379;
  if (!parse_authority(rest.substr(0, slash), host, port)) return false;
  if (slash == std::string_view::npos) return true;
  const std::string_view db = rest.substr(slash + 1);
  return db.empty() || valid_db(db);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string readable_file_error(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "no such file";
  if (!std::filesystem::is_regular_file(path, ec)) return "not a regular file";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return std::strerror(errno);
  std::fclose(f);
  return {};
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

// ---- the keys ----------------------------------------------------------------

struct key_spec {
  const char* name;
  const char* default_text;
  const char* help;
  bool secret;
  void (*set)(config&, const std::string&);
  std::string (*show)(const config&);
};

std::string show_int(std::int64_t v) {
  return std::to_string(v);
}

const std::vector<key_spec>& keys() {
  static const std::vector<key_spec> all = {
      {"NODE_ID", "the host name",
       "this daemon's id in HLC timestamps and on peer links ([A-Za-z0-9][A-Za-z0-9._-]{0,127})", false,
       [](config& c, const std::string& v) {
         if (!v.empty() && !is_valid_node_id(v))
           throw bad_value{"an id of 1 to 128 characters [A-Za-z0-9._-] starting with a letter or digit", {}};
         c.node_id = v;
       },
       [](const config& c) { return c.node_id; }},
      {"LISTEN", "127.0.0.1",
       "address the HTTP/WebSocket server binds to (IPv4 or IPv6 literal, or localhost)", false,
       [](config& c, const std::string& v) {
         if (v != "localhost" && !is_ip_literal(v))
           throw bad_value{"an IPv4 or IPv6 address literal (e.g. 127.0.0.1, ::1, 0.0.0.0) or localhost", {}};
         c.listen = v;
       },
       [](const config& c) { return c.listen; }},
      {"PORT", "8080", "TCP port of the HTTP/WebSocket server", false,
       [](config& c, const std::string& v) {
         c.port = static_cast<std::uint16_t>(int_in(v, 1, 65535, "a port number from 1 to 65535"));
       },
       [](const config& c) { return show_int(c.port); }},
      {"PEERS", "(none)",
       "comma-separated base URLs of peer daemons to dial (ws://host:port or wss://host:port)", false,
       [](config& c, const std::string& v) {
         std::vector<std::string> peers;
         std::set<std::string> seen;
         if (!trim(v).empty()) {
           std::string_view rest = v;
           while (true) {
             const auto comma = rest.find(',');
             const std::string item(trim(rest.substr(0, comma)));
             if (!parse_peer_url(item))
               throw bad_value{"comma-separated ws:// or wss:// URLs with a host and an optional port",
                               quote_value(item)};
             if (!seen.insert(item).second) throw bad_value{"each peer listed once", quote_value(item)};
             peers.push_back(item);
             if (comma == std::string_view::npos) break;
             rest.remove_prefix(comma + 1);
           }
         }
         c.peers = std::move(peers);
       },
       [](const config& c) {
         std::string out;
         for (const auto& p : c.peers) out += (out.empty() ? "" : ",") + p;
         return out;
       }},
      {"PEER_SECRET", "(none)", "shared secret that authenticates peer links (required when PEERS is set)",
       true,
       [](config& c, const std::string& v) {
         if (v.size() > 4096) throw bad_value{"at most 4096 bytes", std::string("(secret not shown)")};
         c.peer_secret = v;
       },
       [](const config& c) { return c.peer_secret.empty() ? std::string() : std::string("********"); }},
      {"REDIS_URL", "(none: in-memory, state lost on exit)",
       "Redis to persist to: redis://[user:password@]host[:port][/db] or unix:///path", false,
       [](config& c, const std::string& v) {
         if (!v.empty() && !valid_redis_url(v))
           throw bad_value{"empty, redis://[user:password@]host[:port][/db] or unix:///path[?db=N]",
                           std::string("(not shown: it may hold a password)")};
         c.redis_url = v;
       },
       [](const config& c) {
         // Mask the password: the start-up log must not carry it. A valid
         // URL's user information ends at the last '@'.
         const auto at = c.redis_url.rfind('@');
         if (at == std::string::npos) return c.redis_url;
         const auto scheme_end = c.redis_url.find("://") + 3;
         const auto colon = c.redis_url.find(':', scheme_end);
         return c.redis_url.substr(0, colon + 1) + "********" + c.redis_url.substr(at);
       }},
      {"REDIS_PREFIX", "horao:", "prefix of every Redis key this daemon writes", false,
       [](config& c, const std::string& v) {
         const bool ok =
             !v.empty() && v.size() <= 64 &&
             std::all_of(v.begin(), v.end(), [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
         if (!ok) throw bad_value{"1 to 64 printable ASCII characters without spaces", {}};
         c.redis_prefix = v;
       },
       [](const config& c) { return c.redis_prefix; }},
      {"REDIS_TIMEOUT_MS", "2000", "timeout of one Redis command, in milliseconds", false,
       [](config& c, const std::string& v) {
         c.redis_timeout_ms = int_in(v, 10, 60000, "a whole number of milliseconds from 10 to 60000");
       },
       [](const config& c) { return show_int(c.redis_timeout_ms); }},
      {"PERSIST", "sync",
       "sync: answer a write after Redis acknowledged it; async: answer first (may lose the last moments of "
       "writes)",
       false,
       [](config& c, const std::string& v) {
         if (v == "sync")
           c.persist = persist_mode::sync;
         else if (v == "async")
           c.persist = persist_mode::async;
         else
           throw bad_value{"sync or async", {}};
       },
       [](const config& c) { return std::string(c.persist == persist_mode::sync ? "sync" : "async"); }},
      {"SYNC_DELTA", "180", "push pending changes to a peer at least every this many seconds", false,
       [](config& c, const std::string& v) {
         c.sync_delta_s = int_in(v, 0, 31'536'000, "a whole number of seconds >= 0 (at most 31536000)");
       },
       [](const config& c) { return show_int(c.sync_delta_s); }},
      {"SYNC_MAX", "1000",
       "push to a peer at once when more changes than this are pending (0 = every change)", false,
       [](config& c, const std::string& v) {
         c.sync_max = int_in(v, 0, 1'000'000'000, "a whole number of changes >= 0 (at most 1000000000)");
       },
       [](const config& c) { return show_int(c.sync_max); }},
      {"CLOCK_OFFSET", "0", "largest tolerated forward clock skew of a peer, in seconds (0 = no limit)",
       false,
       [](config& c, const std::string& v) {
         auto d = parse_number(v);
         if (!d || *d < 0 || *d > 86400)
           throw bad_value{"a number of seconds >= 0, fractions allowed (e.g. 0.5, at most 86400)", {}};
         c.clock_offset_s = *d;
       },
       [](const config& c) {
         char buf[32];
         std::snprintf(buf, sizeof buf, "%g", c.clock_offset_s);
         return std::string(buf);
       }},
      {"TOMBSTONE_TTL", "604800",
       "seconds a deleted record is kept before it is purged (a peer away longer can revive it)", false,
       [](config& c, const std::string& v) {
         c.tombstone_ttl_s =
             int_in(v, 1, 315'360'000, "a whole number of seconds >= 1 (at most 315360000)");
       },
       [](const config& c) { return show_int(c.tombstone_ttl_s); }},
      {"PLANNING_WINDOW", "30", "days ahead the scheduler searches for a start when a reservation gives none",
       false,
       [](config& c, const std::string& v) {
         c.planning_window_days = int_in(v, 1, 3650, "a whole number of days from 1 to 3650");
       },
       [](const config& c) { return show_int(c.planning_window_days); }},
      {"PLANNING_INTERVAL", "1", "hours between the candidate starts the scheduler tries", false,
       [](config& c, const std::string& v) {
         c.planning_interval_hours = int_in(v, 1, 8760, "a whole number of hours from 1 to 8760");
       },
       [](const config& c) { return show_int(c.planning_interval_hours); }},
      {"LOG_LEVEL", "info", "trace, debug (one line per request), info, warn, error, critical or off", false,
       [](config& c, const std::string& v) {
         static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                                      "error", "critical", "off"};
         if (!levels.count(v)) throw bad_value{"one of trace, debug, info, warn, error, critical, off", {}};
         c.log_level = v;
       },
       [](const config& c) { return c.log_level; }},
      {"LOG_FORMAT", "text", "text (for people) or json (one JSON object per line)", false,
       [](config& c, const std::string& v) {
         if (v == "text")
           c.log_fmt = log_format::text;
         else if (v == "json")
           c.log_fmt = log_format::json;
         else
           throw bad_value{"text or json", {}};
       },
       [](const config& c) { return std::string(c.log_fmt == log_format::text ? "text" : "json"); }},
      {"MAX_BODY_BYTES", "1048576", "largest request body accepted; larger ones get 413", false,
       [](config& c, const std::string& v) {
         c.max_body_bytes = static_cast<std::size_t>(int_in(
             v, 1024, std::int64_t{1} << 30, "a whole number of bytes from 1024 to 1073741824 (1 GiB)"));
       },
       [](const config& c) { return show_int(static_cast<std::int64_t>(c.max_body_bytes)); }},
      {"TLS_CERT", "(none)", "PEM certificate chain; with TLS_KEY, HTTP and WebSocket are served over TLS",
       false, [](config& c, const std::string& v) { c.tls_cert = v; },
       [](const config& c) { return c.tls_cert; }},
      {"TLS_KEY", "(none)", "PEM private key of TLS_CERT", false,
       [](config& c, const std::string& v) { c.tls_key = v; }, [](const config& c) { return c.tls_key; }},
      {"API_TOKENS_FILE", "(none: open API, loopback only)",
       "file of 'sha256-hex role [tenant]' lines; when set every /v1/ request needs a bearer token", false,
       [](config& c, const std::string& v) { c.api_tokens_file = v; },
       [](const config& c) { return c.api_tokens_file; }},
      {"ALLOW_OPEN", "false", "allow an open API (no API_TOKENS_FILE) on a non-loopback LISTEN address",
       false,
       [](config& c, const std::string& v) {
         auto b = parse_bool(v);
         if (!b) throw bad_value{"true, false, 1, 0, yes or no", {}};
         c.allow_open = *b;
       },
       [](const config& c) { return std::string(c.allow_open ? "true" : "false"); }},
  };
  return all;
}

const key_spec* find_key(std::string_view name) {
  for (const auto& k : keys())
    if (name == k.name) return &k;
  return nullptr;
}

std::string flag_of(std::string_view key) {
  std::string f = "--";
  for (char ch : key) f += ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return f;
}

std::string suggestion(std::string_view name, bool as_flag) {
  const key_spec* best = nullptr;
  std::size_t best_distance = 3;  // more than two edits is no typo
  for (const auto& k : keys()) {
    const std::string candidate = as_flag ? flag_of(k.name) : std::string(k.name);
    const std::size_t d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = &k;
    }
  }
  if (!best) return {};
  return " (did you mean " + (as_flag ? flag_of(best->name) : std::string(best->name)) + "?)";
}

// ---- the layers ------------------------------------------------------------

struct flag_layer {
  std::map<std::string, raw_value> values;  // by key name
  std::optional<std::string> env_file;
  bool check_only = false;
};

flag_layer parse_flags(const std::vector<std::string>& args) {
  flag_layer out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--check-config") {
      out.check_only = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      throw config_error("unexpected argument " + quote_value(arg) +
                         ": options look like --key=value (see --help)");
    const auto eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)
        throw config_error(flag + ": expects a value (" + flag + "=VALUE or " + flag + " VALUE)");
      value = args[++i];
    }
    if (flag == "--env-file") {
      out.env_file = value;
      continue;
    }
    const key_spec* key = nullptr;
    for (const auto& k : keys())
      if (flag_of(k.name) == flag) key = &k;
    if (!key) throw config_error("unknown flag " + flag + suggestion(flag, true) + " (see --help)");
    out.values[key->name] = {std::move(value), flag};
  }
  return out;
}

// Reads a double-quoted value starting after the opening quote; `pos` ends
// after the closing quote.
std::optional<std::string> read_double_quoted(std::string_view line, std::size_t& pos) {
  std::string out;
  while (pos < line.size()) {
    const char c = line[pos++];
    if (c == '"') return out;
    if (c != '\\' || pos >= line.size()) {
      out += c;
      continue;
    }
    const char e = line[pos++];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        out += e;  // \" \\ \$ and the like stand for themselves
    }
  }
  return std::nullopt;
}

std::map<std::string, raw_value> parse_env_file(const std::string& path, bool explicit_path) {
  std::map<std::string, raw_value> out;
  std::error_code ec;
  if (!explicit_path && !std::filesystem::exists(path, ec)) return out;  // no ./.env is fine
  const std::string problem = readable_file_error(path);
  if (!problem.empty()) throw config_error("--env-file: cannot read " + quote_value(path) + ": " + problem);
  std::ifstream in(path, std::ios::binary);
  std::string text;
  text.resize(max_env_file_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_env_file_bytes)
    throw config_error("--env-file: " + quote_value(path) +
                       " is larger than 1 MiB; expected KEY=VALUE lines");
  // Values reach C APIs (inet_pton, fopen) that would stop at a NUL byte.
  if (text.find('\0') != std::string::npos)
    throw config_error("--env-file: " + quote_value(path) +
                       " contains a NUL byte; expected KEY=VALUE text lines");

  std::size_t line_no = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    ++line_no;
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    const std::string where = path + " line " + std::to_string(line_no);
    const auto fail = [&](const std::string& what) {
      throw config_error(where + ": " + what + "; expected KEY=VALUE, a blank line or a # comment");
    };

    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.rfind("export", 0) == 0 && line.size() > 6 && (line[6] == ' ' || line[6] == '\t'))
      line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) fail("no '=' in " + quote_value(line));
    const std::string name(trim(line.substr(0, eq)));
    const bool name_ok =
        !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
        std::all_of(name.begin(), name.end(), [](unsigned char ch) { return std::isalnum(ch) || ch == '_'; });
    if (!name_ok) fail("bad key " + quote_value(name));
    if (!find_key(name))
      throw config_error(name + ": unknown key in " + where + suggestion(name, false) + " (see --help)");

    std::string_view raw = trim(line.substr(eq + 1));
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      std::size_t pos = 1;
      if (raw.front() == '"') {
        auto v = read_double_quoted(raw, pos);
        if (!v) fail("unterminated double quote");
        value = std::move(*v);
      } else {
        const auto close = raw.find('\'', 1);
        if (close == std::string_view::npos) fail("unterminated single quote");
        value = std::string(raw.substr(1, close - 1));
        pos = close + 1;
      }
      const std::string_view after = trim(raw.substr(pos));
      if (!after.empty() && after.front() != '#') fail("text after the closing quote");
    } else {
      // An unquoted value ends at a comment: '#' after whitespace.
      std::size_t cut = raw.size();
      for (std::size_t i = 1; i < raw.size(); ++i)
        if (raw[i] == '#' && (raw[i - 1] == ' ' || raw[i - 1] == '\t')) {
          cut = i;
          break;
        }
      value = std::string(trim(raw.substr(0, cut)));
    }
    out[name] = {std::move(value), where};
  }
  return out;
}

void check_readable(const char* key, const std::string& path) {
  const std::string problem = readable_file_error(path);
  if (!problem.empty())
    throw config_error(std::string(key) + ": cannot read " + quote_value(path) + ": " + problem);
}

void check_cross_keys(const config& c) {
  if (c.tls_cert.empty() != c.tls_key.empty())
    throw config_error(std::string(c.tls_cert.empty() ? "TLS_CERT" : "TLS_KEY") +
                       ": TLS_CERT and TLS_KEY go together: set both to serve over TLS, or neither");
  if (!c.tls_cert.empty()) {
    check_readable("TLS_CERT", c.tls_cert);
    check_readable("TLS_KEY", c.tls_key);
  }
  if (!c.api_tokens_file.empty()) check_readable("API_TOKENS_FILE", c.api_tokens_file);
  if (!c.peers.empty() && c.peer_secret.empty())
    throw config_error(
        "PEER_SECRET: required when PEERS is set: peer links are authenticated with tokens derived from it, "
        "and peers refuse a daemon that cannot present one");
  if (c.api_tokens_file.empty() && !c.allow_open && !is_loopback_listen(c.listen))
    throw config_error("LISTEN: refusing to listen on " + c.listen +
                       " without API_TOKENS_FILE: anyone who can reach that address could read and change "
                       "everything. Set API_TOKENS_FILE, listen on loopback (127.0.0.1 or ::1), or set "
                       "ALLOW_OPEN=true to serve an open API on purpose");
}

}  // namespace

// ---- public helpers ------------------------------------------------------------

bool is_valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
  });
}

std::string sanitize_node_id(std::string_view host) {
  std::string out;
  for (unsigned char ch : host) {
    if (out.empty() && !std::isalnum(ch)) continue;
    out += std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-' ? static_cast<char>(ch) : '-';
    if (out.size() == 128) break;
  }
  return out.empty() ? "horao" : out;
}

bool is_loopback_listen(std::string_view listen) {
  if (listen == "localhost") return true;
  const std::string text(listen);
  unsigned char v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, text.c_str(), v6) != 1) return false;
  static const unsigned char loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, loopback, 16) == 0) return true;
  return std::memcmp(v6, mapped_prefix, 12) == 0 && v6[12] == 127;
}

std::optional<peer_url> parse_peer_url(std::string_view url) {
  peer_url out;
  if (url.rfind("ws://", 0) == 0) {
    url.remove_prefix(5);
    out.port = 80;
  } else if (url.rfind("wss://", 0) == 0) {
    url.remove_prefix(6);
    out.tls = true;
    out.port = 443;
  } else {
    return std::nullopt;
  }
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);  // a bare trailing slash is harmless
  if (url.find_first_of("/?#@") != std::string_view::npos) return std::nullopt;
  if (!parse_authority(url, out.host, out.port)) return std::nullopt;
  return out;
}

// ---- parse, describe, help -------------------------------------------------------

config parse_config(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& environment) {
  config c;
  // --help wins over everything else on the command line, even a bad flag.
  if (std::find_if(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; }) !=
      args.end()) {
    c.help = true;
    return c;
  }
  flag_layer flags = parse_flags(args);
  c.check_only = flags.check_only;
  c.env_file = flags.env_file.value_or(".env");

  // Lowest layer first; a higher layer overwrites.
  std::map<std::string, raw_value> values = parse_env_file(c.env_file, flags.env_file.has_value());
  for (const auto& k : keys())
    if (auto it = environment.find(k.name); it != environment.end())
      values[k.name] = {it->second, "environment"};
  for (auto& [name, v] : flags.values) values[name] = std::move(v);

  for (const auto& k : keys()) {
    auto it = values.find(k.name);
    if (it == values.end()) continue;
    const raw_value& raw = it->second;
    try {
      if (raw.value.size() > max_value_bytes)
        throw bad_value{"at most 65536 bytes", std::string("(too long)")};
      k.set(c, raw.value);
    } catch (const bad_value& bad) {
      const std::string shown =
          bad.shown ? *bad.shown : (k.secret ? std::string("(secret not shown)") : quote_value(raw.value));
      throw config_error(std::string(k.name) + ": expected " + bad.expected + ", got " + shown + " (from " +
                         raw.origin + ")");
    }
  }
  if (c.node_id.empty()) c.node_id = sanitize_node_id(host_name());
  check_cross_keys(c);
  return c;
}

std::vector<std::pair<std::string, std::string>> describe(const config& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& k : keys()) out.emplace_back(k.name, k.show(c));
  return out;
}

std::string help_text() {
  std::ostringstream out;
  out << "Usage: horaod [--key=VALUE | --key VALUE]... [--env-file PATH] [--check-config] [--help]\n"
         "\n"
         "horaod keeps a replicated picture of datacenter infrastructure and serves it over HTTP.\n"
         "Every key below can be given as a flag (lower case, '-' for '_', e.g. --sync-delta=60),\n"
         "as an environment variable, or in the .env file. Flags win over the environment, the\n"
         "environment over the .env file, the .env file over the defaults. An unknown flag or an\n"
         "unknown key in the .env file is an error; a bad value stops the daemon (exit status 2).\n"
         "\n"
         "Options:\n"
         "  --env-file PATH   the .env file to read (default ./.env; a missing ./.env is fine,\n"
         "                    a missing file given here is an error)\n"
         "  --check-config    validate the configuration, print it (secrets masked) and exit\n"
         "  --help, -h        print this and exit\n"
         "\n"
         "Keys:\n";
  for (const auto& k : keys()) {
    out << "  " << k.name << " (" << flag_of(k.name) << "), default: " << k.default_text << "\n"
        << "      " << k.help << "\n";
  }
  return out.str();
}

}  // namespace horao::app
