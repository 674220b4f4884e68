#pragma once
// The compact text of a stored field value (DESIGN §2).
//
// The store keeps millions of field values, most of them a few bytes of JSON
// ("64", "true", "\"cab1\""), so the value type is 16 bytes instead of
// std::string's 32:
//  * texts of up to 15 bytes live inline; byte 15 holds their length;
//  * longer texts are interned: one shared, immutable, reference-counted
//    block per distinct text in the process (a 16-byte header, then the
//    bytes, no terminating NUL). Bytes 0-7 hold the block's address, bytes
//    8-11 the size and byte 15 the heap tag.
// Why interned: infrastructure records repeat themselves. A thousand servers
// of one model carry the same `cpus`, `ram` and `accelerators` texts, and a
// store of a million records held a million copies of each (the largest
// part of its memory). A copy of a long text (merge, replication) is now a
// reference count increment instead of an allocation. A text nobody else
// holds pays 16 bytes of header and a slot in the intern table.
// Invariants: the representation is chosen by size alone (a text of <= 15
// bytes is never on the heap), so equal texts always have the same kind of
// representation; a block's bytes never change while it is shared (an
// assignment points at another block); a moved-from text is empty; data()
// is not NUL-terminated. Thread-safe like std::shared_ptr: distinct
// json_text objects may be used on different threads at once.
// Comparisons are byte-wise, exactly those of std::string / std::string_view
// (merge breaks stamp ties with `<`, so the order must never change).

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace horao::crdt {

class json_text {
 public:
  static constexpr std::size_t inline_capacity = 15;
  // Sizes are kept in 32 bits; longer texts are refused with length_error.
  static constexpr std::size_t max_size = UINT32_MAX;

  json_text() noexcept = default;
  // Implicit on purpose: field_entry{stamp, name, value} is built from
  // std::string, string_view and literals alike.
  json_text(std::string_view text) { assign_fresh(text); }
  json_text(const std::string& text) : json_text(std::string_view(text)) {}
  json_text(const char* text) : json_text(std::string_view(text)) {}

  json_text(const json_text& other) noexcept;
  json_text(json_text&& other) noexcept : bytes_(other.bytes_) { other.bytes_ = {}; }
  json_text& operator=(const json_text& other) noexcept;
  json_text& operator=(json_text&& other) noexcept {
    if (this != &other) {
      if (on_heap()) free_heap();
      bytes_ = other.bytes_;
      other.bytes_ = {};
    }
    return *this;
  }
  json_text& operator=(std::string_view text);
  json_text& operator=(const std::string& text) { return *this = std::string_view(text); }
  json_text& operator=(const char* text) { return *this = std::string_view(text); }
  ~json_text() {
    if (on_heap()) free_heap();
  }

  bool empty() const noexcept { return size() == 0; }
  std::size_t size() const noexcept { return on_heap() ? heap_size() : tag(); }
  const char* data() const noexcept { return on_heap() ? heap_data() : bytes_.data(); }
  std::string_view view() const noexcept { return {data(), size()}; }
  operator std::string_view() const noexcept { return view(); }
  std::string str() const { return std::string(view()); }

  // One overload set against string_view serves json_text, std::string,
  // string_view and literals alike; a second set taking json_text would make
  // `text == "x"` ambiguous through the implicit constructors.
  friend bool operator==(const json_text& a, std::string_view b) noexcept { return a.view() == b; }
  friend std::strong_ordering operator<=>(const json_text& a, std::string_view b) noexcept {
    return a.view() <=> b;
  }

  // The shared block of a long text (defined in json_text.cpp).
  struct shared_block;
  static constexpr std::size_t block_header = 16;
  // Distinct long texts alive in the process (for metrics and tests).
  static std::size_t interned_count();

 private:
  static constexpr std::size_t size_offset = sizeof(char*);
  static constexpr std::size_t tag_offset = 15;
  static constexpr unsigned char heap_tag = 0x80;  // any value > inline_capacity

  unsigned char tag() const noexcept { return static_cast<unsigned char>(bytes_[tag_offset]); }
  bool on_heap() const noexcept { return tag() == heap_tag; }
  shared_block* shared() const noexcept {
    shared_block* p;
    std::memcpy(&p, bytes_.data(), sizeof p);
    return p;
  }
  const char* heap_data() const noexcept { return reinterpret_cast<const char*>(shared()) + block_header; }
  std::size_t heap_size() const noexcept {
    std::uint32_t n;
    std::memcpy(&n, bytes_.data() + size_offset, sizeof n);
    return n;
  }

  // Writes `text` into storage that owns nothing (fresh or moved from).
  void assign_fresh(std::string_view text);
  void free_heap() noexcept;

  // Aligned like a pointer so that the stored pointer is where leak checkers
  // look for it; accessed with memcpy only, never through a union.
  alignas(char*) std::array<char, 16> bytes_{};
};

static_assert(sizeof(json_text) == 16);

}  // namespace horao::crdt
