#pragma once
// The accept loop: one listening socket, each accepted connection handed to
// start_http_session().
//
// Invariants: open() either returns a listener that is bound and listening,
// or an error naming the step and the address ("bind 127.0.0.1:8080: Address
// already in use") — a daemon that cannot listen must not carry on. The
// listener owns itself while accepting (its pending accept holds it); a
// transient accept failure (out of file descriptors) pauses and retries, it
// never spins; after stop() it accepts nothing more.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

namespace horao::net {

struct http_context;

class listener : public std::enable_shared_from_this<listener> {
 public:
  // Null with `error` set when the address cannot be listened on.
  static std::shared_ptr<listener> open(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& at,
                                        http_context& context, std::string& error);

  listener(boost::asio::io_context& io, http_context& context);

  void run();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  http_context& context_;
  bool stopped_ = false;
};

}  // namespace horao::net
