#include "horao/replication/peer_acceptor.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "horao/api/errors.hpp"
#include "horao/app/logging.hpp"
#include "horao/replication/replicator.hpp"
#include "horao/replication/ws_link.hpp"

namespace horao::replication {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;

template <class Stream>
std::string remote_of(Stream& stream) {
  boost::system::error_code ec;
  const auto ep = beast::get_lowest_layer(stream).socket().remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Writes the 401 and closes; owns the stream meanwhile.
template <class Stream>
struct refusal : std::enable_shared_from_this<refusal<Stream>> {
  Stream stream;
  http::response<http::string_body> response;

  refusal(Stream s, unsigned version, int status, const std::string& message) : stream(std::move(s)) {
    const api::response body =
        status == 503 ? api::error_response(503, "unavailable", "peer upgrade refused: " + message)
                      : api::error_response(401, "unauthorized", "peer upgrade refused: " + message);
    response.version(version);
    response.result(status == 503 ? http::status::service_unavailable : http::status::unauthorized);
    response.set(http::field::server, "horaod");
    response.set(http::field::content_type, body.content_type);
    response.keep_alive(false);
    response.body() = body.body;
    response.prepare_payload();
  }

  void run() {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    http::async_write(stream, response,
                      [self = this->shared_from_this()](beast::error_code, std::size_t) { self->done(); });
  }

  void done() {
    if constexpr (std::is_same_v<Stream, net::tls_stream>) {
      stream.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream)
            .socket()
            .shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(self->stream).close();
      });
    } else {
      beast::error_code ignored;
      stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      stream.close();
    }
  }
};

template <class Stream>
void accept_upgrade(const std::weak_ptr<replicator>& weak, Stream&& stream, net::upgrade_request&& request) {
  using ws_type = websocket::stream<Stream>;
  auto r = weak.lock();
  const std::string remote = remote_of(stream);
  const unsigned version = request.version();
  if (!r) {
    std::make_shared<refusal<Stream>>(std::move(stream), version, 503, "replication is not running")->run();
    return;
  }
  const auto token_field = request.find(peer_token_header);
  const std::string_view token =
      token_field == request.end() ? std::string_view() : std::string_view(token_field->value());
  replicator::admission a = r->admit(token, remote);
  if (!a.ok) {
    std::make_shared<refusal<Stream>>(std::move(stream), version, a.status, a.message)->run();
    return;
  }
  auto ws = std::make_shared<ws_type>(std::move(stream));
  const link_options options = r->link_settings();
  configure(*ws, options);
  ws->set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "horaod"); }));
  auto req = std::make_shared<net::upgrade_request>(std::move(request));
  ws->async_accept(*req, [ws, req, weak, a = std::move(a), remote, options](beast::error_code ec) mutable {
    if (ec) {
      app::log_debug("replication: peer WebSocket handshake failed",
                     {{"remote", remote}, {"error", ec.message()}});
      return;
    }
    auto self = weak.lock();
    if (!self) return;
    try {
      start_link(std::move(*ws), peer_link::direction::inbound, link_identity{remote, {}, a.node, a.nonce},
                 self->handler(), options);
    } catch (const std::exception& e) {
      app::log_error("replication: unexpected exception starting a peer link", {{"error", e.what()}});
    }
  });
}

}  // namespace

net::upgrade_handler make_peer_upgrade_handler(std::weak_ptr<replicator> r) {
  net::upgrade_handler h;
  h.plain = [r](net::plain_stream&& stream, net::upgrade_request&& request) {
    try {
      accept_upgrade(r, std::move(stream), std::move(request));
    } catch (const std::exception& e) {
      app::log_error("replication: unexpected exception accepting a peer", {{"error", e.what()}});
    }
  };
  h.tls = [r](net::tls_stream&& stream, net::upgrade_request&& request) {
    try {
      accept_upgrade(r, std::move(stream), std::move(request));
    } catch (const std::exception& e) {
      app::log_error("replication: unexpected exception accepting a peer", {{"error", e.what()}});
    }
  };
  return h;
}

}  // namespace horao::replication
