#pragma once
// Where Redis is and how to log in: REDIS_URL parsed once at start.
//
//   redis://[user:password@]host[:port][/db]     (user and password percent-decoded)
//   redis://:password@host                        (password only: AUTH password)
//   unix://[user:password@]/path/to/redis.sock[?db=N]
//
// Invariants: parse_redis_url() either returns a complete endpoint (host or
// path non-empty, port 1..65535, db 0..1000000) or nullopt with a message
// naming what is wrong; it never echoes the password. redacted() is the only
// form that may be logged: the password is replaced by "***".
// rediss:// (TLS) is refused: hiredis 0.14 has no TLS.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace horao::persist {

struct redis_endpoint {
  enum class transport { tcp, unix_socket };
  transport kind = transport::tcp;
  std::string host = "127.0.0.1";  // tcp: name, IPv4 or IPv6 (without brackets)
  std::uint16_t port = 6379;       // tcp
  std::string path;                // unix_socket
  std::string user;                // empty: AUTH password (the default user)
  std::string password;            // empty: no AUTH
  int db = 0;                      // SELECT db when non-zero

  std::string redacted() const;
};

std::optional<redis_endpoint> parse_redis_url(std::string_view url, std::string* error = nullptr);

}  // namespace horao::persist
