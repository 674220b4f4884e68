#pragma once
// WebSocket upgrades by path: the extension point through which /v1/watch and
// /v1/peer take over a connection from the HTTP session.
//
// Invariants: the HTTP session consults the registry only for a request that
// websocket::is_upgrade() accepts, after reading it completely; a handler
// receives the stream (no deadline set, nothing pending on it) and the parsed
// upgrade request, and owns the connection from then on (typically
// make_shared<session>(std::move(stream))->run(std::move(request))). A path
// without a handler for the connection's kind of stream gets
// 404 unknown_collection. Paths match exactly, without the query string.
// Handlers are registered before the listener starts; lookups never allocate.

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace horao::net {

using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using upgrade_request = boost::beast::http::request<boost::beast::http::string_body>;

struct upgrade_handler {
  std::function<void(plain_stream&&, upgrade_request&&)> plain;  // for ws:// (no TLS_CERT)
  std::function<void(tls_stream&&, upgrade_request&&)> tls;      // for wss:// (TLS_CERT set)
};

class upgrade_registry {
 public:
  // Replaces any handler already registered for `path`.
  void add(std::string path, upgrade_handler handler);
  const upgrade_handler* find(std::string_view path) const;

 private:
  std::map<std::string, upgrade_handler, std::less<>> handlers_;
};

}  // namespace horao::net
