#pragma once
// An open-addressing hash table keyed by object addresses, for indexes over
// records that never move (the store's records, see record_store.hpp).
//
// Why not std::unordered_map / std::set: an index of a million records pays
// a heap node (key, value, next pointer, cached hash) per entry in a
// node-based container, about 64 bytes and a cache miss each; here an entry
// is its slot, 8 or 16 bytes, and a lookup hashes a pointer instead of
// comparing key text.
//
// `Slot` is a trivially copyable struct whose first member is
// `const void* key`; a null key marks an empty slot, so null is not a valid
// key. Linear probing, at most 3/4 full, erase by backward shift (no
// tombstones, so lookups never slow down after many erases), and the table
// halves once it is less than 1/8 full (a parent that lost most of its
// children gives the memory back). Slots move when the table grows, shrinks
// or an entry is erased: never keep a Slot* across a change.
// pointer_set below is the common case of a set of pointers.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace horao::domain {

template <typename Slot>
class pointer_table {
  static_assert(std::is_trivially_copyable_v<Slot>);

 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  Slot* find(const void* key) {
    if (size_ == 0) return nullptr;
    for (std::size_t i = home(key);; i = next(i)) {
      if (slots_[i].key == key) return &slots_[i];
      if (slots_[i].key == nullptr) return nullptr;
    }
  }
  const Slot* find(const void* key) const { return const_cast<pointer_table*>(this)->find(key); }

  // The slot of `key`, a new one (all other members value-initialized) when absent.
  Slot& obtain(const void* key) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    std::size_t i = home(key);
    for (; slots_[i].key != nullptr; i = next(i))
      if (slots_[i].key == key) return slots_[i];
    slots_[i] = Slot{};
    slots_[i].key = key;
    ++size_;
    return slots_[i];
  }

  bool erase(const void* key) {
    if (size_ == 0) return false;
    std::size_t hole = home(key);
    while (slots_[hole].key != key) {
      if (slots_[hole].key == nullptr) return false;
      hole = next(hole);
    }
    // Backward shift: move later entries of the run into the hole when the
    // hole lies on their probe path, so no probe sequence is broken.
    for (std::size_t i = next(hole); slots_[i].key != nullptr; i = next(i)) {
      const std::size_t want = home(slots_[i].key);
      if (distance(want, i) >= distance(hole, i)) {
        slots_[hole] = slots_[i];
        hole = i;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    if (slots_.size() > 8 && size_ * 8 < slots_.size()) rehash(slots_.size() / 2);
    return true;
  }

  void clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
  }

  // Room for `n` entries without growing.
  void reserve(std::size_t n) {
    std::size_t capacity = slots_.empty() ? 8 : slots_.size();
    while (n * 4 > capacity * 3) capacity *= 2;
    if (capacity != slots_.size()) rehash(capacity);
  }

  template <typename F>
  void for_each(F&& visit) const {
    for (const Slot& s : slots_)
      if (s.key != nullptr) visit(s);
  }

 private:
  std::size_t mask() const { return slots_.size() - 1; }
  std::size_t next(std::size_t i) const { return (i + 1) & mask(); }
  std::size_t distance(std::size_t from, std::size_t to) const { return (to - from) & mask(); }
  std::size_t home(const void* key) const {
    // Fibonacci hashing of the address: allocations are 16-byte aligned, so
    // the low bits carry nothing; the multiply spreads the rest.
    const auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(key)) >> 4;
    return static_cast<std::size_t>((bits * 0x9E3779B97F4A7C15ULL) >> 32) & mask();
  }
  void grow() { rehash(slots_.empty() ? 8 : slots_.size() * 2); }
  void rehash(std::size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.key == nullptr) continue;
      std::size_t i = home(s.key);
      while (slots_[i].key != nullptr) i = next(i);
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;  // a power of two in size, or empty
  std::size_t size_ = 0;
};

// A set of `T*` (T never null) on a pointer_table; iteration order is unspecified.
template <typename T>
class pointer_set {
 public:
  std::size_t size() const { return table_.size(); }
  bool empty() const { return table_.empty(); }
  bool contains(const T* p) const { return table_.find(p) != nullptr; }
  // False when `p` was there already.
  bool insert(T* p) {
    const std::size_t before = table_.size();
    table_.obtain(p);
    return table_.size() != before;
  }
  // False when `p` was not there.
  bool erase(const T* p) { return table_.erase(p); }
  void clear() { table_.clear(); }
  void reserve(std::size_t n) { table_.reserve(n); }
  template <typename F>
  void for_each(F&& visit) const {
    table_.for_each([&](const slot& s) { visit(static_cast<T*>(const_cast<void*>(s.key))); });
  }

 private:
  struct slot {
    const void* key = nullptr;
  };
  pointer_table<slot> table_;
};

}  // namespace horao::domain
