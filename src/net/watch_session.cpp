// The /v1/watch session, plain and TLS, after Beast's websocket server
// examples and replication/ws_link.cpp: one class template over the stream.
#include "horao/net/watch_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <functional>
#include <string>

#include "horao/api/router.hpp"
#include "horao/api/watch.hpp"
#include "horao/api/watch_hub.hpp"
#include "horao/app/logging.hpp"
#include "horao/app/metrics.hpp"
#include "horao/net/connections.hpp"
#include "horao/net/upgrade_refusal.hpp"

namespace horao::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using error_code = beast::error_code;

// A private-use close code (RFC 6455 §7.4.2): the change log no longer
// reaches back to what this watcher has seen; list again (like HTTP 410).
constexpr std::uint16_t close_resync_required = 4410;

// A close frame's reason is at most 123 bytes.
std::string close_text(std::string_view reason) {
  return std::string(reason.substr(0, 120));
}

template <class Stream>
class watch_session final : public connection, public std::enable_shared_from_this<watch_session<Stream>> {
 public:
  watch_session(Stream&& stream, std::unique_ptr<api::watch_feed> feed, connection_set& connections,
                std::function<void()> upgraded, const watch_settings& settings)
      : ws_(std::move(stream)),
        close_timer_(ws_.get_executor()),
        feed_(std::move(feed)),
        connections_(connections),
        upgraded_(std::move(upgraded)),
        settings_(settings) {}

  void run(upgrade_request&& request) {
    // From here WebSocket timeouts replace the TCP stream's deadline.
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = settings_.handshake_timeout;
    t.idle_timeout = settings_.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(settings_.read_message_max);
    ws_.text(true);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "horaod"); }));
    if (!connections_.add(this->weak_from_this())) return;  // shutting down: the socket closes with us
    std::weak_ptr<watch_session> weak = this->shared_from_this();
    feed_->on_wake([weak] {
      if (auto self = weak.lock()) self->schedule_pump();
    });
    auto req = std::make_shared<upgrade_request>(std::move(request));
    ws_.async_accept(*req, [self = this->shared_from_this(), req](error_code ec) { self->on_accept(ec); });
  }

  void stop() override {
    asio::dispatch(ws_.get_executor(), [self = this->shared_from_this()] { self->on_stop(); });
  }

 private:
  template <class Fn>
  auto bind(Fn fn) {
    return beast::bind_front_handler(fn, this->shared_from_this());
  }

  void on_accept(error_code ec) {
    if (ec) {
      app::log_debug("watch: WebSocket handshake failed", {{"error", ec.message()}});
      return finish();
    }
    open_ = true;
    upgraded_();
    if (stopping_) return close(websocket::close_code::going_away, "daemon shutting down");
    do_read();
    pump();
  }

  // ---- reading: control frames (pongs, close); client messages are ignored ----

  void do_read() { ws_.async_read(read_buffer_, bind(&watch_session::on_read)); }

  void on_read(error_code ec, std::size_t) {
    if (ec) {
      if (ec == beast::error::timeout)
        app::log_debug("watch: watcher unresponsive, dropped", {{"idle_ms", settings_.idle_timeout.count()}});
      return finish();  // closed (by either side), timed out, or broken
    }
    read_buffer_.consume(read_buffer_.size());
    do_read();
  }

  // ---- writing the feed ----

  // Called from inside a store change: only schedules.
  void schedule_pump() {
    if (pump_scheduled_) return;
    pump_scheduled_ = true;
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
      self->pump_scheduled_ = false;
      self->pump();
    });
  }

  void pump() {
    if (!open_ || closing_ || finished_) return;
    // An ended feed closes now, even with a write in flight: Beast holds the
    // close frame back until that write completes, and close_timeout bounds
    // the wait (a client that stopped reading never completes it).
    if (end_if_ended()) return;
    if (writing_) return;
    in_flight_ = feed_->next();
    if (!in_flight_) {
      if (end_if_ended()) return;
      // A replay chunk that held nothing this watcher may see: go on after
      // whatever else the loop has to do.
      if (feed_->replaying()) schedule_pump();
      return;
    }
    writing_ = true;
    ws_.async_write(asio::buffer(*in_flight_), bind(&watch_session::on_write));
  }

  void on_write(error_code ec, std::size_t) {
    writing_ = false;
    in_flight_.reset();
    if (ec) return finish();  // the read side sees the same failure
    pump();
  }

  bool end_if_ended() {
    using end = api::watch_feed::end;
    switch (feed_->ended()) {
      case end::none:
        return false;
      case end::too_slow:
        app::log_warn("watch: closing a watcher that does not keep up", {{"reason", feed_->end_reason()}});
        close(websocket::close_code::policy_error, feed_->end_reason());
        return true;
      case end::resync: {
        websocket::close_reason cr(close_resync_required);
        cr.reason = close_text(feed_->end_reason());
        close(cr);
        return true;
      }
      case end::hub_gone:
        close(websocket::close_code::going_away, feed_->end_reason());
        return true;
    }
    return false;
  }

  // ---- closing ----

  void close(websocket::close_code code, std::string_view reason) {
    close(websocket::close_reason(code, close_text(reason)));
  }

  void close(const websocket::close_reason& cr) {
    if (closing_ || finished_) return;
    closing_ = true;
    feed_.reset();  // drops the queue and leaves the hub now
    // A client that does not read never lets the close frame out (it waits
    // behind the write in flight): the socket goes after close_timeout.
    close_timer_.expires_after(settings_.close_timeout);
    close_timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec && !self->finished_) self->finish();
    });
    ws_.async_close(cr, bind(&watch_session::on_close));
  }

  void on_close(error_code ec) {
    // The read loop normally ends right after with error::closed.
    if (ec) finish();
  }

  void on_stop() {
    stopping_ = true;
    if (finished_) return;
    if (!open_) {
      // Still in the handshake: nothing was promised yet.
      beast::get_lowest_layer(ws_).close();
      return;
    }
    close(websocket::close_code::going_away, "daemon shutting down");
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    feed_.reset();
    close_timer_.cancel();
    error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
  }

  websocket::stream<Stream> ws_;
  asio::steady_timer close_timer_;
  beast::flat_buffer read_buffer_;
  std::unique_ptr<api::watch_feed> feed_;
  api::watch_message in_flight_;  // kept alive while async_write reads it
  connection_set& connections_;
  std::function<void()> upgraded_;  // counts the 101
  watch_settings settings_;
  bool open_ = false;
  bool writing_ = false;
  bool pump_scheduled_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool stopping_ = false;
};

// Upgrade requests count with the router's requests, under the route's label.
void counted_request(app::metric_registry& metrics, int status) {
  metrics.counter_add("horao_http_requests_total",
                      {{"route", watch_upgrade_path}, {"method", "GET"}, {"status", std::to_string(status)}});
}

template <class Stream>
void accept_watch(const api::router& router, const std::weak_ptr<api::watch_hub>& weak_hub,
                  connection_set& connections, app::metric_registry& metrics, const watch_settings& settings,
                  Stream&& stream, upgrade_request&& req) {
  const unsigned version = req.version();
  auto refuse = [&](api::response answer) {
    counted_request(metrics, answer.status);
    refuse_upgrade(std::move(stream), version, std::move(answer));
  };

  api::request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.authorization = std::string(req[http::field::authorization]);
  auto admitted = router.admit(r);
  if (auto* refused = std::get_if<api::response>(&admitted)) return refuse(std::move(*refused));
  const auto& a = std::get<api::router::admission>(admitted);
  if (a.route.route->id != api::route_id::watch)
    return refuse(api::error_response(404, "unknown_collection", "no WebSocket endpoint here"));
  auto watch = api::parse_watch_request(router.context(), a.who, a.query);
  if (auto* e = std::get_if<api::api_error>(&watch)) return refuse(api::error_response(*e));
  auto hub = weak_hub.lock();
  if (!hub) return refuse(api::error_response(503, "unavailable", "the daemon is shutting down"));
  if (connections.stopping())
    return refuse(api::error_response(503, "unavailable", "the daemon is shutting down"));

  // The feed starts now, before the handshake: a live-only watcher gets
  // every change from the moment it was admitted. A handshake Beast refuses
  // (no Sec-WebSocket-Key, ...) is answered by Beast and not counted.
  auto feed = hub->open(std::move(std::get<api::watch_request>(watch)));
  std::make_shared<watch_session<Stream>>(
      std::move(stream), std::move(feed), connections, [m = &metrics] { counted_request(*m, 101); }, settings)
      ->run(std::move(req));
}

}  // namespace

upgrade_handler make_watch_upgrade_handler(const api::router& router, std::weak_ptr<api::watch_hub> hub,
                                           connection_set& connections, app::metric_registry& metrics,
                                           watch_settings settings) {
  upgrade_handler h;
  h.plain = [&router, hub, &connections, &metrics, settings](plain_stream&& stream, upgrade_request&& req) {
    try {
      accept_watch(router, hub, connections, metrics, settings, std::move(stream), std::move(req));
    } catch (const std::exception& e) {
      app::log_error("watch: unexpected exception accepting a watcher", {{"error", e.what()}});
    }
  };
  h.tls = [&router, hub, &connections, &metrics, settings](tls_stream&& stream, upgrade_request&& req) {
    try {
      accept_watch(router, hub, connections, metrics, settings, std::move(stream), std::move(req));
    } catch (const std::exception& e) {
      app::log_error("watch: unexpected exception accepting a watcher", {{"error", e.what()}});
    }
  };
  return h;
}

}  // namespace horao::net
