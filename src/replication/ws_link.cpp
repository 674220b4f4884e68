#include "horao/replication/ws_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>

#include "horao/app/logging.hpp"

namespace horao::replication {
namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;

std::uint64_t next_link_id() {
  static std::uint64_t id = 0;  // the store's loop only
  return ++id;
}

template <class WS>
void configure_stream(WS& ws, const link_options& options) {
  ws.binary(true);
  ws.auto_fragment(false);
  ws.read_message_max(max_frame_bytes);
  websocket::stream_base::timeout t{};
  t.handshake_timeout = options.handshake_timeout;
  t.idle_timeout = options.idle_timeout;
  t.keep_alive_pings = true;
  ws.set_option(t);
}

template <class WS>
class ws_link final : public peer_link {
 public:
  ws_link(WS ws, direction dir, link_identity identity, std::weak_ptr<link_handler> handler,
          const link_options& options)
      : peer_link(dir, std::move(identity.remote_address), std::move(identity.url),
                  std::move(identity.token_node), std::move(identity.token_nonce)),
        ws_(std::move(ws)),
        handler_(std::move(handler)),
        max_queued_bytes_(options.max_queued_bytes) {
    // The WebSocket timeouts replace the TCP stream's deadline from here on.
    beast::get_lowest_layer(ws_).expires_never();
    configure_stream(ws_, options);
  }

  void start() {
    asio::post(ws_.get_executor(), [self = self()] { self->on_start(); });
  }

  void send(frame bytes) override {
    if (closing_ || finished_) return;
    if (queued_bytes_ + bytes.size() > max_queued_bytes_) {
      close("send queue full: the peer is not reading");
      return;
    }
    queued_bytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
    if (!writing_) do_write();
  }

  void close(std::string_view reason) override {
    if (closing_ || finished_) return;
    closing_ = true;
    close_reason_ = std::string(reason);
    // A close frame's reason is at most 123 bytes.
    websocket::close_reason cr(websocket::close_code::normal);
    cr.reason = std::string(reason.substr(0, 120));
    ws_.async_close(cr, beast::bind_front_handler(&ws_link::on_close, self()));
  }

  std::size_t queued_bytes() const override { return queued_bytes_; }
  bool open() const override { return !closing_ && !finished_; }

 private:
  std::shared_ptr<ws_link> self() { return std::static_pointer_cast<ws_link>(shared_from_this()); }

  template <class F>
  void call_handler(F&& f) {
    auto h = handler_.lock();
    if (!h) return;
    try {
      f(*h);
    } catch (const std::exception& e) {
      app::log_error("replication: unexpected exception handling a peer frame; closing the link",
                     {{"error", e.what()}, {"remote", remote_address()}});
      close("internal error");
    }
  }

  void on_start() {
    if (finished_) return;
    call_handler([&](link_handler& h) { h.on_link_open(self()); });
    do_read();
  }

  void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&ws_link::on_read, self())); }

  void on_read(beast::error_code ec, std::size_t) {
    if (finished_) return;
    if (ec) {
      std::string why;
      if (ec == websocket::error::closed) {
        why = closing_ ? close_reason_ : "closed by peer";
        const auto& r = ws_.reason();
        if (!closing_ && !r.reason.empty()) why += ": " + std::string(r.reason.data(), r.reason.size());
      } else if (closing_) {
        why = close_reason_;
      } else if (ec == beast::error::timeout) {
        why = "peer unresponsive (idle timeout)";
      } else if (ec == websocket::error::message_too_big) {
        why = "frame larger than " + std::to_string(max_frame_bytes) + " bytes";
      } else {
        why = "connection lost: " + ec.message();
      }
      return finish(why);
    }
    if (!ws_.got_binary()) {
      buffer_.consume(buffer_.size());
      close("text frames are not part of the protocol");
      return do_read();
    }
    if (!closing_) {
      const auto data = buffer_.cdata();
      const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
      call_handler([&](link_handler& h) { h.on_link_frame(self(), bytes); });
    }
    buffer_.consume(buffer_.size());
    if (!finished_) do_read();
  }

  void do_write() {
    writing_ = true;
    ws_.async_write(asio::buffer(queue_.front()), beast::bind_front_handler(&ws_link::on_write, self()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (finished_) return;
    if (ec) {
      // The read side sees the same failure; make sure it does.
      if (!closing_) finish("write failed: " + ec.message());
      return;
    }
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (closing_) return;
    if (!queue_.empty()) return do_write();
    call_handler([&](link_handler& h) { h.on_link_drained(self()); });
  }

  void on_close(beast::error_code ec) {
    // The read loop normally ends with error::closed right after; if the
    // close handshake failed, end here.
    if (ec && !finished_) finish(close_reason_);
  }

  void finish(const std::string& why) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close();
    auto me = self();
    if (auto h = handler_.lock()) {
      try {
        h->on_link_closed(me, why);
      } catch (const std::exception& e) {
        app::log_error("replication: unexpected exception on link close", {{"error", e.what()}});
      }
    }
    if (on_closed_hook) {
      auto hook = std::move(on_closed_hook);
      on_closed_hook = nullptr;
      try {
        hook(why);
      } catch (const std::exception& e) {
        app::log_error("replication: unexpected exception on link close", {{"error", e.what()}});
      }
    }
  }

  WS ws_;
  beast::flat_buffer buffer_;
  std::weak_ptr<link_handler> handler_;
  std::size_t max_queued_bytes_;
  std::deque<frame> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  std::string close_reason_;
};

template <class WS>
std::shared_ptr<peer_link> start_any(WS ws, peer_link::direction dir, link_identity identity,
                                     std::weak_ptr<link_handler> handler, const link_options& options,
                                     std::function<void(std::string_view)> closed_hook) {
  auto link =
      std::make_shared<ws_link<WS>>(std::move(ws), dir, std::move(identity), std::move(handler), options);
  link->on_closed_hook = std::move(closed_hook);
  link->start();
  return link;
}

}  // namespace

peer_link::peer_link(direction dir, std::string remote_address, std::string url, std::string token_node,
                     std::string token_nonce)
    : dir_(dir),
      id_(next_link_id()),
      remote_address_(std::move(remote_address)),
      url_(std::move(url)),
      token_node_(std::move(token_node)),
      token_nonce_(std::move(token_nonce)) {}

std::shared_ptr<peer_link> start_link(plain_ws ws, peer_link::direction dir, link_identity identity,
                                      std::weak_ptr<link_handler> handler, const link_options& options,
                                      std::function<void(std::string_view)> closed_hook) {
  return start_any(std::move(ws), dir, std::move(identity), std::move(handler), options,
                   std::move(closed_hook));
}

std::shared_ptr<peer_link> start_link(tls_ws ws, peer_link::direction dir, link_identity identity,
                                      std::weak_ptr<link_handler> handler, const link_options& options,
                                      std::function<void(std::string_view)> closed_hook) {
  return start_any(std::move(ws), dir, std::move(identity), std::move(handler), options,
                   std::move(closed_hook));
}

void configure(plain_ws& ws, const link_options& options) {
  configure_stream(ws, options);
}
void configure(tls_ws& ws, const link_options& options) {
  configure_stream(ws, options);
}

}  // namespace horao::replication
