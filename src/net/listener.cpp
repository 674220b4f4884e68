#include "horao/net/listener.hpp"

#include <chrono>

#include "horao/app/logging.hpp"
#include "horao/net/http_session.hpp"

namespace horao::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::shared_ptr<listener> listener::open(asio::io_context& io, const tcp::endpoint& at, http_context& context,
                                         std::string& error) {
  auto l = std::make_shared<listener>(io, context);
  boost::system::error_code ec;
  const auto fail = [&](const char* step) {
    error = std::string(step) + " " +
            (at.address().is_v6() ? "[" + at.address().to_string() + "]" : at.address().to_string()) + ":" +
            std::to_string(at.port()) + ": " + ec.message();
    return nullptr;
  };
  l->acceptor_.open(at.protocol(), ec);
  if (ec) return fail("open");
  // Lets a restarted daemon bind while old connections sit in TIME_WAIT; a
  // port that another socket listens on still fails below.
  l->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("set SO_REUSEADDR on");
  l->acceptor_.bind(at, ec);
  if (ec) return fail("bind");
  l->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  return l;
}

listener::listener(asio::io_context& io, http_context& context)
    : io_(io), acceptor_(io), retry_(io), context_(context) {}

void listener::run() {
  do_accept();
}

void listener::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

tcp::endpoint listener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void listener::do_accept() {
  if (stopped_) return;
  acceptor_.async_accept(io_, [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Typically EMFILE/ENFILE: pause instead of spinning on the same error.
    app::log_warn("accept failed; retrying shortly", {{"error", ec.message()}});
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  start_http_session(std::move(socket), context_);
  do_accept();
}

}  // namespace horao::net
