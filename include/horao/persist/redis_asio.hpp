#pragma once
// hiredis on the daemon's io_context (DESIGN §4): binds a redisAsyncContext's
// event hooks (addRead, delRead, addWrite, delWrite, cleanup) to an
// asio::posix::stream_descriptor. Readiness is awaited with async_wait and
// handed to redisAsyncHandleRead / redisAsyncHandleWrite: no second event
// loop, no thread, no blocking call.
//
// Invariants:
//  * at most one read wait and one write wait are outstanding; hiredis's
//    add/del calls only change what is wanted, so they are idempotent.
//  * writes are tried before they are waited for: when hiredis wants to
//    write, the adapter posts one attempt (the socket can almost always take
//    a batch at once), and waits for writability only if that attempt left
//    bytes behind. A batch then costs no epoll re-arm and no extra trip
//    through the event loop before it reaches Redis.
//  * write_now() makes that attempt at once, for a caller that has just
//    queued commands from outside hiredis: a posted attempt would wait
//    behind every handler the reactor queued meanwhile (a whole pass of
//    requests), and every connection whose write is in the batch waits with
//    it. Inside hiredis (its hooks and callbacks) it does nothing and the
//    posted attempt stays the way.
//  * the descriptor never closes hiredis's fd: on cleanup (called by hiredis
//    from inside redisAsyncFree, whichever way the context dies) the fd is
//    release()d, the outstanding waits finish with operation_aborted and do
//    nothing, and `on_freed(ac)` is called once, still inside hiredis: it must
//    only record the fact (no hiredis call, no user code).
//  * the adapter keeps itself alive while attached, and every handler holds a
//    reference, so hiredis never calls into a destroyed adapter and a handler
//    never touches a freed context.
//  * hiredis calls the hooks from inside its own functions: nothing here
//    throws across them.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <memory>

struct redisAsyncContext;

namespace horao::persist {

class redis_asio : public std::enable_shared_from_this<redis_asio> {
 public:
  using freed_handler = std::function<void(redisAsyncContext*)>;

  // Null when the context already has an event library attached or its fd
  // cannot be registered with the reactor; the caller then frees `ac`.
  static std::shared_ptr<redis_asio> attach(boost::asio::io_context& io, redisAsyncContext* ac,
                                            freed_handler on_freed);

  explicit redis_asio(boost::asio::io_context& io);
  redis_asio(const redis_asio&) = delete;
  redis_asio& operator=(const redis_asio&) = delete;
  ~redis_asio();

  bool attached() const { return ac_ != nullptr; }

  // Writes what hiredis holds for `ac` now (see the invariants). May free the
  // context, as any write can: the caller must not assume `ac` lives on.
  static void write_now(redisAsyncContext* ac) noexcept;

 private:
  static void add_read(void* self) noexcept;
  static void del_read(void* self) noexcept;
  static void add_write(void* self) noexcept;
  static void del_write(void* self) noexcept;
  static void cleanup(void* self) noexcept;

  void do_wait_read();
  void on_read(const boost::system::error_code& ec);
  void do_wait_write();
  void on_write(const boost::system::error_code& ec);
  void post_write_attempt();
  void on_write_attempt();
  void try_write();
  void on_cleanup();

  boost::asio::posix::stream_descriptor descriptor_;
  redisAsyncContext* ac_ = nullptr;
  freed_handler on_freed_;
  std::shared_ptr<redis_asio> self_;  // while attached
  bool want_read_ = false;
  bool want_write_ = false;
  bool reading_ = false;           // a read wait is outstanding
  bool writing_ = false;           // a write wait is outstanding
  bool write_posted_ = false;      // an immediate write attempt is posted
  bool in_write_attempt_ = false;  // inside that attempt: a further add_write means "wait"
  bool in_hiredis_ = false;        // inside redisAsyncHandleRead/Write: no re-entry
};

}  // namespace horao::persist
