#include "horao/persist/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <charconv>

namespace horao::persist {

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> redis_reply::as_unsigned() const {
  if (kind == type::integer) {
    if (integer < 0) return std::nullopt;
    return static_cast<std::uint64_t>(integer);
  }
  if (kind != type::string) return std::nullopt;
  return parse_unsigned(str);
}

redis_reply copy_reply(const redisReply& r) {
  redis_reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.kind = redis_reply::type::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = redis_reply::type::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.kind = redis_reply::type::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.kind = redis_reply::type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = redis_reply::type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) {
        if (r.element[i])
          out.elements.push_back(copy_reply(*r.element[i]));
        else
          out.elements.emplace_back();
      }
      break;
    default:  // REDIS_REPLY_NIL and anything this hiredis does not know
      out.kind = redis_reply::type::nil;
      break;
  }
  return out;
}

const char* to_string(redis_status s) {
  switch (s) {
    case redis_status::ok:
      return "ok";
    case redis_status::not_connected:
      return "not connected";
    case redis_status::timeout:
      return "timeout";
    case redis_status::connection_lost:
      return "connection lost";
    case redis_status::stopped:
      return "stopped";
  }
  return "unknown";
}

}  // namespace horao::persist
