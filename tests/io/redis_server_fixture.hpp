#pragma once
// A real redis-server for the I/O tests: started on a free loopback port in a
// fresh temporary directory (--save '' --appendonly yes), stopped and removed
// afterwards. Plus a blocking client for setting up and checking Redis from
// the test thread (never from the io_context).
//
// Invariants: the server is a child process of the test; kill(), pause() and
// restart keep the same port and directory (so the AOF survives a kill -9);
// the destructor always reaps the child and removes the directory.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "horao/persist/redis_reply.hpp"

namespace horao::test {

class redis_server {
 public:
  struct options {
    std::string password;  // --requirepass when not empty
    bool start = true;
  };

  redis_server() : redis_server(options{}) {}
  explicit redis_server(options o);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  void start();   // on the same port and dir; waits until it answers PING
  void stop();    // SIGTERM, wait
  void kill();    // SIGKILL, wait
  void pause();   // SIGSTOP
  void resume();  // SIGCONT
  bool running() const { return pid_ > 0; }

  std::uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/redis.sock"; }
  std::string url() const;  // redis://[:password@]127.0.0.1:port

  // Blocking, one connection per call; throws std::runtime_error when Redis
  // cannot be reached.
  persist::redis_reply command(const std::vector<std::string>& args) const;

 private:
  bool launch();
  void reap(int signal);

  options options_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace horao::test
