#include "horao/net/upgrade_refusal.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <type_traits>

namespace horao::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

template <class Stream>
class refusal : public std::enable_shared_from_this<refusal<Stream>> {
 public:
  refusal(Stream&& stream, unsigned version, api::response answer) : stream_(std::move(stream)) {
    response_.version(version == 10 ? 10 : 11);
    response_.result(static_cast<unsigned>(answer.status));
    response_.set(http::field::server, "horaod");
    for (const auto& [name, value] : answer.headers) response_.insert(name, value);
    if (!answer.content_type.empty()) response_.set(http::field::content_type, answer.content_type);
    response_.keep_alive(false);
    response_.body() = std::move(answer.body);
    response_.prepare_payload();
  }

  void run() {
    beast::get_lowest_layer(stream_).expires_after(refusal_timeout);
    http::async_write(
        stream_, response_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->done(ec); });
  }

 private:
  void done(beast::error_code ec) {
    if constexpr (std::is_same_v<Stream, tls_stream>) {
      if (!ec) {
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->drop(); });
        return;
      }
    }
    drop();
  }

  void drop() {
    beast::error_code ignored;
    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    tcp.close();
  }

  Stream stream_;
  http::response<http::string_body> response_;
};

template <class Stream>
void refuse_any(Stream&& stream, unsigned version, api::response answer) {
  std::make_shared<refusal<Stream>>(std::move(stream), version, std::move(answer))->run();
}

}  // namespace

void refuse_upgrade(plain_stream&& stream, unsigned http_version, api::response answer) {
  refuse_any(std::move(stream), http_version, std::move(answer));
}

void refuse_upgrade(tls_stream&& stream, unsigned http_version, api::response answer) {
  refuse_any(std::move(stream), http_version, std::move(answer));
}

}  // namespace horao::net
