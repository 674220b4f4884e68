#pragma once
// Incremental growth for the open-addressing tables with linear probing that
// index every record (record_store::key_table, domain::pointer_table,
// domain::topology::node_table).
//
// Why: a table that grows all at once stops the event loop for one write,
// and every connection with it. At about 1.6 million records, rebuilding the
// store's key table (4 million slots, 64 MiB) took one PUT 20-25 ms. Instead,
// as Redis's dictionary does, the grown table takes new entries at once while
// the old slots are drained into it a few probe runs at a time, on the
// table's own inserts and erases; lookups meanwhile look in both.
//
// How the table uses it: find looks in its slots, then (while active()) in
// old(); erase does the same (and calls erased() when it erased from old());
// an insert calls step() first, then grow() when its slots are full, then
// inserts into its slots only; for_each visits both; a rebuild all at once
// (reserve) calls finish() after moving its own slots.
//
// Invariants:
//  * draining moves whole probe runs (maximal sequences of occupied slots):
//    the entries of a run depend on each other's positions for their
//    lookups, and no lookup crosses an empty slot.
//  * it starts right after an empty slot and goes once around the table, so
//    every slot it has passed is empty and every run it has not reached is
//    intact; an erase in old() moves entries within their run (backward
//    shift), never across the cursor. Nothing is ever inserted into old().
//  * an entry is in exactly one of the two tables.
//  * one step moves at least `budget` slots' worth (or all that is left) and
//    at most one probe run more: a growth at 3/4 full leaves 3/8 of the new
//    table to fill before it grows again, so a budget of 16 slots per insert
//    ends the drain after 1/16 of the old table's size in inserts, long
//    before that.
//
// The slots themselves live in a slot_vector: its allocator takes large
// arrays straight from the kernel (mmap), whose pages are zero until first
// touched, and it does not write them on construction. Empty slots are all
// zero bits in these tables. Without it, the growth itself would cost what
// the drain saves: a std::vector of 4 million 16-byte slots is zeroed at
// once, 13-26 ms on the development machine.

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace horao::store {

// Hands out zeroed memory for trivially copyable slots whose all-zero bits
// mean "empty", and leaves it as it is on value-initialization (vector(n)):
// arrays of at least `mapped_bytes` come from mmap (zero pages the kernel
// fills in when first touched, so a growth is spread over the writes that
// use the slots), smaller ones from calloc.
template <typename T>
struct slot_allocator {
  static_assert(std::is_trivially_copyable_v<T>);
  using value_type = T;
  static constexpr std::size_t mapped_bytes = std::size_t{1} << 20;

  slot_allocator() = default;
  template <typename U>
  slot_allocator(const slot_allocator<U>&) {}

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= mapped_bytes) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      return static_cast<T*>(p);
    }
    void* p = std::calloc(n == 0 ? 1 : n, sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) >= mapped_bytes)
      ::munmap(p, n * sizeof(T));
    else
      std::free(p);
  }
  // Value-initialization writes nothing: the memory is zero already.
  template <typename U>
  void construct(U*) noexcept {}
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  template <typename U>
  friend bool operator==(const slot_allocator&, const slot_allocator<U>&) {
    return true;
  }
};

// The slots of a table: construct with the count, never resize.
template <typename Slot>
using slot_vector = std::vector<Slot, slot_allocator<Slot>>;

template <typename Slot>
class draining_slots {
 public:
  // Slots looked at per insert or erase of the growing table.
  static constexpr std::size_t step_budget = 16;

  bool active() const { return left_ != 0; }
  // The old slots, for the table's lookups and erases (with the old size).
  slot_vector<Slot>& old() { return old_; }
  const slot_vector<Slot>& old() const { return old_; }
  // Entries still in old().
  std::size_t entries() const { return entries_; }
  // The table erased one entry from old().
  void erased() { --entries_; }

  // Starts draining `slots`, which hold `entries` entries and at least one
  // empty slot (the tables are never more than 4/5 full). A drain must not
  // be active: finish() it first.
  template <typename IsEmpty>
  void start(slot_vector<Slot> slots, std::size_t entries, IsEmpty is_empty) {
    old_ = std::move(slots);
    entries_ = entries;
    if (entries_ == 0) return release();
    std::size_t first_empty = 0;
    while (!is_empty(old_[first_empty])) ++first_empty;
    next_ = after(first_empty);
    left_ = old_.size();
  }

  // Replaces the table's `slots` by `count` empty ones and starts draining
  // the old ones; a drain still active is finished first, into `slots`.
  // `entries`: all the table holds.
  template <typename IsEmpty, typename Move>
  void grow(slot_vector<Slot>& slots, std::size_t count, std::size_t entries, IsEmpty is_empty, Move move) {
    finish(is_empty, move);
    start(std::exchange(slots, slot_vector<Slot>(count)), entries, is_empty);
  }

  // Moves probe runs to the table (`move(slot)`, which inserts it there)
  // until `budget` slots were passed or the drain is over; then the old
  // slots' memory goes back.
  template <typename IsEmpty, typename Move>
  void step(IsEmpty is_empty, Move move, std::size_t budget = step_budget) {
    while (left_ != 0 && budget != 0) {
      if (is_empty(old_[next_])) {
        advance(budget);
        continue;
      }
      // A whole run: it ends at an empty slot before the drain's start.
      while (left_ != 0 && !is_empty(old_[next_])) {
        move(std::as_const(old_[next_]));
        old_[next_] = Slot{};
        --entries_;
        advance(budget);
      }
    }
    if (left_ == 0 && !old_.empty()) release();
  }

  template <typename IsEmpty, typename Move>
  void finish(IsEmpty is_empty, Move move) {
    step(is_empty, move, std::numeric_limits<std::size_t>::max());
  }

  // Drops the old slots (the table was cleared).
  void release() {
    slot_vector<Slot>().swap(old_);
    left_ = entries_ = next_ = 0;
  }

 private:
  std::size_t after(std::size_t i) const { return i + 1 == old_.size() ? 0 : i + 1; }
  void advance(std::size_t& budget) {
    next_ = after(next_);
    --left_;
    if (budget != 0 && budget != std::numeric_limits<std::size_t>::max()) --budget;
  }

  slot_vector<Slot> old_;
  std::size_t next_ = 0;     // the next old slot to look at
  std::size_t left_ = 0;     // old slots not yet looked at; 0: no drain
  std::size_t entries_ = 0;  // entries still in old_
};

}  // namespace horao::store
