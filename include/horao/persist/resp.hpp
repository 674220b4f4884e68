#pragma once
// Redis commands in their wire form: RESP2 arrays of bulk strings, what
// redis-cli sends. HORAO writes this text itself instead of handing argument
// vectors to hiredis's printf-style formatter, so that the batch writer puts
// each record's bytes straight into the text Redis gets (no vector of
// arguments, no copy per argument, no formatting pass), and a whole pipeline
// is one buffer, reused from batch to batch.
//
// Invariants:
//  * every command holds exactly the number of arguments its begin()
//    announced; a command added past that count, or a command begun before
//    the previous one is complete, is a bug and throws std::logic_error;
//  * command(i) is the exact text of the i-th command, and the commands lie
//    back to back in text();
//  * the address arg_space() returns stays valid until the next call that
//    adds to the pipeline.

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace horao::persist {

class resp_pipeline {
 public:
  // Forgets the commands; keeps the buffer unless it outgrew `keep_bytes`
  // (one exceptional batch should not pin megabytes for the daemon's life).
  void clear(std::size_t keep_bytes = 1u << 20);

  // Starts a command of `args` arguments, its name included (args >= 1).
  void begin(std::size_t args);
  void arg(std::string_view bytes);
  // One argument made of two pieces, written back to back (a key prefix and a key).
  void arg(std::string_view first, std::string_view second);
  // One argument of `size` bytes that the caller writes at the returned
  // address before adding anything else.
  char* arg_space(std::size_t size);

  // A whole command at once.
  void add(std::initializer_list<std::string_view> argv);
  void add(std::span<const std::string> argv);

  // Commands begun so far.
  std::size_t size() const { return starts_.size(); }
  bool empty() const { return starts_.empty(); }
  // False while the last command still waits for arguments.
  bool complete() const { return args_left_ == 0; }
  std::string_view command(std::size_t i) const;
  std::string_view text() const { return text_; }

 private:
  void take_arg();
  void append_head(char type, std::size_t n);

  std::string text_;
  std::vector<std::size_t> starts_;  // offset of each command in text_
  std::size_t args_left_ = 0;
};

}  // namespace horao::persist
