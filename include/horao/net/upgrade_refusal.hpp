#pragma once
// Answering a WebSocket upgrade request with an HTTP error instead of the
// upgrade, for upgrade handlers (upgrade_registry.hpp) that refuse one.
//
// Invariants: the answer is the api::response given (status, JSON body,
// extra headers such as WWW-Authenticate) with Server: horaod,
// Content-Length and Connection: close; writing it has a deadline
// (refusal_timeout), after which, or once written, the connection closes.
// The refusal owns the stream until then.

#include <chrono>

#include "horao/api/http.hpp"
#include "horao/net/upgrade_registry.hpp"

namespace horao::net {

inline constexpr std::chrono::seconds refusal_timeout{5};

void refuse_upgrade(plain_stream&& stream, unsigned http_version, api::response answer);
void refuse_upgrade(tls_stream&& stream, unsigned http_version, api::response answer);

}  // namespace horao::net
