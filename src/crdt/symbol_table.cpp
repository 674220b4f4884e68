#include "horao/crdt/symbol_table.hpp"

namespace horao::crdt {

symbol_table::symbol_table() {
  // Id 0 is the empty name, so that a value-initialised id means "none".
  intern("");
}

std::optional<std::uint32_t> symbol_table::intern(std::string_view name) {
  if (name.size() > max_name_length) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  const std::uint32_t id = size_.load(std::memory_order_relaxed);
  if (id >= capacity) return std::nullopt;
  const std::uint32_t chunk = id / chunk_size;
  if (!owned_[chunk]) {
    owned_[chunk] = std::make_unique<std::string[]>(chunk_size);
    chunks_[chunk].store(owned_[chunk].get(), std::memory_order_release);
  }
  std::string& slot = owned_[chunk][id % chunk_size];
  slot.assign(name);
  ids_.emplace(std::string_view(slot), id);
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
