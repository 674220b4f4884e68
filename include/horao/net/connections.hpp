#pragma once
// The daemon's open connections (HTTP sessions now, WebSocket sessions of
// watch and peer links later), so that a graceful stop can reach them.
//
// Invariants: holds weak_ptrs only, so a connection's lifetime stays its own
// (DESIGN §10.2) and an entry disappears with its connection; once stop_all()
// ran, add() refuses newcomers and every live connection has been asked to
// stop exactly once. Single-threaded: the io_context's thread only.

#include <cstddef>
#include <memory>
#include <vector>

namespace horao::net {

class connection {
 public:
  virtual ~connection() = default;
  // Finish the exchange in progress (a request being read, handled or
  // answered), then close; close at once when idle. Never throws.
  virtual void stop() = 0;
};

class connection_set {
 public:
  // False when stopping: the caller closes the newcomer instead.
  bool add(std::weak_ptr<connection> c);
  // Connections still alive (somebody still owns them).
  std::size_t live();
  void stop_all();
  bool stopping() const { return stopping_; }

 private:
  void prune();

  std::vector<std::weak_ptr<connection>> items_;
  std::size_t prune_at_ = 64;
  bool stopping_ = false;
};

}  // namespace horao::net
