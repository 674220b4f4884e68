#include "horao/replication/peer_acceptor.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "horao/api/errors.hpp"
#include "horao/app/logging.hpp"
#include "horao/net/upgrade_refusal.hpp"
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

// 401 (token) or 503 (replication not running), as the API's JSON error.
template <class Stream>
void refuse(Stream&& stream, unsigned version, int status, const std::string& message) {
  net::refuse_upgrade(std::move(stream), version,
                      status == 503 ? api::error_response(503, "unavailable", "peer upgrade refused: " + message)
                                    : api::error_response(401, "unauthorized", "peer upgrade refused: " + message));
}

template <class Stream>
void accept_upgrade(const std::weak_ptr<replicator>& weak, Stream&& stream, net::upgrade_request&& request) {
  using ws_type = websocket::stream<Stream>;
  auto r = weak.lock();
  const std::string remote = remote_of(stream);
  const unsigned version = request.version();
  if (!r) {
    refuse(std::move(stream), version, 503, "replication is not running");
    return;
  }
  const auto token_field = request.find(peer_token_header);
  const std::string_view token =
      token_field == request.end() ? std::string_view() : std::string_view(token_field->value());
  replicator::admission a = r->admit(token, remote);
  if (!a.ok) {
    refuse(std::move(stream), version, a.status, a.message);
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
