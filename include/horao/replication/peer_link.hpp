#pragma once
// One authenticated WebSocket to a peer daemon, whichever side dialed it
// (DESIGN §5), seen without Beast: the replicator sends frames and gets
// frames, and never learns which stream type (plain or TLS) is underneath.
// ws_link.hpp makes them.
//
// Invariants:
//  * a link owns itself (shared_ptr, handlers bound to shared_from_this());
//    the handler and registries hold it by weak_ptr or for the length of a
//    call;
//  * one write in flight; frames queue behind it up to `max_queued_bytes`,
//    beyond which the link closes ("send queue full") instead of buffering;
//  * every frame read is at most max_frame_bytes (read_message_max), binary;
//  * on_link_closed is called exactly once, after which the link calls
//    nothing; send() and close() on a closed link do nothing;
//  * every handler call happens on the link's executor (the store's loop),
//    and no exception escapes a completion handler.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "horao/replication/protocol.hpp"

namespace horao::replication {

class peer_link;

// Deadlines and caps of one link.
struct link_options {
  std::chrono::milliseconds handshake_timeout{10'000};  // also bounds the close handshake
  std::chrono::milliseconds idle_timeout{20'000};       // with keep-alive pings at half of it
  std::size_t max_queued_bytes = (4u << 20) + max_frame_bytes + (2u << 20);
};

class link_handler {
 public:
  virtual ~link_handler() = default;
  // The WebSocket handshake is done; frames may be sent.
  virtual void on_link_open(const std::shared_ptr<peer_link>& link) = 0;
  // One binary frame; `bytes` is valid during the call only.
  virtual void on_link_frame(const std::shared_ptr<peer_link>& link, std::string_view bytes) = 0;
  // The send queue became empty.
  virtual void on_link_drained(const std::shared_ptr<peer_link>& link) = 0;
  virtual void on_link_closed(const std::shared_ptr<peer_link>& link, std::string_view reason) = 0;
};

class peer_link : public std::enable_shared_from_this<peer_link> {
 public:
  enum class direction { outbound, inbound };
  static constexpr std::size_t default_max_queued_bytes = (4u << 20) + max_frame_bytes + (2u << 20);

  virtual ~peer_link() = default;

  virtual void send(frame bytes) = 0;
  // Sends a close frame with `reason` (and closes the socket after it).
  virtual void close(std::string_view reason) = 0;
  virtual std::size_t queued_bytes() const = 0;
  virtual bool open() const = 0;

  direction dir() const { return dir_; }
  bool outbound() const { return dir_ == direction::outbound; }
  std::uint64_t id() const { return id_; }
  const std::string& remote_address() const { return remote_address_; }
  // Outbound: the PEERS URL dialed. Inbound: empty.
  const std::string& url() const { return url_; }
  // Inbound: the node id the upgrade's token authenticated. Outbound: empty.
  const std::string& token_node() const { return token_node_; }
  // The nonce of the upgrade's token: the inbound side proves in its hello
  // that it knows the secret by a MAC over this nonce.
  const std::string& token_nonce() const { return token_nonce_; }

  // Called once with the close reason, after the handler (the dialer's hook).
  std::function<void(std::string_view reason)> on_closed_hook;

 protected:
  peer_link(direction dir, std::string remote_address, std::string url, std::string token_node,
            std::string token_nonce);

 private:
  direction dir_;
  std::uint64_t id_;
  std::string remote_address_;
  std::string url_;
  std::string token_node_;
  std::string token_nonce_;
};

}  // namespace horao::replication
