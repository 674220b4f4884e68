#include "horao/persist/resp.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace horao::persist {

void resp_pipeline::clear(std::size_t keep_bytes) {
  if (text_.capacity() > keep_bytes) {
    std::string().swap(text_);
    std::vector<std::size_t>().swap(starts_);
  }
  text_.clear();
  starts_.clear();
  args_left_ = 0;
}

void resp_pipeline::append_head(char type, std::size_t n) {
  char head[24];
  head[0] = type;
  char* end = std::to_chars(head + 1, head + sizeof head - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  text_.append(head, static_cast<std::size_t>(end - head));
}

void resp_pipeline::begin(std::size_t args) {
  if (args == 0) throw std::logic_error("resp_pipeline: a command needs at least its name");
  if (args_left_ != 0) throw std::logic_error("resp_pipeline: the previous command lacks arguments");
  starts_.push_back(text_.size());
  args_left_ = args;
  append_head('*', args);
}

void resp_pipeline::take_arg() {
  if (args_left_ == 0) throw std::logic_error("resp_pipeline: more arguments than the command announced");
  --args_left_;
}

void resp_pipeline::arg(std::string_view bytes) {
  arg(bytes, {});
}

void resp_pipeline::arg(std::string_view first, std::string_view second) {
  take_arg();
  append_head('$', first.size() + second.size());
  text_.append(first).append(second).append("\r\n", 2);
}

char* resp_pipeline::arg_space(std::size_t size) {
  take_arg();
  append_head('$', size);
  const std::size_t at = text_.size();
  text_.resize(at + size + 2);
  std::memcpy(text_.data() + at + size, "\r\n", 2);
  return text_.data() + at;
}

void resp_pipeline::add(std::initializer_list<std::string_view> argv) {
  begin(argv.size());
  for (const auto a : argv) arg(a);
}

void resp_pipeline::add(std::span<const std::string> argv) {
  begin(argv.size());
  for (const auto& a : argv) arg(a);
}

std::string_view resp_pipeline::command(std::size_t i) const {
  const std::size_t end = i + 1 < starts_.size() ? starts_[i + 1] : text_.size();
  return std::string_view(text_).substr(starts_[i], end - starts_[i]);
}

}  // namespace horao::persist
