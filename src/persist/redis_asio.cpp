#include "horao/persist/redis_asio.hpp"

#include <hiredis/async.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace horao::persist {

namespace asio = boost::asio;

redis_asio::redis_asio(asio::io_context& io) : descriptor_(io) {}

redis_asio::~redis_asio() {
  // Only reachable once detached (self_ keeps an attached adapter alive);
  // never close hiredis's fd.
  if (descriptor_.is_open()) (void)descriptor_.release();
}

std::shared_ptr<redis_asio> redis_asio::attach(asio::io_context& io, redisAsyncContext* ac,
                                               freed_handler on_freed) {
  if (ac == nullptr || ac->ev.data != nullptr || ac->c.fd < 0) return nullptr;
  auto adapter = std::make_shared<redis_asio>(io);
  boost::system::error_code ec;
  adapter->descriptor_.assign(ac->c.fd, ec);
  if (ec) {
    spdlog::error("redis: cannot register the connection with the event loop: {}", ec.message());
    return nullptr;
  }
  adapter->ac_ = ac;
  adapter->on_freed_ = std::move(on_freed);
  adapter->self_ = adapter;
  ac->ev.data = adapter.get();
  ac->ev.addRead = &redis_asio::add_read;
  ac->ev.delRead = &redis_asio::del_read;
  ac->ev.addWrite = &redis_asio::add_write;
  ac->ev.delWrite = &redis_asio::del_write;
  ac->ev.cleanup = &redis_asio::cleanup;
  return adapter;
}

// ---- hooks, called by hiredis ----

void redis_asio::add_read(void* p) noexcept {
  auto* self = static_cast<redis_asio*>(p);
  self->want_read_ = true;
  self->do_wait_read();
}

void redis_asio::del_read(void* p) noexcept {
  static_cast<redis_asio*>(p)->want_read_ = false;
}

void redis_asio::add_write(void* p) noexcept {
  auto* self = static_cast<redis_asio*>(p);
  self->want_write_ = true;
  // hiredis asks again from inside an attempt that could not write it all:
  // now wait until the socket takes more.
  if (self->in_write_attempt_) return self->do_wait_write();
  self->post_write_attempt();
}

void redis_asio::del_write(void* p) noexcept {
  static_cast<redis_asio*>(p)->want_write_ = false;
}

void redis_asio::cleanup(void* p) noexcept {
  static_cast<redis_asio*>(p)->on_cleanup();
}

// ---- waits ----

void redis_asio::do_wait_read() {
  if (reading_ || ac_ == nullptr) return;
  try {
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->on_read(ec); });
    reading_ = true;
  } catch (const std::exception& e) {  // allocation failure: hiredis's next hook call retries
    spdlog::error("redis: cannot wait for the connection to be readable: {}", e.what());
  }
}

void redis_asio::on_read(const boost::system::error_code& ec) {
  reading_ = false;
  if (ec || ac_ == nullptr || !want_read_) return;
  // May free the context (an error, or the server closed the connection):
  // cleanup() then clears ac_. hiredis re-arms reads itself (add_read).
  in_hiredis_ = true;
  redisAsyncHandleRead(ac_);
  in_hiredis_ = false;
}

void redis_asio::post_write_attempt() {
  if (write_posted_ || writing_ || ac_ == nullptr) return;
  try {
    // Posted, not done here: hiredis calls this hook from inside its own
    // functions, which must not be re-entered.
    asio::post(descriptor_.get_executor(), [self = shared_from_this()] { self->on_write_attempt(); });
    write_posted_ = true;
  } catch (const std::exception& e) {
    spdlog::error("redis: cannot schedule a write: {}", e.what());
    do_wait_write();
  }
}

void redis_asio::on_write_attempt() {
  write_posted_ = false;
  try_write();
}

void redis_asio::write_now(redisAsyncContext* ac) noexcept {
  auto* self = ac != nullptr ? static_cast<redis_asio*>(ac->ev.data) : nullptr;
  if (self == nullptr) return;
  // A cleanup inside the write drops the adapter's own reference.
  const auto keep = self->shared_from_this();
  self->try_write();
}

void redis_asio::try_write() {
  if (ac_ == nullptr || !want_write_ || writing_ || in_hiredis_) return;
  in_write_attempt_ = in_hiredis_ = true;
  redisAsyncHandleWrite(ac_);  // may free the context: cleanup() clears ac_
  in_write_attempt_ = in_hiredis_ = false;
}

void redis_asio::do_wait_write() {
  if (writing_ || ac_ == nullptr) return;
  try {
    descriptor_.async_wait(
        asio::posix::stream_descriptor::wait_write,
        [self = shared_from_this()](const boost::system::error_code& ec) { self->on_write(ec); });
    writing_ = true;
  } catch (const std::exception& e) {
    spdlog::error("redis: cannot wait for the connection to be writable: {}", e.what());
  }
}

void redis_asio::on_write(const boost::system::error_code& ec) {
  writing_ = false;
  if (ec || ac_ == nullptr || !want_write_) return;
  in_hiredis_ = true;
  redisAsyncHandleWrite(ac_);
  in_hiredis_ = false;
}

void redis_asio::on_cleanup() {
  // Called from inside redisAsyncFree, just before hiredis closes the fd.
  auto keep = std::move(self_);
  redisAsyncContext* freed = ac_;
  ac_ = nullptr;
  want_read_ = want_write_ = false;
  if (freed) {
    freed->ev.data = nullptr;
    freed->ev.addRead = freed->ev.delRead = freed->ev.addWrite = freed->ev.delWrite = nullptr;
    freed->ev.cleanup = nullptr;
  }
  // release() cancels the outstanding waits (operation_aborted) and
  // deregisters the fd without closing it: hiredis closes it.
  if (descriptor_.is_open()) (void)descriptor_.release();
  if (auto fn = std::move(on_freed_)) {
    try {
      fn(freed);
    } catch (const std::exception& e) {
      spdlog::error("redis: error while handling a closed connection: {}", e.what());
    }
  }
}

}  // namespace horao::persist
