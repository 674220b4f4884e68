#pragma once
// One HTTP/1.1 connection, plain or over TLS: reads requests, hands each to
// api::router as an api::request, writes the api::response back, and hands
// WebSocket upgrades to the upgrade_registry.
//
// Invariants:
//  * every read has a deadline and a cap: `idle_timeout` while waiting for the
//    first byte of a request, `request_timeout` from there until the request
//    is read (TLS handshake included), `header_bytes` and `body_bytes`;
//  * at most one request is handled and one response written at a time;
//    pipelined requests are answered one after the other, in order;
//  * every answer carries Server and Content-Length; refusals are the JSON
//    errors of api::errors (413 body_too_large, 431 header_too_large, 400
//    bad_request for a malformed request), after which the connection closes;
//  * the router's responder keeps the session alive and may be called later,
//    always from the io_context's one thread (it continues the session
//    directly, without a hop through the executor); if the connection died
//    meanwhile the answer is dropped quietly;
//  * an answer is written as one pre-serialised buffer (net/response_text),
//    on a plain socket sent at once and only the rest asynchronously;
//  * no exception escapes a completion handler;
//  * the session registers in `connections` and, on stop(), finishes the
//    exchange in progress (answering with Connection: close) or closes at
//    once when idle.
// The session itself lives in http_session.cpp, the one translation unit that
// instantiates Beast's HTTP machinery.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>

namespace boost::asio::ssl {
class context;
}
namespace horao::api {
class router;
}
namespace horao::app {
class metric_registry;
}

namespace horao::net {

class connection_set;
class upgrade_registry;

struct http_limits {
  std::size_t header_bytes = 16 * 1024;
  std::size_t body_bytes = 1 << 20;  // MAX_BODY_BYTES
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};
  // How long a closing connection waits for the client's end of the stream,
  // so that unread request bytes do not turn the close into a reset that
  // destroys the last response before the client read it.
  std::chrono::milliseconds linger_timeout{2'000};
};

// Shared by every session; outlives them while the io_context runs.
struct http_context {
  api::router& router;
  const upgrade_registry& upgrades;
  connection_set& connections;
  app::metric_registry& metrics;
  http_limits limits;
  boost::asio::ssl::context* tls = nullptr;  // serve TLS when set
};

// The metric families the sessions write (protocol-level refusals that never
// reach the router).
void describe_http_metrics(app::metric_registry& metrics);

// Takes over an accepted socket: starts a plain or a TLS session.
void start_http_session(boost::asio::ip::tcp::socket socket, http_context& context);

}  // namespace horao::net
