#include "horao/persist/redis_connection.hpp"

#include <hiredis/async.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "horao/app/metrics.hpp"
#include "horao/persist/redis_asio.hpp"
#include "horao/persist/redis_metrics.hpp"

namespace horao::persist {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

bool power_of_two(std::uint64_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

std::string context_error(const redisAsyncContext* ac, const char* fallback) {
  if (ac != nullptr && ac->err != 0 && ac->errstr != nullptr && ac->errstr[0] != '\0') return ac->errstr;
  if (ac != nullptr && ac->c.err != 0 && ac->c.errstr[0] != '\0') return ac->c.errstr;
  return fallback;
}

}  // namespace

redis_connection::redis_connection(asio::io_context& io, redis_connection_options options,
                                   app::metric_registry* metrics)
    : io_(io),
      options_(std::move(options)),
      metrics_(metrics),
      resolver_(io),
      connect_timer_(io),
      backoff_timer_(io),
      jitter_(std::random_device{}()) {
  if (options_.command_timeout <= milliseconds::zero()) options_.command_timeout = milliseconds(2000);
  if (options_.backoff_initial <= milliseconds::zero()) options_.backoff_initial = milliseconds(100);
  options_.backoff_max = std::max(options_.backoff_max, options_.backoff_initial);
  if (metrics_) {
    describe_redis_metrics(*metrics_);
    metrics_->gauge_set(metric_connected, 0);
  }
}

redis_connection::~redis_connection() {
  // Nobody can be waiting for a state change any more; pending handlers are
  // still answered (posted), and the context is freed exactly once.
  phase_ = phase::stopped;
  close_context(redis_status::stopped, "connection destroyed");
  fail_all(redis_status::stopped, "connection destroyed");
}

void redis_connection::start() {
  if (phase_ != phase::idle) return;
  do_connect();
}

void redis_connection::stop() {
  if (phase_ == phase::stopped) return;
  const bool was_ready = phase_ == phase::ready;
  phase_ = phase::stopped;
  connect_timer_.cancel();
  backoff_timer_.cancel();
  resolver_.cancel();
  close_context(redis_status::stopped, "connection stopped");
  fail_all(redis_status::stopped, "connection stopped");
  last_error_ = "stopped";
  if (was_ready) {
    spdlog::info("redis: disconnected from {} (stopped)", options_.endpoint.redacted());
    set_connected(false);
  }
}

void redis_connection::drop(const std::string& reason) {
  if (phase_ == phase::ready || phase_ == phase::connecting || phase_ == phase::resolving)
    lose(redis_status::connection_lost, reason);
}

// ---- connecting ----

void redis_connection::do_connect() {
  ++attempt_;
  phase_ = phase::resolving;
  connect_timer_.expires_after(options_.command_timeout);
  connect_timer_.async_wait(
      [weak = weak_from_this(), attempt = attempt_](const boost::system::error_code& ec) {
        if (auto self = weak.lock()) self->on_connect_deadline(attempt, ec);
      });
  const auto& ep = options_.endpoint;
  if (ep.kind == redis_endpoint::transport::unix_socket) {
    do_open({});
    return;
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(ep.host, ec);
  if (!ec) {
    do_open(address.to_string());
    return;
  }
  // Host names are resolved by Asio (off the loop), never by hiredis's
  // blocking getaddrinfo.
  resolver_.async_resolve(
      ep.host, std::to_string(ep.port),
      [weak = weak_from_this(), attempt = attempt_](const boost::system::error_code& rec,
                                                    const asio::ip::tcp::resolver::results_type& results) {
        if (auto self = weak.lock()) self->on_resolve(attempt, rec, results);
      });
}

void redis_connection::on_resolve(std::uint64_t attempt, const boost::system::error_code& ec,
                                  const asio::ip::tcp::resolver::results_type& results) {
  if (attempt != attempt_ || phase_ != phase::resolving) return;
  if (ec || results.empty()) {
    lose(redis_status::connection_lost,
         "cannot resolve " + options_.endpoint.host + ": " + (ec ? ec.message() : "no address"));
    return;
  }
  do_open(results.begin()->endpoint().address().to_string());
}

void redis_connection::do_open(const std::string& address) {
  phase_ = phase::connecting;
  const auto& ep = options_.endpoint;
  redisAsyncContext* ac = ep.kind == redis_endpoint::transport::unix_socket
                              ? redisAsyncConnectUnix(ep.path.c_str())
                              : redisAsyncConnect(address.c_str(), ep.port);
  if (ac == nullptr) {
    lose(redis_status::connection_lost, "cannot allocate a Redis context");
    return;
  }
  if (ac->err != 0) {  // e.g. ECONNREFUSED at once on loopback
    const std::string message = "connect failed: " + context_error(ac, "unknown error");
    redisAsyncFree(ac);
    lose(redis_status::connection_lost, message);
    return;
  }
  ac->data = this;
  auto adapter = redis_asio::attach(io_, ac, [weak = weak_from_this()](redisAsyncContext* freed) {
    if (auto self = weak.lock()) self->on_context_freed(freed);
  });
  if (!adapter) {
    ac->data = nullptr;
    redisAsyncFree(ac);
    lose(redis_status::connection_lost, "cannot register the Redis connection with the event loop");
    return;
  }
  ac_ = ac;
  redisAsyncSetConnectCallback(ac, &redis_connection::connect_thunk);

  // Queued before the TCP connection is up: hiredis writes them once it is.
  resp_pipeline login;
  if (!ep.password.empty()) {
    if (ep.user.empty())
      login.add({"AUTH", ep.password});
    else
      login.add({"AUTH", ep.user, ep.password});
  }
  if (ep.db != 0) login.add({"SELECT", std::to_string(ep.db)});
  login.add({"PING"});
  submit(
      login,
      [weak = weak_from_this(), attempt = attempt_](redis_result r) {
        if (auto self = weak.lock()) self->on_login(attempt, std::move(r));
      },
      options_.command_timeout);
}

void redis_connection::on_login(std::uint64_t attempt, redis_result result) {
  if (attempt != attempt_ || phase_ != phase::connecting) return;
  // A transport failure already went through lose(), which reconnects.
  if (!result.ok()) return;
  for (const auto& reply : result.replies) {
    if (reply.is_error() && reply.str.starts_with("LOADING")) {  // restarted, reading its AOF/RDB
      spdlog::info("redis: {} is loading its data set; retrying", options_.endpoint.redacted());
      lose(redis_status::connection_lost, "redis is loading its data set");
      return;
    }
    if (reply.is_error()) {
      // Redis's message (e.g. WRONGPASS ...) never contains the password.
      spdlog::error("redis: login to {} refused: {}", options_.endpoint.redacted(), reply.str);
      if (metrics_) metrics_->counter_add(metric_errors, {{"kind", "reply"}});
      lose(redis_status::connection_lost, "login refused: " + reply.str);
      return;
    }
  }
  if (result.replies.empty() || !result.replies.back().is_status("PONG")) {
    lose(redis_status::connection_lost, "unexpected reply to PING");
    return;
  }
  connect_timer_.cancel();
  phase_ = phase::ready;
  failures_in_a_row_ = 0;
  ++connections_;
  spdlog::info("redis: connected to {}", options_.endpoint.redacted());
  set_connected(true);
}

void redis_connection::on_connect_deadline(std::uint64_t attempt, const boost::system::error_code& ec) {
  if (ec || attempt != attempt_) return;
  if (phase_ != phase::resolving && phase_ != phase::connecting) return;
  if (metrics_) metrics_->counter_add(metric_errors, {{"kind", "timeout"}});
  lose(redis_status::timeout,
       "connect and login did not finish within " + std::to_string(options_.command_timeout.count()) + " ms");
}

// ---- hiredis callbacks: record and post, nothing else ----

void redis_connection::connect_thunk(const redisAsyncContext* ac, int status) noexcept {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (self == nullptr || status == REDIS_OK) return;
  try {
    // hiredis frees the context right after this; cleanup reports it.
    self->last_error_ = "connect failed: " + context_error(ac, "unknown error");
  } catch (...) {
  }
}

void redis_connection::reply_thunk(redisAsyncContext* ac, void* reply, void* privdata) noexcept {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (self == nullptr) return;
  try {
    self->on_reply(ac, static_cast<redisReply*>(reply), reinterpret_cast<std::uintptr_t>(privdata));
  } catch (const std::exception& e) {
    spdlog::error("redis: error while handling a reply: {}", e.what());
  } catch (...) {
  }
}

void redis_connection::on_reply(redisAsyncContext* ac, redisReply* reply, std::uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // answered already (timeout, teardown)
  if (reply == nullptr) {
    // hiredis is freeing the context: either we are (close_context) or it
    // is, after an I/O error.
    if (ac == ac_)
      complete(id, redis_status::connection_lost, context_error(ac, "connection closed"));
    else
      complete(id, closing_status_, closing_reason_);
    return;
  }
  it->second.replies.push_back(copy_reply(*reply));
  if (it->second.replies.size() == it->second.expected) complete(id, redis_status::ok, {});
}

void redis_connection::on_context_freed(redisAsyncContext* ac) {
  // Inside hiredis (redisAsyncFree): only note it and post the rest.
  if (ac == nullptr || ac != ac_) return;  // we freed it ourselves
  ac_ = nullptr;                           // ready() is false from here on
  if (metrics_) metrics_->gauge_set(metric_connected, 0);
  std::string why = context_error(ac, "connection closed by the server");
  asio::post(io_, [weak = weak_from_this(), attempt = attempt_, why = std::move(why)] {
    auto self = weak.lock();
    if (self && self->attempt_ == attempt) self->lose(redis_status::connection_lost, why);
  });
}

// ---- pipelines ----

void redis_connection::execute(const command& c, handler done, milliseconds timeout) {
  execute(std::span<const command>(&c, 1), std::move(done), timeout);
}

void redis_connection::execute(std::span<const command> commands, handler done, milliseconds timeout) {
  resp_pipeline p;
  for (const auto& c : commands) {
    if (c.empty()) {
      spdlog::error("redis: refusing a pipeline with an empty command (a bug)");
      deliver(done, redis_result{redis_status::connection_lost, "invalid pipeline: empty command", {}});
      return;
    }
    p.add(c);
  }
  execute(p, std::move(done), timeout);
}

void redis_connection::execute(const resp_pipeline& commands, handler done, milliseconds timeout) {
  if (phase_ != phase::ready || ac_ == nullptr) {
    redis_result r;
    r.status = phase_ == phase::stopped ? redis_status::stopped : redis_status::not_connected;
    r.message = last_error_.empty() ? "not connected" : "not connected: " + last_error_;
    deliver(done, std::move(r));
    return;
  }
  submit(commands, std::move(done), timeout);
}

std::uint64_t redis_connection::submit(const resp_pipeline& commands, handler done, milliseconds timeout) {
  const std::uint64_t id = next_id_++;
  if (commands.empty()) {
    deliver(done, redis_result{});
    return id;
  }
  if (!commands.complete()) {
    spdlog::error("redis: refusing a pipeline whose last command lacks arguments (a bug)");
    deliver(done, redis_result{redis_status::connection_lost, "invalid pipeline: incomplete command", {}});
    return id;
  }
  if (timeout <= milliseconds::zero()) timeout = options_.command_timeout;
  auto& p = pending_[id];
  p.expected = commands.size();
  p.done = std::move(done);
  p.timeout = timeout;
  p.timer = std::make_unique<asio::steady_timer>(io_, timeout);
  p.timer->async_wait([weak = weak_from_this(), id](const boost::system::error_code& ec) {
    if (auto self = weak.lock()) self->on_pipeline_deadline(id, ec);
  });

  // One formatted command per call: hiredis queues one reply callback each.
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const std::string_view text = commands.command(i);
    if (redisAsyncFormattedCommand(ac_, &redis_connection::reply_thunk,
                                   reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), text.data(),
                                   text.size()) != REDIS_OK) {
      complete(id, redis_status::connection_lost, "the connection is closing");
      lose(redis_status::connection_lost, "hiredis refused a command: the connection is closing");
      return id;
    }
  }
  // Sent now rather than after the handlers queued meanwhile (redis_asio);
  // not while connecting, where hiredis writes once the connection is up.
  if (phase_ == phase::ready) redis_asio::write_now(ac_);
  return id;
}

void redis_connection::on_pipeline_deadline(std::uint64_t id, const boost::system::error_code& ec) {
  if (ec || !pending_.contains(id)) return;
  if (metrics_) metrics_->counter_add(metric_errors, {{"kind", "timeout"}});
  const auto limit = pending_[id].timeout.count();
  complete(id, redis_status::timeout, "no reply from Redis within " + std::to_string(limit) + " ms");
  spdlog::warn("redis: a command to {} got no reply before its deadline; closing the connection",
               options_.endpoint.redacted());
  lose(redis_status::connection_lost, "closed after a command timed out");
}

void redis_connection::complete(std::uint64_t id, redis_status status, std::string message) {
  auto node = pending_.extract(id);
  if (node.empty()) return;
  pipeline& p = node.mapped();
  if (p.timer) p.timer->cancel();
  redis_result r;
  r.status = status;
  r.message = std::move(message);
  if (status == redis_status::ok) r.replies = std::move(p.replies);
  deliver(p.done, std::move(r));
}

void redis_connection::deliver(handler& done, redis_result result) {
  if (!done) return;
  asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
    try {
      done(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("redis: a completion handler threw: {}", e.what());
    } catch (...) {
      spdlog::error("redis: a completion handler threw");
    }
  });
}

// ---- teardown ----

void redis_connection::close_context(redis_status status, const std::string& reason) {
  redisAsyncContext* ac = std::exchange(ac_, nullptr);
  if (ac == nullptr) return;
  closing_status_ = status;
  closing_reason_ = reason;
  // Runs the pending callbacks with no reply (answered with closing_*),
  // then the adapter's cleanup (which sees ac != ac_ and stays quiet).
  redisAsyncFree(ac);
}

void redis_connection::fail_all(redis_status status, const std::string& reason) {
  while (!pending_.empty()) complete(pending_.begin()->first, status, reason);
}

void redis_connection::lose(redis_status status, const std::string& reason) {
  if (phase_ == phase::stopped || phase_ == phase::backoff || phase_ == phase::idle) {
    close_context(status, reason);
    fail_all(status, reason);
    return;
  }
  const bool was_ready = phase_ == phase::ready;
  last_error_ = reason;
  ++attempt_;  // anything posted for the lost connection is now stale
  connect_timer_.cancel();
  resolver_.cancel();
  close_context(status, reason);
  fail_all(status, reason);
  if (metrics_) metrics_->counter_add(metric_errors, {{"kind", "connection"}});
  if (was_ready) {
    spdlog::info("redis: connection to {} lost: {}", options_.endpoint.redacted(), reason);
    set_connected(false);
  }
  schedule_reconnect();
}

void redis_connection::schedule_reconnect() {
  phase_ = phase::backoff;
  ++failures_in_a_row_;
  const auto shift = std::min<std::uint64_t>(failures_in_a_row_ - 1, 20);
  const auto initial = options_.backoff_initial.count();
  const auto cap = options_.backoff_max.count();
  const std::int64_t ceiling = std::min<std::int64_t>(cap, initial << shift);
  // "Equal jitter": half fixed, half random, so peers that lost Redis at the
  // same moment do not come back in lockstep.
  std::uniform_int_distribution<std::int64_t> random_half(0, ceiling / 2);
  const milliseconds delay(ceiling - ceiling / 2 + random_half(jitter_));
  if (metrics_) metrics_->counter_add(metric_reconnects);
  if (power_of_two(failures_in_a_row_))
    spdlog::info("redis: reconnecting to {} in {} ms (attempt {}): {}", options_.endpoint.redacted(),
                 delay.count(), failures_in_a_row_, last_error_);
  else
    spdlog::debug("redis: reconnecting to {} in {} ms (attempt {}): {}", options_.endpoint.redacted(),
                  delay.count(), failures_in_a_row_, last_error_);
  backoff_timer_.expires_after(delay);
  backoff_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!ec && self && self->phase_ == phase::backoff) self->do_connect();
  });
}

void redis_connection::set_connected(bool up) {
  if (metrics_) metrics_->gauge_set(metric_connected, up ? 1 : 0);
  // Posted: observers never run inside execute(), stop() or a timeout path.
  asio::post(io_, [weak = weak_from_this(), up] {
    auto self = weak.lock();
    if (!self) return;
    for (std::size_t i = 0; i < self->observers_.size(); ++i) {
      try {
        self->observers_[i](up);
      } catch (const std::exception& e) {
        spdlog::error("redis: a state observer threw: {}", e.what());
      }
    }
  });
}

}  // namespace horao::persist
