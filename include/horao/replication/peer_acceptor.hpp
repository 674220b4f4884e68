#pragma once
// GET /v1/peer: the inbound side of peer links, plugged into the net layer's
// upgrade registry (net/upgrade_registry.hpp).
//
// Invariants: the upgrade request's token (header X-Horao-Peer-Token) is
// checked before anything else happens; a missing, wrong, expired or
// replayed token, or a daemon without PEER_SECRET, is answered 401 with the
// API's JSON error {"error":{"code":"unauthorized",...}} and the connection
// closes: nothing changes in the store and no link is made. Before the
// replicator started (recovery still running) or once it stopped, upgrades
// get 503 {"error":{"code":"unavailable",...}} (the dialer retries). An accepted
// upgrade becomes a peer link whose node id is the token's. The WebSocket
// handshake has a deadline (handshake_timeout). Handlers hold the replicator
// by weak_ptr; once it is gone, upgrades are refused.

#include <memory>

#include "horao/net/upgrade_registry.hpp"

namespace horao::replication {

class replicator;

net::upgrade_handler make_peer_upgrade_handler(std::weak_ptr<replicator> replicator);

// The path the handler belongs on.
inline constexpr const char* peer_upgrade_path = "/v1/peer";

}  // namespace horao::replication
