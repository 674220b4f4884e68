#pragma once
// The bytes of one HTTP/1.x answer, head and body in one buffer, so that a
// session sends it with a single write (Beast's serializer cost a composed
// operation and a buffer-sequence walk per response).
//
// Invariants: the bytes are those Beast's serializer wrote for the same
// message, in this order: the status line with Beast's reason phrase,
// `Server: horaod`, the handler's extra headers in their order, then, except
// for 204 and 304 (RFC 9110: neither body nor length), Content-Type when set
// and Content-Length, then `Connection: close` when an HTTP/1.1 connection
// closes or `Connection: keep-alive` when an HTTP/1.0 one stays open. A HEAD
// answer carries the length the body would have, and no body. An extra header
// that is not writable (see writable_header) is left out.

#include <string>
#include <string_view>

#include "horao/api/http.hpp"

namespace horao::net {

// How the answer is framed: taken from the request and the session's state.
struct response_framing {
  unsigned version = 11;  // 10 or 11
  bool keep_alive = true;
  bool head = false;  // the request was HEAD: no body bytes
};

// A token name and a value without CR, LF or NUL; not one of the headers the
// session sets itself (Server, Content-Type, Content-Length, Connection,
// Transfer-Encoding), which a handler could otherwise duplicate.
bool writable_header(std::string_view name, std::string_view value);

// Appends the whole answer to `out` (which a session reuses between answers).
void append_response(std::string& out, const api::response& r, const response_framing& framing);

}  // namespace horao::net
