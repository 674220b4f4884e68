#pragma once
// The few CBOR pieces (RFC 8949) HORAO writes and reads by hand on hot paths
// (replication frames), where building a JSON tree per record would cost
// more than the work itself.
//
// Invariants: heads are written in their shortest form; the reader never
// reads past its span, never allocates more than the input holds, and turns
// every malformed or unsupported item (indefinite lengths where a definite
// one is required, tags, floats, lengths beyond the input) into an error
// instead of an exception.

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace horao::crdt::cbor {

enum major : std::uint8_t {
  unsigned_int = 0,
  negative_int = 1,
  byte_string = 2,
  text_string = 3,
  array = 4,
  map = 5,
  tag = 6,
  simple = 7
};

inline constexpr std::uint8_t null_byte = 0xf6;
inline constexpr std::uint8_t break_byte = 0xff;

void put_head(std::vector<std::uint8_t>& out, std::uint8_t major, std::uint64_t value);
void put_text(std::vector<std::uint8_t>& out, std::string_view text);

// The same, in two steps for writers that size their output once and then
// fill it through a pointer (a record written to Redis or into a frame):
// head_size/text_size give the exact byte count, write_head/write_text
// write that many bytes at `out` and return the end.
constexpr std::size_t head_size(std::uint64_t value) {
  return value < 24 ? 1 : value <= 0xff ? 2 : value <= 0xffff ? 3 : value <= 0xffffffffULL ? 5 : 9;
}
constexpr std::size_t text_size(std::string_view text) {
  return head_size(text.size()) + text.size();
}
inline std::uint8_t* write_head(std::uint8_t* out, std::uint8_t major, std::uint64_t value) {
  const auto m = static_cast<std::uint8_t>(major << 5);
  if (value < 24) {
    *out = static_cast<std::uint8_t>(m | value);
    return out + 1;
  }
  const std::size_t bytes = head_size(value) - 1;  // 1, 2, 4 or 8
  // Additional information 24..27 says 1, 2, 4 or 8 bytes follow.
  const auto info = static_cast<std::uint8_t>(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27);
  *out++ = static_cast<std::uint8_t>(m | info);
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * (bytes - 1 - i)));
  return out + bytes;
}
inline std::uint8_t* write_text(std::uint8_t* out, std::string_view text) {
  out = write_head(out, text_string, text.size());
  if (!text.empty()) std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

// A cursor over one encoded buffer.
class reader {
 public:
  explicit reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool at_end() const { return pos_ >= bytes_.size(); }
  std::size_t position() const { return pos_; }
  // The next byte without consuming it (0 at the end).
  std::uint8_t peek() const { return at_end() ? 0 : bytes_[pos_]; }
  void skip_byte() { ++pos_; }

  // A definite head of the given major type; its argument.
  std::optional<std::uint64_t> head(std::uint8_t major);
  std::optional<std::uint64_t> unsigned_value() { return head(unsigned_int); }
  // A definite text string, viewed in place (not validated as UTF-8 here).
  std::optional<std::string_view> text();
  // A definite array's length.
  std::optional<std::uint64_t> array_length() { return head(array); }
  // Steps over one whole item of any type (definite or indefinite lengths,
  // tags, floats); false when it is malformed, truncated or nests deeper
  // than `max_depth`.
  bool skip(std::size_t max_depth);

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

}  // namespace horao::crdt::cbor
