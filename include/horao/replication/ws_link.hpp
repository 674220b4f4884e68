#pragma once
// Peer links over Beast WebSocket streams, plain or TLS: the only place that
// instantiates the WebSocket machinery for replication (the dialer and the
// inbound acceptor hand their finished handshakes here).
//
// Invariants: see peer_link.hpp. In addition: the stream's own deadline is
// cleared and WebSocket timeouts take over (handshake/close deadline, and an
// idle deadline with keep-alive pings, so a paused or vanished peer is
// noticed within `idle_timeout`); the link starts on the stream's executor
// (posted, so the caller can finish wiring hooks first).

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "horao/replication/peer_link.hpp"

namespace horao::replication {

using plain_ws = boost::beast::websocket::stream<boost::beast::tcp_stream>;
using tls_ws = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

struct link_identity {
  std::string remote_address;
  std::string url;          // outbound
  std::string token_node;   // inbound
  std::string token_nonce;  // both
};

// Starts a link over a WebSocket whose handshake is complete.
std::shared_ptr<peer_link> start_link(plain_ws ws, peer_link::direction dir, link_identity identity,
                                      std::weak_ptr<link_handler> handler, const link_options& options,
                                      std::function<void(std::string_view)> closed_hook = {});
std::shared_ptr<peer_link> start_link(tls_ws ws, peer_link::direction dir, link_identity identity,
                                      std::weak_ptr<link_handler> handler, const link_options& options,
                                      std::function<void(std::string_view)> closed_hook = {});

// Sets read_message_max, binary frames and the WebSocket timeouts (used by
// the acceptor before the handshake, too).
void configure(plain_ws& ws, const link_options& options);
void configure(tls_ws& ws, const link_options& options);

}  // namespace horao::replication
