#include "redis_server_fixture.hpp"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace horao::test {
namespace {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

redis_server::redis_server(options o) : options_(std::move(o)) {
  std::string templ = (std::filesystem::temp_directory_path() / "horao-redis-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  if (!options_.start) {
    port_ = free_port();
    return;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    if (launch()) return;
  }
  throw std::runtime_error("redis-server did not start; see " + dir_ + "/redis.log");
}

redis_server::~redis_server() {
  reap(SIGKILL);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string redis_server::url() const {
  std::string auth = options_.password.empty() ? "" : ":" + options_.password + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_);
}

void redis_server::start() {
  if (pid_ > 0) return;
  if (!launch()) throw std::runtime_error("redis-server did not restart; see " + dir_ + "/redis.log");
}

bool redis_server::launch() {
  std::vector<std::string> args{"redis-server",
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "yes",
                                "--dir",
                                dir_,
                                "--unixsocket",
                                socket_path(),
                                "--unixsocketperm",
                                "700",
                                "--logfile",
                                dir_ + "/redis.log",
                                "--daemonize",
                                "no"};
  if (!options_.password.empty()) {
    args.push_back("--requirepass");
    args.push_back(options_.password);
  }
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("redis-server", argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  paused_ = false;
  // Poll until it answers (or exits: the port was taken after all).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    try {
      // Ours, not another test's server that took the same free port first:
      // the directory is unique to this fixture.
      auto dir = command({"CONFIG", "GET", "dir"});
      if (dir.is_array() && dir.elements.size() == 2 &&
          std::filesystem::equivalent(dir.elements[1].str, dir_))
        return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a child process, not the loop
  }
  reap(SIGKILL);
  return false;
}

void redis_server::reap(int signal) {
  if (pid_ <= 0) return;
  if (paused_ && signal != SIGKILL) ::kill(pid_, SIGCONT);
  ::kill(pid_, signal);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  paused_ = false;
}

void redis_server::stop() {
  reap(SIGTERM);
}
void redis_server::kill() {
  reap(SIGKILL);
}

void redis_server::pause() {
  if (pid_ > 0 && !paused_) {
    ::kill(pid_, SIGSTOP);
    paused_ = true;
  }
}

void redis_server::resume() {
  if (pid_ > 0 && paused_) {
    ::kill(pid_, SIGCONT);
    paused_ = false;
  }
}

persist::redis_reply redis_server::command(const std::vector<std::string>& args) const {
  timeval timeout{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (c == nullptr || c->err) {
    std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    throw std::runtime_error("cannot connect to the test Redis: " + why);
  }
  redisSetTimeout(c, timeout);
  auto run = [c](const std::vector<std::string>& a) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& s : a) {
      argv.push_back(s.data());
      lengths.push_back(s.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (reply == nullptr) throw std::runtime_error(std::string("test Redis command failed: ") + c->errstr);
    persist::redis_reply out = persist::copy_reply(*reply);
    freeReplyObject(reply);
    return out;
  };
  try {
    if (!options_.password.empty()) run({"AUTH", options_.password});
    auto out = run(args);
    redisFree(c);
    return out;
  } catch (...) {
    redisFree(c);
    throw;
  }
}

}  // namespace horao::test
