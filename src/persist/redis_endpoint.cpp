#include "horao/persist/redis_endpoint.hpp"

#include <charconv>

namespace horao::persist {
namespace {

bool fail(std::string* error, std::string message) {
  if (error) *error = "REDIS_URL: " + std::move(message);
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool parse_int(std::string_view text, long long min, long long max, long long& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= min && out <= max;
}

// "user:password" (either may be empty, ":password" is the usual form).
bool parse_userinfo(std::string_view info, redis_endpoint& ep, std::string* error) {
  const auto colon = info.find(':');
  if (colon == std::string_view::npos)
    return fail(error,
                "a user without a password; write redis://user:password@host or redis://:password@host");
  if (!percent_decode(info.substr(0, colon), ep.user) || !percent_decode(info.substr(colon + 1), ep.password))
    return fail(error, "bad percent-encoding in the user or password");
  if (ep.password.empty()) return fail(error, "empty password after ':'");
  return true;
}

bool parse_db(std::string_view text, redis_endpoint& ep, std::string* error) {
  long long db = 0;
  if (!parse_int(text, 0, 1'000'000, db)) return fail(error, "the database must be a number 0..1000000");
  ep.db = static_cast<int>(db);
  return true;
}

}  // namespace

std::string redis_endpoint::redacted() const {
  std::string out = kind == transport::tcp ? "redis://" : "unix://";
  if (!user.empty() || !password.empty()) {
    out += user;
    if (!password.empty()) out += ":***";
    out += '@';
  }
  if (kind == transport::tcp) {
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out += ':' + std::to_string(port) + '/' + std::to_string(db);
  } else {
    out += path;
    if (db != 0) out += "?db=" + std::to_string(db);
  }
  return out;
}

std::optional<redis_endpoint> parse_redis_url(std::string_view url, std::string* error) {
  redis_endpoint ep;
  std::string_view rest;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("unix://")) {
    ep.kind = redis_endpoint::transport::unix_socket;
    rest = url.substr(7);
  } else if (url.starts_with("rediss://")) {
    fail(error,
         "rediss:// (TLS) is not supported by this build (hiredis 0.14 has no TLS); "
         "use redis://, unix://, or a local TLS tunnel");
    return std::nullopt;
  } else {
    fail(error, "expected redis://[user:password@]host[:port][/db] or unix:///path[?db=N]");
    return std::nullopt;
  }

  // The last '@' ends the user information, so an unencoded '@' in the
  // password still works; '/', '?' and '#' in a password must be encoded.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    if (!parse_userinfo(rest.substr(0, at), ep, error)) return std::nullopt;
    rest = rest.substr(at + 1);
  }

  if (ep.kind == redis_endpoint::transport::unix_socket) {
    const auto query = rest.find('?');
    ep.path = std::string(rest.substr(0, query));
    if (ep.path.empty() || ep.path.front() != '/') {
      fail(error, "a unix socket needs an absolute path: unix:///run/redis/redis.sock");
      return std::nullopt;
    }
    if (query != std::string_view::npos) {
      const auto q = rest.substr(query + 1);
      if (!q.starts_with("db=")) {
        fail(error, "the only query parameter of unix:// is db=N");
        return std::nullopt;
      }
      if (!parse_db(q.substr(3), ep, error)) return std::nullopt;
    }
    return ep;
  }

  const auto slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (hostport.find_first_of("?#") != std::string_view::npos) {
    fail(error, "query parameters are not supported in redis:// URLs");
    return std::nullopt;
  }
  std::string_view port_text;
  if (hostport.starts_with('[')) {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) {
      fail(error, "unterminated IPv6 address");
      return std::nullopt;
    }
    ep.host = std::string(hostport.substr(1, close - 1));
    const auto after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        fail(error, "expected ':port' after the IPv6 address");
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        fail(error, "empty port");
        return std::nullopt;
      }
    }
  } else {
    const auto colon = hostport.find(':');
    ep.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) {
        fail(error, "empty port");
        return std::nullopt;
      }
    }
  }
  if (ep.host.empty()) {
    fail(error, "no host");
    return std::nullopt;
  }
  if (!port_text.empty()) {
    long long port = 0;
    if (!parse_int(port_text, 1, 65535, port)) {
      fail(error, "the port must be a number 1..65535");
      return std::nullopt;
    }
    ep.port = static_cast<std::uint16_t>(port);
  }
  if (slash != std::string_view::npos) {
    const auto db = rest.substr(slash + 1);
    if (!db.empty() && !parse_db(db, ep, error)) return std::nullopt;
  }
  return ep;
}

}  // namespace horao::persist
