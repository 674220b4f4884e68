#include "horao/replication/peer_dialer.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "horao/app/config.hpp"
#include "horao/app/logging.hpp"
#include "horao/replication/peer_token.hpp"

namespace horao::replication {
namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::string_view peer_path = "/v1/peer";

}  // namespace

peer_dialer::peer_dialer(asio::io_context& io, dialer_options options, std::weak_ptr<link_handler> handler,
                         dialer_events events)
    : io_(io),
      options_(std::move(options)),
      handler_(std::move(handler)),
      events_(std::move(events)),
      resolver_(io),
      timer_(io),
      backoff_(options_.reconnect_initial.count(), options_.reconnect_max.count()) {
  const auto parsed = app::parse_peer_url(options_.url);
  if (!parsed) {
    bad_url_ = true;
    return;
  }
  tls_ = parsed->tls;
  host_ = parsed->host;
  port_ = std::to_string(parsed->port);
  const bool v6 = host_.find(':') != std::string::npos;
  host_header_ = (v6 ? "[" + host_ + "]" : host_) + ":" + port_;
}

void peer_dialer::start() {
  if (bad_url_) {
    if (events_.failed) events_.failed("not a ws:// or wss:// URL");
    return;
  }
  schedule(std::chrono::milliseconds(0));
}

void peer_dialer::stop() {
  if (stopped_) return;
  stopped_ = true;
  ++attempt_;
  timer_.cancel();
  resolver_.cancel();
  boost::system::error_code ignored;
  if (plain_) beast::get_lowest_layer(*plain_).close();
  if (secure_) beast::get_lowest_layer(*secure_).close();
  if (auto link = link_.lock()) {
    link->on_closed_hook = nullptr;
    link->close("shutting down");
  }
}

void peer_dialer::schedule(std::chrono::milliseconds delay) {
  if (stopped_) return;
  timer_.expires_after(delay);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) { self->on_timer(ec); });
}

void peer_dialer::on_timer(const boost::system::error_code& ec) {
  if (ec || stopped_) return;
  try {
    if (events_.wanted && !events_.wanted()) return schedule(options_.standby_poll);
    dial();
  } catch (const std::exception& e) {
    // Nothing may escape into the event loop; try again later.
    app::log_error("replication: unexpected exception dialing a peer",
                   {{"url", options_.url}, {"error", e.what()}});
    retry_later();
  }
}

void peer_dialer::dial() {
  const std::uint64_t attempt = ++attempt_;
  if (events_.attempt && attempts_made_ > 0) events_.attempt();
  ++attempts_made_;
  plain_.reset();
  secure_.reset();
  nonce_ = random_nonce();
  resolver_.async_resolve(host_, port_,
                          [self = shared_from_this(), attempt](const boost::system::error_code& ec,
                                                               tcp::resolver::results_type results) {
                            self->on_resolve(attempt, ec, std::move(results));
                          });
}

void peer_dialer::on_resolve(std::uint64_t attempt, const boost::system::error_code& ec,
                             tcp::resolver::results_type results) {
  if (attempt != attempt_ || stopped_) return;
  if (ec) return fail(attempt, "resolve " + host_ + ": " + ec.message());
  auto on_connected = [self = shared_from_this(), attempt](const boost::system::error_code& e,
                                                           const tcp::endpoint& endpoint) {
    self->on_connect(attempt, e, endpoint);
  };
  if (tls_) {
    if (!options_.tls) return fail(attempt, "wss:// needs a TLS client context");
    secure_ = std::make_unique<tls_ws>(io_, *options_.tls);
    auto& tcp_layer = beast::get_lowest_layer(*secure_);
    tcp_layer.expires_after(options_.connect_timeout);
    tcp_layer.async_connect(results, std::move(on_connected));
  } else {
    plain_ = std::make_unique<plain_ws>(io_);
    auto& tcp_layer = beast::get_lowest_layer(*plain_);
    tcp_layer.expires_after(options_.connect_timeout);
    tcp_layer.async_connect(results, std::move(on_connected));
  }
}

void peer_dialer::on_connect(std::uint64_t attempt, const boost::system::error_code& ec,
                             const tcp::endpoint& endpoint) {
  if (attempt != attempt_ || stopped_) return;
  if (ec) return fail(attempt, "connect " + host_header_ + ": " + ec.message());
  remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  if (!tls_) return do_upgrade(attempt);
  auto& stream = secure_->next_layer();
  // SNI and host name verification (a literal IP is checked against the
  // certificate's IP addresses).
  if (!SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str())) {
    return fail(attempt, "TLS: cannot set the server name");
  }
  if (options_.tls_verify) {
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(host_));
  } else {
    stream.set_verify_mode(ssl::verify_none);
  }
  beast::get_lowest_layer(*secure_).expires_after(options_.connect_timeout);
  stream.async_handshake(
      ssl::stream_base::client,
      [self = shared_from_this(), attempt](const boost::system::error_code& e) { self->on_tls(attempt, e); });
}

void peer_dialer::on_tls(std::uint64_t attempt, const boost::system::error_code& ec) {
  if (attempt != attempt_ || stopped_) return;
  if (ec) return fail(attempt, "TLS handshake with " + host_header_ + ": " + ec.message());
  do_upgrade(attempt);
}

void peer_dialer::do_upgrade(std::uint64_t attempt) {
  const std::string token = make_peer_token(options_.secret, options_.node_id, unix_now(), nonce_);
  auto decorate = [token](websocket::request_type& req) {
    req.set(http::field::user_agent, "horaod");
    req.set(peer_token_header, token);
  };
  response_ = {};
  auto handler = [self = shared_from_this(), attempt](const boost::system::error_code& e) {
    self->on_upgrade(attempt, e);
  };
  if (tls_) {
    beast::get_lowest_layer(*secure_).expires_never();
    configure(*secure_, options_.link);
    secure_->set_option(websocket::stream_base::decorator(decorate));
    secure_->async_handshake(response_, host_header_, peer_path, std::move(handler));
  } else {
    beast::get_lowest_layer(*plain_).expires_never();
    configure(*plain_, options_.link);
    plain_->set_option(websocket::stream_base::decorator(decorate));
    plain_->async_handshake(response_, host_header_, peer_path, std::move(handler));
  }
}

void peer_dialer::on_upgrade(std::uint64_t attempt, const boost::system::error_code& ec) {
  if (attempt != attempt_ || stopped_) return;
  try {
    finish_upgrade(attempt, ec);
  } catch (const std::exception& e) {
    app::log_error("replication: unexpected exception after an upgrade",
                   {{"url", options_.url}, {"error", e.what()}});
    fail(attempt, std::string("internal error: ") + e.what());
  }
}

void peer_dialer::finish_upgrade(std::uint64_t attempt, const boost::system::error_code& ec) {
  if (ec) {
    std::string why = "upgrade " + options_.url + std::string(peer_path) + ": ";
    if (response_.result_int() != 0 && response_.result_int() != 101) {
      why += "HTTP " + std::to_string(response_.result_int());
      if (response_.result_int() == 401) why += " (the peer refused our token: is PEER_SECRET the same?)";
      if (response_.result_int() == 503) why += " (the peer is starting or stopping)";
      if (response_.result_int() == 404) why += " (no peer endpoint there: is it a horaod?)";
    } else {
      why += ec.message();
    }
    return fail(attempt, why);
  }
  link_identity identity{remote_, options_.url, {}, nonce_};
  auto hook = [weak = weak_from_this()](std::string_view reason) {
    if (auto self = weak.lock()) self->on_link_closed(reason);
  };
  link_started_ = std::chrono::steady_clock::now();
  std::shared_ptr<peer_link> link;
  if (tls_) {
    link = start_link(std::move(*secure_), peer_link::direction::outbound, std::move(identity), handler_,
                      options_.link, hook);
    secure_.reset();
  } else {
    link = start_link(std::move(*plain_), peer_link::direction::outbound, std::move(identity), handler_,
                      options_.link, hook);
    plain_.reset();
  }
  link_ = link;
}

void peer_dialer::on_link_closed(std::string_view reason) {
  link_.reset();
  if (stopped_) return;
  if (std::chrono::steady_clock::now() - link_started_ >= options_.stable_after) backoff_.reset();
  (void)reason;  // the replicator reports the reason (it knows which closes are errors)
  retry_later();
}

void peer_dialer::fail(std::uint64_t attempt, std::string error) {
  if (attempt != attempt_ || stopped_) return;
  plain_.reset();
  secure_.reset();
  if (events_.failed) events_.failed(error);
  retry_later();
}

void peer_dialer::retry_later() {
  schedule(std::chrono::milliseconds(backoff_.next_ms()));
}

}  // namespace horao::replication
