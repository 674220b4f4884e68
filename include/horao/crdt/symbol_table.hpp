#pragma once
// Interned names (node ids and field names) for compact CRDT state.
//
// Invariants: a name, once interned, keeps its id for the life of the process;
// two ids are equal exactly when their names are equal; id 0 is the empty name.
// Reads (`name`) are lock-free and safe while another thread interns; the table
// is bounded (`capacity`), so untrusted input cannot grow it without limit:
// `intern` returns nullopt when the table is full, the name is too long or it
// is not valid UTF-8 (names end up in JSON).
// Ids are process-local: anything that leaves the process (digests, the wire,
// Redis) uses the names, or `hash(id)`, a fixed 64-bit hash of the name that
// is the same on every daemon (the digest feeds it instead of the text).

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace horao::crdt {

class symbol_table {
 public:
  static constexpr std::uint32_t chunk_size = 1024;
  static constexpr std::uint32_t chunk_count = 64;
  static constexpr std::uint32_t capacity = chunk_size * chunk_count;
  static constexpr std::size_t max_name_length = 255;

  symbol_table();
  symbol_table(const symbol_table&) = delete;
  symbol_table& operator=(const symbol_table&) = delete;

  std::optional<std::uint32_t> intern(std::string_view name);
  std::optional<std::uint32_t> find(std::string_view name) const;
  const std::string& name(std::uint32_t id) const { return slot(id).text; }
  // The name as a JSON object member's opening, `"name":`, written once when
  // interned: answers write it for every field they show.
  const std::string& json_member(std::uint32_t id) const { return slot(id).member; }
  std::uint64_t hash(std::uint32_t id) const { return slot(id).hash; }
  std::uint32_t size() const { return size_.load(std::memory_order_acquire); }

 private:
  struct entry {
    std::string text;
    std::string member;  // `"text":`
    std::uint64_t hash = 0;
  };
  const entry& slot(std::uint32_t id) const {
    return chunks_[id / chunk_size].load(std::memory_order_acquire)[id % chunk_size];
  }

  mutable std::mutex mutex_;
  std::array<std::atomic<entry*>, chunk_count> chunks_{};
  std::array<std::unique_ptr<entry[]>, chunk_count> owned_{};
  std::unordered_map<std::string_view, std::uint32_t> ids_;
  std::atomic<std::uint32_t> size_{0};
};

// The two process-wide tables. Inline: every stored field's name and stamp
// is read through them, several times per request.
inline symbol_table& node_names() {
  static symbol_table table;
  return table;
}
inline symbol_table& field_names() {
  static symbol_table table;
  return table;
}

}  // namespace horao::crdt
