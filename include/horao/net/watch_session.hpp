#pragma once
// GET /v1/watch over WebSocket (ws:// or wss://): the upgrade handler and the
// session that writes an api::watch_feed to its socket.
//
// Invariants:
//  * the upgrade request passes the router's checks in the router's order
//    (api::router::admit: 401, 403, 400 bad_query, 503 while loading) and
//    the watch's own (api::parse_watch_request: 400, 403, 410) before
//    anything is upgraded; a refusal is the API's JSON error over HTTP, after
//    which the connection closes. Refusals and completed upgrades (101) are
//    counted in horao_http_requests_total{route="/v1/watch"}; a handshake
//    Beast itself refuses (no Sec-WebSocket-Key, ...) is not;
//  * one write in flight; the feed bounds what waits behind it
//    (api::watch_queue_max_bytes): a watcher that falls that far behind is
//    closed with 1008 and the reason "watcher too slow: N bytes queued
//    (limit M)", its queue dropped at once;
//  * every read has a deadline and a cap: the handshake `handshake_timeout`;
//    then WebSocket pings after half of `idle_timeout` without a frame from
//    the client, and the connection is dropped when a whole `idle_timeout`
//    passes without one (a dead watcher is reaped); client messages are read
//    and ignored, at most `read_message_max` bytes each;
//  * a close (slow, resync 4410, shutdown 1001) waits at most `close_timeout`
//    for the close handshake (a client that does not read cannot receive the
//    close frame), then the socket is closed;
//  * sessions register in the connection_set: stop() closes the watcher with
//    1001 "daemon shutting down"; during the handshake it drops the socket;
//  * the session holds the feed, never the hub (api::watch_hub detaches its
//    feeds when it goes), so a session may outlive the daemon's pieces while
//    the io_context is torn down.
// Beast's WebSocket machinery for watchers is instantiated in
// watch_session.cpp only.

#include <chrono>
#include <cstddef>
#include <memory>

#include "horao/net/upgrade_registry.hpp"

namespace horao::api {
class router;
class watch_hub;
}  // namespace horao::api
namespace horao::app {
class metric_registry;
}

namespace horao::net {

class connection_set;

struct watch_settings {
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds close_timeout{5'000};
  std::size_t read_message_max = 4096;
};

// Everything referenced outlives the upgrade registry holding the handler;
// the hub is held weakly (upgrades are refused 503 once it is gone).
upgrade_handler make_watch_upgrade_handler(const api::router& router, std::weak_ptr<api::watch_hub> hub,
                                           connection_set& connections, app::metric_registry& metrics,
                                           watch_settings settings = {});

// The path the handler belongs on.
inline constexpr const char* watch_upgrade_path = "/v1/watch";

}  // namespace horao::net
