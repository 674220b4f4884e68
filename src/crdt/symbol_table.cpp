#include "horao/crdt/symbol_table.hpp"

#include "horao/crdt/digest.hpp"

namespace horao::crdt {

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

symbol_table::symbol_table() {
  // Id 0 is the empty name, so that a value-initialised id means "none".
  intern("");
}

std::optional<std::uint32_t> symbol_table::intern(std::string_view name) {
  if (name.size() > max_name_length) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  // Checked once per new name: names end up in JSON, whose dump() throws on
  // invalid UTF-8 far from where the name came in (CBOR does not validate).
  if (!valid_utf8(name)) return std::nullopt;
  const std::uint32_t id = size_.load(std::memory_order_relaxed);
  if (id >= capacity) return std::nullopt;
  const std::uint32_t chunk = id / chunk_size;
  if (!owned_[chunk]) {
    owned_[chunk] = std::make_unique<entry[]>(chunk_size);
    chunks_[chunk].store(owned_[chunk].get(), std::memory_order_release);
  }
  entry& e = owned_[chunk][id % chunk_size];
  e.text.assign(name);
  e.hash = hash_name(name);
  // Published by the release store of size_ below: a reader that sees the
  // id sees its text and hash.
  ids_.emplace(std::string_view(e.text), id);
  size_.store(id + 1, std::memory_order_release);
  return id;
}

std::optional<std::uint32_t> symbol_table::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  return std::nullopt;
}

symbol_table& node_names() {
  static symbol_table table;
  return table;
}

symbol_table& field_names() {
  static symbol_table table;
  return table;
}

}  // namespace horao::crdt
