#pragma once
// The outbound side of a PEERS URL: dials ws:// or wss://, presents a fresh
// peer token on the upgrade, hands the open WebSocket to a peer link, and
// dials again when the link ends, with capped exponential backoff and jitter.
//
// Invariants:
//  * owns itself (shared_from_this in every handler); stop() cancels whatever
//    is in progress and no callback runs after it;
//  * at most one attempt or one link at a time per dialer;
//  * each attempt has a deadline (connect, TLS and upgrade each bounded);
//  * between attempts it waits backoff.next_ms() (reset once a link lived
//    for `stable_after`), and while events.wanted() says no (the peer is
//    already connected by another link, or the URL is this daemon itself) it
//    waits in standby, polling;
//  * wss:// verifies the peer's certificate chain (system trust store plus
//    the replicator's extra CA file) and host name; a failed verification is
//    an error like any other, reported through events.failed.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "horao/replication/backoff.hpp"
#include "horao/replication/ws_link.hpp"

namespace horao::replication {

struct dialer_options {
  std::string url;
  std::string node_id;
  std::string secret;
  std::shared_ptr<boost::asio::ssl::context> tls;  // required for wss://
  bool tls_verify = true;                          // false: tests only
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{5'000};
  std::chrono::milliseconds standby_poll{500};
  std::chrono::milliseconds stable_after{10'000};
  link_options link;
};

struct dialer_events {
  std::function<bool()> wanted;                        // false: wait in standby
  std::function<void()> attempt;                       // an attempt starts (after the first: a reconnect)
  std::function<void(std::string_view error)> failed;  // an attempt failed, or a link ended abnormally
};

class peer_dialer : public std::enable_shared_from_this<peer_dialer> {
 public:
  peer_dialer(boost::asio::io_context& io, dialer_options options, std::weak_ptr<link_handler> handler,
              dialer_events events);

  void start();
  void stop();
  const std::string& url() const { return options_.url; }
  std::shared_ptr<peer_link> link() const { return link_.lock(); }

 private:
  using tcp = boost::asio::ip::tcp;

  void schedule(std::chrono::milliseconds delay);
  void on_timer(const boost::system::error_code& ec);
  void dial();
  void on_resolve(std::uint64_t attempt, const boost::system::error_code& ec,
                  tcp::resolver::results_type results);
  void on_connect(std::uint64_t attempt, const boost::system::error_code& ec, const tcp::endpoint& endpoint);
  void on_tls(std::uint64_t attempt, const boost::system::error_code& ec);
  void do_upgrade(std::uint64_t attempt);
  void on_upgrade(std::uint64_t attempt, const boost::system::error_code& ec);
  void finish_upgrade(std::uint64_t attempt, const boost::system::error_code& ec);
  void on_link_closed(std::string_view reason);
  void fail(std::uint64_t attempt, std::string error);
  void retry_later();

  boost::asio::io_context& io_;
  dialer_options options_;
  std::weak_ptr<link_handler> handler_;
  dialer_events events_;
  bool tls_ = false;
  std::string host_;
  std::string port_;
  std::string host_header_;

  tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<plain_ws> plain_;
  std::unique_ptr<tls_ws> secure_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::string remote_;
  std::string nonce_;
  std::weak_ptr<peer_link> link_;
  std::chrono::steady_clock::time_point link_started_;
  backoff backoff_;
  std::uint64_t attempt_ = 0;
  std::uint64_t attempts_made_ = 0;
  bool stopped_ = false;
  bool bad_url_ = false;
};

}  // namespace horao::replication
