#include "horao/crdt/symbol_table.hpp"

#include "horao/crdt/digest.hpp"
#include "horao/crdt/json_tape.hpp"
#include "horao/crdt/utf8.hpp"

namespace horao::crdt {

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
  e.member.clear();
  append_json_quoted(name, e.member);
  e.member += ':';
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

}  // namespace horao::crdt
