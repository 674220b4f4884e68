#include "horao/crdt/json_text.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

namespace horao::crdt {

// A shared long text: the block json_text points at when on the heap.
struct json_text::shared_block {
  std::atomic<std::uint32_t> refs;
  std::uint32_t size;
  std::uint64_t hash;
  char* data() { return reinterpret_cast<char*>(this + 1); }
  std::string_view view() { return {data(), size}; }
};
static_assert(sizeof(json_text::shared_block) == json_text::block_header);

namespace {

using block = json_text::shared_block;

// Every long text alive in the process, once. Open addressing with linear
// probing over block pointers (8 bytes a slot, at most 3/4 full), the hash
// kept in the block. A mutex, because stores on several threads (tests,
// benchmarks) share the table; the daemon has one thread, so it is never
// contended. Blocks are found only through the table, under the mutex, and a
// block whose count reached zero is never revived: its releaser frees it.
class text_table {
 public:
  block* intern(std::string_view text) {
    const std::uint64_t hash = std::hash<std::string_view>{}(text);
    std::lock_guard lock(mutex_);
    if (!slots_.empty()) {
      for (std::size_t i = hash & mask();; i = (i + 1) & mask()) {
        block* b = slots_[i];
        if (b == nullptr) break;
        if (b->hash == hash && b->view() == text && retain_if_alive(*b)) return b;
      }
    }
    block* b = make(text, hash);
    insert(b);
    return b;
  }

  std::size_t size() {
    std::lock_guard lock(mutex_);
    return size_;
  }

  void release(block* b) noexcept {
    if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    {
      std::lock_guard lock(mutex_);
      erase(b);
    }
    b->~block();
    ::operator delete(static_cast<void*>(b));
  }

 private:
  static bool retain_if_alive(block& b) {
    std::uint32_t n = b.refs.load(std::memory_order_relaxed);
    while (n != 0)
      if (b.refs.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    return false;  // being freed by its last holder; a new block replaces it
  }
  static block* make(std::string_view text, std::uint64_t hash) {
    void* memory = ::operator new(sizeof(block) + text.size());
    auto* b = new (memory) block{{1}, static_cast<std::uint32_t>(text.size()), hash};
    std::memcpy(b->data(), text.data(), text.size());
    return b;
  }
  std::size_t mask() const { return slots_.size() - 1; }
  void insert(block* b) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    std::size_t i = b->hash & mask();
    while (slots_[i] != nullptr) i = (i + 1) & mask();
    slots_[i] = b;
    ++size_;
  }
  // Removes `b` itself (a dead block and its replacement may both be there).
  void erase(block* b) {
    std::size_t hole = b->hash & mask();
    while (slots_[hole] != b) hole = (hole + 1) & mask();
    for (std::size_t i = (hole + 1) & mask(); slots_[i] != nullptr; i = (i + 1) & mask()) {
      const std::size_t want = slots_[i]->hash & mask();
      if (((i - want) & mask()) >= ((i - hole) & mask())) {
        slots_[hole] = slots_[i];
        hole = i;
      }
    }
    slots_[hole] = nullptr;
    --size_;
  }
  void grow() {
    std::vector<block*> old(std::max<std::size_t>(64, slots_.size() * 2), nullptr);
    old.swap(slots_);
    for (block* b : old) {
      if (b == nullptr) continue;
      std::size_t i = b->hash & mask();
      while (slots_[i] != nullptr) i = (i + 1) & mask();
      slots_[i] = b;
    }
  }

  std::mutex mutex_;
  std::vector<block*> slots_;
  std::size_t size_ = 0;
};

text_table& texts() {
  // Never destroyed: texts in static objects may outlive any other static.
  static auto* table = new text_table;
  return *table;
}

}  // namespace

std::size_t json_text::interned_count() {
  return texts().size();
}

json_text::json_text(const json_text& other) noexcept : bytes_(other.bytes_) {
  if (on_heap()) shared()->refs.fetch_add(1, std::memory_order_relaxed);
}

json_text& json_text::operator=(const json_text& other) noexcept {
  json_text copy(other);
  return *this = std::move(copy);
}

json_text& json_text::operator=(std::string_view text) {
  // `text` may view our own bytes: build the new value aside first.
  json_text fresh(text);
  return *this = std::move(fresh);
}

void json_text::assign_fresh(std::string_view text) {
  if (text.size() <= inline_capacity) {
    if (!text.empty()) std::memcpy(bytes_.data(), text.data(), text.size());
    bytes_[tag_offset] = static_cast<char>(text.size());
    return;
  }
  if (text.size() > max_size) throw std::length_error("json_text longer than 4 GiB");
  block* b = texts().intern(text);
  const auto size = static_cast<std::uint32_t>(text.size());
  std::memcpy(bytes_.data(), &b, sizeof b);
  std::memcpy(bytes_.data() + size_offset, &size, sizeof size);
  bytes_[tag_offset] = static_cast<char>(heap_tag);
}

void json_text::free_heap() noexcept {
  texts().release(shared());
}

}  // namespace horao::crdt
