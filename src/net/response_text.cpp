#include "horao/net/response_text.hpp"

#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>

namespace horao::net {
namespace {

namespace http = boost::beast::http;

// RFC 9110 token characters, as a table: checked for every header of every answer.
constexpr std::array<bool, 256> token_chars = [] {
  std::array<bool, 256> t{};
  for (int c = 0x21; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("()<>@,;:\\\"/[]?={}")) t[static_cast<unsigned char>(c)] = false;
  return t;
}();

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (!token_chars[c]) return false;
  return true;
}

bool valid_header_value(std::string_view value) {
  for (const char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

bool set_by_session(std::string_view name) {
  for (std::string_view own : {"Server", "Content-Type", "Content-Length", "Connection", "Transfer-Encoding"})
    if (boost::beast::iequals(name, own)) return true;
  return false;
}

void append_number(std::string& out, std::size_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, end);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

bool writable_header(std::string_view name, std::string_view value) {
  return valid_header_name(name) && valid_header_value(value) && !set_by_session(name);
}

void append_response(std::string& out, const api::response& r, const response_framing& framing) {
  const bool with_body = r.status != 204 && r.status != 304;
  std::size_t size = 128 + r.content_type.size() + (with_body && !framing.head ? r.body.size() : 0);
  for (const auto& [name, value] : r.headers) size += name.size() + value.size() + 4;
  out.reserve(out.size() + size);

  out += framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_number(out, static_cast<std::size_t>(r.status));
  out += ' ';
  const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
  out.append(reason.data(), reason.size());
  out += "\r\nServer: horaod\r\n";
  for (const auto& [name, value] : r.headers)
    if (writable_header(name, value)) append_header(out, name, value);
  if (with_body) {
    if (!r.content_type.empty()) append_header(out, "Content-Type", r.content_type);
    out += "Content-Length: ";
    append_number(out, r.body.size());
    out += "\r\n";
  }
  if (framing.version == 10 && framing.keep_alive) out += "Connection: keep-alive\r\n";
  if (framing.version != 10 && !framing.keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (with_body && !framing.head) out += r.body;
}

}  // namespace horao::net
