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
// children gives the memory back). It grows in steps: the old slots drain
// into the doubled table over the next inserts and erases
// (store/draining_slots.hpp), so no single write pays for moving a million
// entries. Slots move on every insert and erase: never keep a Slot* across a
// change.
// pointer_set below is the common case of a set of pointers.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "horao/store/draining_slots.hpp"

namespace horao::domain {

template <typename Slot>
class pointer_table {
  static_assert(std::is_trivially_copyable_v<Slot>);

 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  Slot* find(const void* key) {
    if (size_ == 0) return nullptr;
    if (Slot* s = find_in(slots_, key)) return s;
    return drain_.active() ? find_in(drain_.old(), key) : nullptr;
  }
  const Slot* find(const void* key) const { return const_cast<pointer_table*>(this)->find(key); }

  // The slot of `key`, a new one (all other members value-initialized) when absent.
  Slot& obtain(const void* key) {
    step();
    if (Slot* s = find(key)) return *s;
    if ((size_ - drain_.entries() + 1) * 4 > slots_.size() * 3) grow();
    Slot& s = place(slots_, key);
    s = Slot{};
    s.key = key;
    ++size_;
    return s;
  }

  bool erase(const void* key) {
    if (size_ == 0) return false;
    step();
    if (!erase_in(slots_, key)) {
      if (!drain_.active() || !erase_in(drain_.old(), key)) return false;
      drain_.erased();
    }
    --size_;
    if (!drain_.active() && slots_.size() > 8 && size_ * 8 < slots_.size()) rehash(slots_.size() / 2);
    return true;
  }

  void clear() {
    store::slot_vector<Slot>().swap(slots_);
    drain_.release();
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
    for (const Slot& s : drain_.old())
      if (s.key != nullptr) visit(s);
  }

 private:
  static bool is_empty(const Slot& s) { return s.key == nullptr; }
  static std::size_t home(const void* key, std::size_t mask) {
    // Fibonacci hashing of the address: allocations are 16-byte aligned, so
    // the low bits carry nothing; the multiply spreads the rest.
    const auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(key)) >> 4;
    return static_cast<std::size_t>((bits * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
  }
  static Slot* find_in(store::slot_vector<Slot>& slots, const void* key) {
    if (slots.empty()) return nullptr;
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = home(key, mask);; i = (i + 1) & mask) {
      if (slots[i].key == key) return &slots[i];
      if (slots[i].key == nullptr) return nullptr;
    }
  }
  // The empty slot where `key` (absent) goes.
  static Slot& place(store::slot_vector<Slot>& slots, const void* key) {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = home(key, mask);
    while (slots[i].key != nullptr) i = (i + 1) & mask;
    return slots[i];
  }
  static bool erase_in(store::slot_vector<Slot>& slots, const void* key) {
    if (slots.empty()) return false;
    const std::size_t mask = slots.size() - 1;
    std::size_t hole = home(key, mask);
    while (slots[hole].key != key) {
      if (slots[hole].key == nullptr) return false;
      hole = (hole + 1) & mask;
    }
    // Backward shift: move later entries of the run into the hole when the
    // hole lies on their probe path, so no probe sequence is broken.
    for (std::size_t i = (hole + 1) & mask; slots[i].key != nullptr; i = (i + 1) & mask) {
      const std::size_t want = home(slots[i].key, mask);
      if (((i - want) & mask) >= ((i - hole) & mask)) {
        slots[hole] = slots[i];
        hole = i;
      }
    }
    slots[hole] = Slot{};
    return true;
  }
  // Where a drained slot goes: into the current slots.
  auto into_slots() {
    return [this](const Slot& s) { place(slots_, s.key) = s; };
  }
  void step() { drain_.step(is_empty, into_slots()); }
  // Twice the slots; the old ones drain into them on the next inserts and
  // erases (store/draining_slots.hpp) instead of all at once.
  void grow() { drain_.grow(slots_, slots_.empty() ? 8 : slots_.size() * 2, size_, is_empty, into_slots()); }
  // All at once, for a reserve or a shrink; a drain still active ends too.
  void rehash(std::size_t capacity) {
    store::slot_vector<Slot> old(capacity);
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.key != nullptr) place(slots_, s.key) = s;
    drain_.finish(is_empty, into_slots());
  }

  store::slot_vector<Slot> slots_;     // a power of two in size, or empty
  store::draining_slots<Slot> drain_;  // the slots before the last growth, while they drain
  std::size_t size_ = 0;               // entries in both
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
