// The HTTP session, plain and TLS, after Beast's advanced_server_flex: one
// class template over the stream type; the few steps that differ (handshake,
// closing, the immediate write) are `if constexpr` branches.
//
// The request path is kept to one trip through the event loop per request:
// Beast's parser is fed from the session's buffer directly (http::async_read
// posts its completion even when the bytes are already buffered), the answer
// is written as one pre-serialised buffer, and on a plain socket it is sent at
// once, falling back to an asynchronous write only for what the socket does
// not take.
#include "horao/net/http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "horao/api/errors.hpp"
#include "horao/api/router.hpp"
#include "horao/app/logging.hpp"
#include "horao/app/metrics.hpp"
#include "horao/net/connections.hpp"
#include "horao/net/response_text.hpp"
#include "horao/net/upgrade_registry.hpp"

namespace horao::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;
using app::log_debug;
using app::log_error;

template <class Stream>
inline constexpr bool is_tls_v = std::is_same_v<Stream, tls_stream>;

// The first read of a request, and each read while lingering at close.
constexpr std::size_t small_read = 4096;

// The answer buffer is kept between answers up to this capacity.
constexpr std::size_t keep_write_buffer = 64 * 1024;

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// The path for log lines: no query (it may carry anything), length capped.
std::string loggable_path(std::string_view target) {
  const std::string_view p = path_of(target);
  return p.size() <= 200 ? std::string(p) : std::string(p.substr(0, 200)) + "...";
}

bool is_loopback(const asio::ip::address& a) {
  if (a.is_v4()) return a.to_v4().is_loopback();
  const auto v6 = a.to_v6();
  if (v6.is_loopback()) return true;
  return v6.is_v4_mapped() && asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
}

template <class Stream>
class http_session final : public connection, public std::enable_shared_from_this<http_session<Stream>> {
 public:
  template <class... StreamArgs>
  explicit http_session(http_context& context, StreamArgs&&... stream_args)
      : ctx_(context),
        stream_(std::forward<StreamArgs>(stream_args)...),
        executor_(stream_.get_executor()),
        // Room for a full header plus one read: pipelined bytes cannot pile up.
        buffer_(context.limits.header_bytes + 64 * 1024) {}

  void run() {
    error_code ec;
    const auto remote = lowest().socket().remote_endpoint(ec);
    if (ec) return;  // the client is already gone
    remote_ = remote.address().to_string();
    from_loopback_ = is_loopback(remote.address());
    if constexpr (!is_tls_v<Stream>) {
      // Synchronous writes must return would_block instead of waiting: see
      // write_answer(). Asynchronous operations are unaffected.
      lowest().socket().non_blocking(true, ec);
      if (ec) return;
    }
    if (!ctx_.connections.add(this->weak_from_this())) return;  // shutting down: closes with us
    asio::dispatch(executor_, beast::bind_front_handler(&http_session::on_run, this->shared_from_this()));
  }

  void stop() override {
    asio::dispatch(executor_, [self = this->shared_from_this()] { self->on_stop(); });
  }

 private:
  enum class phase { starting, idle, reading, handling, writing, closing, handed_over };

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  template <class Fn>
  auto bind(Fn fn) {
    return beast::bind_front_handler(fn, this->shared_from_this());
  }

  // ---- start ----

  void on_run() {
    if constexpr (is_tls_v<Stream>) {
      phase_ = phase::starting;
      lowest().expires_after(ctx_.limits.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, bind(&http_session::on_handshake));
    } else {
      do_read();
    }
  }

  void on_handshake(error_code ec) {
    if (ec) {
      log_debug("TLS handshake failed", {{"remote", remote_}, {"error", ec.message()}});
      return;
    }
    do_read();
  }

  // ---- reading a request ----

  void do_read() {
    if (stopping_) return do_close();
    phase_ = phase::idle;
    if (buffer_.size() > 0) return do_read_header();  // a pipelined request is already here
    // Idle keep-alive: the long deadline runs until the first byte arrives.
    lowest().expires_after(ctx_.limits.idle_timeout);
    stream_.async_read_some(buffer_.prepare(small_read), bind(&http_session::on_first_bytes));
  }

  void on_first_bytes(error_code ec, std::size_t n) {
    if (ec) return;  // closed by the client, idle for too long, or stopped: nothing to answer
    buffer_.commit(n);
    do_read_header();
  }

  void do_read_header() {
    phase_ = phase::reading;
    started_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(ctx_.limits.header_bytes));
    parser_->body_limit(ctx_.limits.body_bytes);
    parser_->eager(true);
    expect_checked_ = false;
    lowest().expires_after(ctx_.limits.request_timeout);
    parse_buffered();
  }

  // Feeds the parser what is buffered; reads more only when it needs more.
  // The steps and errors are those of Beast's http::async_read.
  void parse_buffered() {
    for (;;) {
      error_code ec = http::error::need_more;
      if (buffer_.size() > 0) {
        const std::size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        // An eager parser stops early only when done or short of bytes; never
        // spin on a buffer it did not take from.
        if (!ec && used == 0 && !parser_->is_done()) ec = http::error::need_more;
      }
      if (ec && ec != http::error::need_more) return on_read_error(ec);
      if (!expect_checked_ && parser_->is_header_done()) {
        expect_checked_ = true;
        if (continue_expected()) return send_continue();
      }
      if (parser_->is_done()) return on_read({}, 0);
      if (ec == http::error::need_more) return read_more();
    }
  }

  void read_more() {
    const std::size_t size = beast::read_size(buffer_, 65536);
    if (size == 0) return on_read_error(http::error::buffer_overflow);
    stream_.async_read_some(buffer_.prepare(size), bind(&http_session::on_more_bytes));
  }

  void on_more_bytes(error_code ec, std::size_t n) {
    buffer_.commit(n);
    if (ec == asio::error::eof) {
      if (!parser_->got_some()) return on_read_error(http::error::end_of_stream);
      error_code eof_ec;
      parser_->put_eof(eof_ec);  // a request ends at its length, so this is partial_message
      if (eof_ec) return on_read_error(eof_ec);
      return on_read({}, 0);
    }
    if (ec) return on_read_error(ec);
    parse_buffered();
  }

  bool continue_expected() const {
    const auto& req = parser_->get();
    return req.version() >= 11 && !parser_->is_done() &&
           beast::iequals(req[http::field::expect], "100-continue");
  }

  // The client waits for this before it sends the body (curl does for bodies
  // over 1 KiB). Too large a body was refused by the parser already.
  void send_continue() {
    static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(interim.data(), interim.size()),
                      bind(&http_session::on_continue_sent));
  }

  void on_continue_sent(error_code ec, std::size_t) {
    if (ec) return;
    parse_buffered();
  }

  void on_read(error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    // While the router works (a write waits for Redis) nothing is read; the
    // response's write gets its own deadline.
    lowest().expires_never();
    handle(parser_->release());
  }

  void on_read_error(error_code ec) {
    if (ec == http::error::body_limit)
      return refuse(413, "body_too_large",
                    "request body is larger than MAX_BODY_BYTES (" + std::to_string(ctx_.limits.body_bytes) +
                        " bytes)");
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      return refuse(431, "header_too_large",
                    "request header is larger than " + std::to_string(ctx_.limits.header_bytes) + " bytes");
    const bool parse_error = ec.category() == http::make_error_code(http::error::bad_method).category() &&
                             ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (parse_error) return refuse(400, "bad_request", "malformed HTTP request: " + ec.message());
    // The connection broke or timed out mid-request: nobody to answer.
    log_debug("request not completed", {{"remote", remote_}, {"error", ec.message()}});
  }

  // ---- handling ----

  void handle(http::request<http::string_body> req) {
    ++exchange_;
    parser_.reset();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    method_ = std::string(req.method_string());
    path_ = loggable_path(req.target());
    if (beast::websocket::is_upgrade(req)) return upgrade(std::move(req));

    api::request r;
    r.method = method_;
    r.target = std::string(req.target());
    r.body = std::move(req.body());
    r.content_type = std::string(req[http::field::content_type]);
    r.authorization = std::string(req[http::field::authorization]);
    r.if_match = std::string(req[http::field::if_match]);
    r.from_loopback = from_loopback_;

    phase_ = phase::handling;
    const std::uint64_t id = exchange_;
    try {
      // Every answer comes on the io_context's one thread (the daemon runs
      // no other), now or after a Redis round trip: no executor hop needed.
      ctx_.router.handle(r, [self = this->shared_from_this(), id](api::response res) {
        self->on_response(id, std::move(res));
      });
    } catch (const std::exception& e) {
      log_error("request handler threw", {{"method", method_}, {"path", path_}, {"error", e.what()}});
      if (phase_ == phase::handling && id == exchange_)
        on_response(id, api::error_response(500, "internal", "internal error"));
    }
  }

  void on_response(std::uint64_t id, api::response res) {
    if (id != exchange_ || phase_ != phase::handling) {
      log_error("a request was answered twice; the second answer is dropped",
                {{"method", method_}, {"path", path_}});
      return;
    }
    send(std::move(res));
  }

  void upgrade(http::request<http::string_body> req) {
    phase_ = phase::handling;
    if (stopping_) return refuse(503, "unavailable", "the daemon is shutting down");
    const std::string path(path_of(req.target()));
    const upgrade_handler* handler = ctx_.upgrades.find(path);
    if (!handler || !for_stream(*handler))
      return refuse(404, "unknown_collection", "no WebSocket endpoint at " + path_);
    log_debug("websocket upgrade", {{"path", path_}, {"remote", remote_}});
    lowest().expires_never();
    phase_ = phase::handed_over;
    try {
      for_stream (*handler)(std::move(stream_), std::move(req));
    } catch (const std::exception& e) {
      log_error("WebSocket upgrade handler threw", {{"path", path_}, {"error", e.what()}});
    }
  }

  // The handler for this session's kind of stream.
  static const auto& for_stream(const upgrade_handler& h) {
    if constexpr (is_tls_v<Stream>)
      return h.tls;
    else
      return h.plain;
  }

  // ---- answering ----

  // Answers a request that cannot be served, then closes: after a protocol
  // error the rest of the stream cannot be trusted.
  void refuse(int status, std::string_view code, const std::string& message) {
    if (parser_ && parser_->is_header_done()) {
      method_ = std::string(parser_->get().method_string());
      path_ = loggable_path(parser_->get().target());
      version_ = parser_->get().version();
    } else if (phase_ != phase::handling) {
      method_ = "-";
      path_ = "-";
      version_ = 11;
    }
    parser_.reset();
    head_ = false;
    close_after_write_ = true;
    ctx_.metrics.counter_add("horao_http_refused_total", {{"reason", code}});
    send(api::error_response(status, code, message));
  }

  void send(api::response r) {
    phase_ = phase::writing;
    if (r.status < 200 || r.status > 599) {
      log_error("handler answered with an invalid status", {{"path", path_}, {"status", r.status}});
      r = api::error_response(500, "internal", "internal error");
    }
    status_ = r.status;
    for (const auto& [name, value] : r.headers)
      if (!writable_header(name, value))
        log_error("handler produced an invalid header; it is left out", {{"path", path_}, {"header", name}});
    close_after_write_ = close_after_write_ || stopping_ || !keep_alive_;
    out_.clear();
    append_response(out_, r, {version_ == 10 ? 10u : 11u, !close_after_write_, head_});
    write_answer();
  }

  void write_answer() {
    std::size_t sent = 0;
    if constexpr (!is_tls_v<Stream>) {
      // Most answers fit the socket's send buffer: sending now saves the
      // completion's trip through the event loop (the socket is non-blocking).
      error_code ec;
      sent = lowest().socket().write_some(asio::buffer(out_), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return on_write(ec, 0, true);
      if (sent == out_.size()) return on_write({}, sent, true);
    }
    lowest().expires_after(ctx_.limits.write_timeout);
    asio::async_write(
        stream_, asio::buffer(out_.data() + sent, out_.size() - sent),
        [self = this->shared_from_this()](error_code ec, std::size_t n) { self->on_write(ec, n, false); });
  }

  void on_write(error_code ec, std::size_t, bool immediate) {
    if (app::log_enabled(app::log_level::debug)) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
      if (ec)
        log_debug("request", {{"method", method_},
                              {"path", path_},
                              {"status", status_},
                              {"ms", ms},
                              {"remote", remote_},
                              {"error", ec.message()}});
      else
        log_debug(
            "request",
            {{"method", method_}, {"path", path_}, {"status", status_}, {"ms", ms}, {"remote", remote_}});
    }
    if (ec) return;  // the client went away: nothing left to do
    if (out_.capacity() > keep_write_buffer) out_ = std::string();  // a large listing: do not keep its memory
    if (close_after_write_ || stopping_) return do_close();
    // A pipelined request answered right away would recurse once per request
    // in the buffer: continue from the event loop instead.
    if (immediate && buffer_.size() > 0)
      return asio::post(executor_,
                        beast::bind_front_handler(&http_session::do_read, this->shared_from_this()));
    do_read();
  }

  // ---- closing ----

  void do_close() {
    phase_ = phase::closing;
    lowest().expires_after(ctx_.limits.linger_timeout);
    if constexpr (is_tls_v<Stream>) {
      stream_.async_shutdown(bind(&http_session::on_tls_shutdown));
    } else {
      // Half-close, then read until the client closes: closing with unread
      // bytes would send a reset that can destroy the last response.
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return;
      buffer_.clear();
      do_linger();
    }
  }

  void do_linger() { stream_.async_read_some(buffer_.prepare(small_read), bind(&http_session::on_linger)); }

  void on_linger(error_code ec, std::size_t) {
    if (ec) return;  // end of stream or deadline: the socket closes with the session
    do_linger();
  }

  void on_tls_shutdown(error_code) {}

  void on_stop() {
    if (stopping_ || phase_ == phase::handed_over) return;
    stopping_ = true;
    // Idle (or still in the TLS handshake): nothing is in progress, close at
    // once. Otherwise the exchange finishes and its answer says
    // Connection: close.
    if (phase_ == phase::idle || phase_ == phase::starting) lowest().close();
  }

  http_context& ctx_;
  Stream stream_;
  asio::any_io_executor executor_;  // kept: stream_ is moved away on upgrade
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;  // the answer being written; reused between answers

  bool expect_checked_ = false;  // the request's Expect header was looked at

  phase phase_ = phase::starting;
  bool stopping_ = false;
  bool close_after_write_ = false;
  std::uint64_t exchange_ = 0;  // which request the router's answer is for

  // The request being served, for the response and the log line.
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  int status_ = 0;
  std::string method_;
  std::string path_;
  std::chrono::steady_clock::time_point started_;

  std::string remote_;
  bool from_loopback_ = false;
};

}  // namespace

void describe_http_metrics(app::metric_registry& metrics) {
  metrics.describe(
      "horao_http_refused_total", app::metric_type::counter,
      "Requests refused before reaching the router (malformed, header or body too large), by reason");
}

void start_http_session(tcp::socket socket, http_context& context) {
  try {
    if (context.tls)
      std::make_shared<http_session<tls_stream>>(context, std::move(socket), *context.tls)->run();
    else
      std::make_shared<http_session<plain_stream>>(context, std::move(socket))->run();
  } catch (const std::exception& e) {
    log_error("cannot start an HTTP session", {{"error", e.what()}});
  }
}

}  // namespace horao::net
