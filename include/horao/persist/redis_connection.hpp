#pragma once
// One logical connection to Redis on the daemon's io_context: connects
// (resolving host names asynchronously), logs in (AUTH, SELECT), runs
// pipelines of binary-safe commands with a deadline, and reconnects with
// capped exponential backoff and jitter. Each physical connection is a new
// redisAsyncContext bound to the loop by redis_asio.
//
// Invariants:
//  * every handler passed to execute() is called exactly once, always later
//    on the io_context (never from inside execute() or from inside hiredis),
//    in the order the pipelines completed; a handler that throws is logged,
//    the exception goes no further.
//  * a pipeline is answered `ok` with one reply per command, or with a
//    failure: not_connected (refused at once), timeout (no complete reply
//    before its deadline), connection_lost, or stopped.
//  * a pipeline holding an empty command, or a resp_pipeline whose last
//    command lacks arguments (a caller's bug), is refused whole with
//    connection_lost: none of it is sent.
//  * a timeout tears the whole connection down (replies would otherwise come
//    back out of step): the timed-out pipeline gets `timeout`, every other
//    pending pipeline `connection_lost`, each exactly once; then reconnect.
//  * teardown is idempotent whatever starts it (hiredis freeing the context on
//    an I/O error or a failed connect, where its disconnect callback is not
//    called; a timeout; stop(); the destructor): a context is freed once, by
//    whoever notices first, and the other paths see that it is gone.
//  * state changes (connected, lost, reconnecting) are logged at info with
//    the redacted endpoint: the password never reaches a log line.
//  * single-threaded: every call is made on the io_context's thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "horao/persist/redis_endpoint.hpp"
#include "horao/persist/redis_reply.hpp"
#include "horao/persist/resp.hpp"

struct redisAsyncContext;
struct redisReply;

namespace horao::app {
class metric_registry;
}

namespace horao::persist {

struct redis_connection_options {
  redis_endpoint endpoint;
  std::chrono::milliseconds command_timeout{2000};  // REDIS_TIMEOUT_MS: per pipeline, and for connect + login
  std::chrono::milliseconds backoff_initial{100};   // first reconnect delay
  std::chrono::milliseconds backoff_max{5000};      // cap of the exponential backoff
};

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  using command = std::vector<std::string>;  // binary-safe arguments, the first is the command name
  using handler = std::function<void(redis_result)>;
  using state_observer = std::function<void(bool ready)>;

  redis_connection(boost::asio::io_context& io, redis_connection_options options,
                   app::metric_registry* metrics = nullptr);
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;
  ~redis_connection();

  static std::shared_ptr<redis_connection> create(boost::asio::io_context& io,
                                                  redis_connection_options options,
                                                  app::metric_registry* metrics = nullptr) {
    return std::make_shared<redis_connection>(io, std::move(options), metrics);
  }

  // Starts connecting; reconnects on its own until stop(). Idempotent.
  void start();
  // Closes the connection for good; pending pipelines get `stopped`. Idempotent.
  void stop();
  // Closes the current connection (pending pipelines: connection_lost) and
  // reconnects after the backoff.
  void drop(const std::string& reason);

  // Sends the commands back to back (one write, one round trip) and calls
  // `done` once with all their replies. timeout 0 = command_timeout. The
  // pipeline's text is copied to the connection's buffer before this
  // returns, so the caller may reuse it at once.
  void execute(const resp_pipeline& commands, handler done, std::chrono::milliseconds timeout = {});
  void execute(std::span<const command> commands, handler done, std::chrono::milliseconds timeout = {});
  void execute(const command& c, handler done, std::chrono::milliseconds timeout = {});

  // Called with true when the connection becomes ready, false when a ready
  // connection is lost or stopped. Observers are kept for the connection's
  // life; capture weak pointers.
  void on_state_change(state_observer fn) { observers_.push_back(std::move(fn)); }

  bool ready() const { return phase_ == phase::ready && ac_ != nullptr; }
  bool stopped() const { return phase_ == phase::stopped; }
  // The reason of the last failure, for /readyz and logs (no secrets).
  const std::string& last_error() const { return last_error_; }
  const redis_endpoint& endpoint() const { return options_.endpoint; }
  const redis_connection_options& options() const { return options_; }
  // Connections that reached `ready`, since creation.
  std::uint64_t connections() const { return connections_; }
  std::size_t pending() const { return pending_.size(); }

 private:
  enum class phase { idle, resolving, connecting, ready, backoff, stopped };

  struct pipeline {
    std::size_t expected = 0;
    std::vector<redis_reply> replies;
    handler done;
    std::chrono::milliseconds timeout{};
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  static void reply_thunk(redisAsyncContext* ac, void* reply, void* privdata) noexcept;
  static void connect_thunk(const redisAsyncContext* ac, int status) noexcept;

  void do_connect();
  void on_resolve(std::uint64_t attempt, const boost::system::error_code& ec,
                  const boost::asio::ip::tcp::resolver::results_type& results);
  void do_open(const std::string& address);
  void on_login(std::uint64_t attempt, redis_result result);
  void on_connect_deadline(std::uint64_t attempt, const boost::system::error_code& ec);
  void on_context_freed(redisAsyncContext* ac);
  void on_reply(redisAsyncContext* ac, redisReply* reply, std::uint64_t id);
  void on_pipeline_deadline(std::uint64_t id, const boost::system::error_code& ec);

  std::uint64_t submit(const resp_pipeline& commands, handler done, std::chrono::milliseconds timeout);
  void complete(std::uint64_t id, redis_status status, std::string message);
  // Tears the current connection down (idempotent), answers what is pending,
  // and schedules a reconnect unless stopped.
  void lose(redis_status status, const std::string& reason);
  void close_context(redis_status status, const std::string& reason);
  void fail_all(redis_status status, const std::string& reason);
  void schedule_reconnect();
  void set_connected(bool up);
  void deliver(handler& done, redis_result result);

  boost::asio::io_context& io_;
  redis_connection_options options_;
  app::metric_registry* metrics_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer backoff_timer_;

  phase phase_ = phase::idle;
  redisAsyncContext* ac_ = nullptr;
  std::uint64_t attempt_ = 0;  // increases with every connect attempt
  std::uint64_t failures_in_a_row_ = 0;
  std::uint64_t connections_ = 0;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, pipeline> pending_;
  // What pipelines answered by hiredis while it frees a context are told.
  redis_status closing_status_ = redis_status::connection_lost;
  std::string closing_reason_;
  std::string last_error_ = "not connected yet";
  std::vector<state_observer> observers_;
  std::minstd_rand jitter_;
};

}  // namespace horao::persist
