#pragma once
// A Redis reply as an owned value, copied out of hiredis's reply before the
// callback returns, so that handlers run later on the event loop without
// touching hiredis memory; and the outcome of a pipeline of commands.
//
// Invariants: a redis_result is `ok` exactly when every command of the
// pipeline got a reply, and then `replies` has one element per command, in
// order. Error *replies* (-ERR ..., -WRONGTYPE ...) are replies, not transport
// failures: callers check reply.is_error(). Replies come from the network and
// are untrusted: callers check kinds and shapes before using them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace horao::persist {

struct redis_reply {
  enum class type { nil, string, status, error, integer, array };
  type kind = type::nil;
  std::string str;  // string, status and error
  long long integer = 0;
  std::vector<redis_reply> elements;  // array

  bool is_nil() const { return kind == type::nil; }
  bool is_error() const { return kind == type::error; }
  bool is_string() const { return kind == type::string; }
  bool is_array() const { return kind == type::array; }
  bool is_status(std::string_view s) const { return kind == type::status && str == s; }
  // A string reply holding a decimal integer (as Redis returns hash values).
  std::optional<std::uint64_t> as_unsigned() const;
};

// Copies a hiredis reply (depth is bounded by hiredis's reader, 9 levels).
redis_reply copy_reply(const redisReply& r);

// Parses a decimal unsigned integer, digits only, no sign, no overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

enum class redis_status {
  ok,
  not_connected,    // refused at once: the connection is not ready
  timeout,          // this pipeline had no complete reply before its deadline
  connection_lost,  // the connection went down while the pipeline waited
  stopped,          // the connection was stopped (shutdown)
};

const char* to_string(redis_status s);

struct redis_result {
  redis_status status = redis_status::ok;
  std::string message;  // why, when not ok
  std::vector<redis_reply> replies;

  bool ok() const { return status == redis_status::ok; }
};

}  // namespace horao::persist
