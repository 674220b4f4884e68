#pragma once
// Shared helpers of the Redis tests: an io_context run in the test thread
// with a deadline (never a sleep), and log capture.
//
// Invariants: run_until() returns as soon as the predicate holds, false when
// the deadline passes first; the work guard keeps run_one_for() waiting for
// timers and sockets instead of returning at once.

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace horao::test {

struct io_harness {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};

  template <class Predicate>
  bool run_until(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  // Runs the loop for a fixed time: only to check that something does NOT
  // happen within a window the code under test defines.
  void run_for(std::chrono::milliseconds span) {
    const auto deadline = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < deadline) io.run_one_until(deadline);
  }
};

// Routes spdlog's default logger into a ring buffer for the scope.
class log_capture {
 public:
  log_capture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)),
        previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~log_capture() { spdlog::set_default_logger(previous_); }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  std::vector<std::string> lines() const { return sink_->last_formatted(); }
  bool contains(const std::string& text) const {
    for (const auto& line : lines())
      if (line.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace horao::test
