#include "horao/crdt/cbor.hpp"

namespace horao::crdt::cbor {

void put_head(std::vector<std::uint8_t>& out, std::uint8_t major, std::uint64_t value) {
  const std::size_t at = out.size();
  out.resize(at + head_size(value));
  write_head(out.data() + at, major, value);
}

void put_text(std::vector<std::uint8_t>& out, std::string_view text) {
  const std::size_t at = out.size();
  out.resize(at + text_size(text));
  write_text(out.data() + at, text);
}

std::optional<std::uint64_t> reader::head(std::uint8_t major) {
  if (at_end() || (bytes_[pos_] >> 5) != major) return std::nullopt;
  const std::uint8_t info = bytes_[pos_] & 0x1f;
  if (info < 24) {
    ++pos_;
    return info;
  }
  if (info > 27) return std::nullopt;  // reserved, or indefinite length
  const std::size_t n = std::size_t{1} << (info - 24);
  if (bytes_.size() - pos_ - 1 < n) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 1; i <= n; ++i) value = (value << 8) | bytes_[pos_ + i];
  pos_ += 1 + n;
  return value;
}

std::optional<std::string_view> reader::text() {
  const auto length = head(text_string);
  if (!length || *length > bytes_.size() - pos_) return std::nullopt;
  std::string_view view(reinterpret_cast<const char*>(bytes_.data() + pos_), *length);
  pos_ += *length;
  return view;
}

bool reader::skip(std::size_t max_depth) {
  if (at_end() || max_depth == 0) return false;
  const std::uint8_t initial = bytes_[pos_];
  const std::uint8_t kind = initial >> 5;
  const std::uint8_t info = initial & 0x1f;
  if (info == 31) {  // indefinite length: items (or string chunks) until a break
    if (kind < byte_string || kind == tag || kind == simple) return false;
    ++pos_;
    const std::size_t per_entry = kind == map ? 2 : 1;
    while (peek() != break_byte) {
      for (std::size_t i = 0; i < per_entry; ++i)
        if (!skip(max_depth - 1)) return false;
    }
    ++pos_;
    return true;
  }
  if (kind == simple) {  // simple values and floats: the argument is the payload
    if (info > 27) return false;
    const std::size_t n = info < 24 ? 0 : std::size_t{1} << (info - 24);
    if (bytes_.size() - pos_ - 1 < n) return false;
    pos_ += 1 + n;
    return true;
  }
  const auto argument = head(kind);
  if (!argument) return false;
  switch (kind) {
    case unsigned_int:
    case negative_int:
      return true;
    case byte_string:
    case text_string:
      if (*argument > bytes_.size() - pos_) return false;
      pos_ += *argument;
      return true;
    case tag:
      return skip(max_depth - 1);
    default: {  // array, map: never trust the count beyond what the input can hold
      const std::uint64_t items = kind == map ? 2 * *argument : *argument;
      if (*argument > bytes_.size() - pos_) return false;
      for (std::uint64_t i = 0; i < items; ++i)
        if (!skip(max_depth - 1)) return false;
      return true;
    }
  }
}

}  // namespace horao::crdt::cbor
