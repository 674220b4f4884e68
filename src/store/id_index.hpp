#pragma once
// The ordered part of the store's per-kind index: items in id order, for
// paged listings (`after` cursors).
//
// Invariants: holds each item at most once, in strictly increasing id order
// (ids are unique within a kind); items are not owned and must outlive their
// membership. The items sit in sorted chunks of at most `max_chunk` entries,
// and `last_[c]` is a copy of the last entry of chunk c, so that finding a
// position is a binary search over one small contiguous array and then over
// one chunk. Each entry carries the first 16 bytes of its id as two
// big-endian words: most comparisons are two integer compares and never
// touch the item, which would be a cache miss per step in a node-based tree.
// Besides single inserts and erases it takes bulk inserts (a sorted merge
// into freshly packed chunks) and a filtering pass, which the store uses to
// maintain it lazily.
//
// T must have `std::string_view id() const`.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace horao::store {

template <typename T>
class id_index {
 public:
  static constexpr std::size_t max_chunk = 256;

  std::size_t size() const { return size_; }

  void insert(T* item) {
    const entry e = make(item);
    if (chunks_.empty()) {
      chunks_.emplace_back().reserve(max_chunk + 1);
      last_.push_back(e);
    }
    const std::size_t c = chunk_for(e);
    auto& chunk = chunks_[c];
    chunk.insert(std::lower_bound(chunk.begin(), chunk.end(), e, less{}), e);
    last_[c] = chunk.back();
    ++size_;
    if (chunk.size() > max_chunk) split(c);
  }

  void erase(T* item) {
    if (chunks_.empty()) return;
    const entry e = make(item);
    const std::size_t c = chunk_for(e);
    auto& chunk = chunks_[c];
    const auto it = std::lower_bound(chunk.begin(), chunk.end(), e, less{});
    if (it == chunk.end() || it->item != item) return;
    chunk.erase(it);
    --size_;
    if (chunk.empty()) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
      last_.erase(last_.begin() + static_cast<std::ptrdiff_t>(c));
      return;
    }
    last_[c] = chunk.back();
    // Keep chunks from thinning out after mass deletions: fold a small chunk
    // into its successor when both fit in one.
    if (chunk.size() < max_chunk / 4 && c + 1 < chunks_.size() &&
        chunk.size() + chunks_[c + 1].size() <= max_chunk) {
      auto& next = chunks_[c + 1];
      next.insert(next.begin(), chunk.begin(), chunk.end());
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
      last_.erase(last_.begin() + static_cast<std::ptrdiff_t>(c));
    }
  }

  // Adds items, none of them present yet, in any order: O(n + k log k).
  void bulk_insert(const std::vector<T*>& items) {
    std::vector<entry> added;
    added.reserve(items.size());
    for (T* item : items) added.push_back(make(item));
    std::sort(added.begin(), added.end(), less{});
    std::vector<entry> all;
    all.reserve(size_ + added.size());
    auto a = added.begin();
    for (const auto& chunk : chunks_) {
      for (const auto& e : chunk) {
        while (a != added.end() && less{}(*a, e)) all.push_back(*a++);
        all.push_back(e);
      }
    }
    all.insert(all.end(), a, added.end());
    assign(all);
  }

  // Keeps the items for which keep(item) is true: O(n).
  template <typename Keep>
  void retain(Keep&& keep) {
    std::vector<entry> all;
    all.reserve(size_);
    for (const auto& chunk : chunks_)
      for (const auto& e : chunk)
        if (keep(e.item)) all.push_back(e);
    assign(all);
  }

  // Calls visit(item) for the items with id > `after` (all of them when
  // `after` is empty), in id order, until it returns false.
  template <typename F>
  void visit_after(std::string_view after, F&& visit) const {
    std::size_t c = 0;
    std::size_t pos = 0;
    if (!after.empty()) {
      const search_key key = make_key(after);
      c = static_cast<std::size_t>(std::upper_bound(last_.begin(), last_.end(), key, less{}) - last_.begin());
      if (c == chunks_.size()) return;
      const auto& chunk = chunks_[c];
      pos = static_cast<std::size_t>(std::upper_bound(chunk.begin(), chunk.end(), key, less{}) - chunk.begin());
    }
    for (; c < chunks_.size(); ++c, pos = 0) {
      for (const auto& chunk = chunks_[c]; pos < chunk.size(); ++pos)
        if (!visit(chunk[pos].item)) return;
    }
  }

 private:
  struct entry {
    std::uint64_t hi;  // id bytes 0..7, big-endian, zero-padded
    std::uint64_t lo;  // id bytes 8..15
    T* item;
  };
  struct search_key {
    std::uint64_t hi;
    std::uint64_t lo;
    std::string_view id;
  };

  static std::uint64_t big_endian_word(std::string_view s, std::size_t from) {
    unsigned char bytes[8] = {};
    if (from < s.size()) std::memcpy(bytes, s.data() + from, std::min<std::size_t>(8, s.size() - from));
    std::uint64_t w = 0;
    for (unsigned char b : bytes) w = (w << 8) | b;
    return w;
  }
  static entry make(T* item) {
    const std::string_view id = item->id();
    return {big_endian_word(id, 0), big_endian_word(id, 8), item};
  }
  static search_key make_key(std::string_view id) { return {big_endian_word(id, 0), big_endian_word(id, 8), id}; }

  // Equal first 16 bytes (zero padding makes "ab" and "ab\0" tie too): only
  // then are the whole ids compared.
  struct less {
    bool operator()(const entry& a, const entry& b) const {
      if (a.hi != b.hi) return a.hi < b.hi;
      if (a.lo != b.lo) return a.lo < b.lo;
      return a.item->id() < b.item->id();
    }
    bool operator()(const entry& a, const search_key& b) const {
      if (a.hi != b.hi) return a.hi < b.hi;
      if (a.lo != b.lo) return a.lo < b.lo;
      return a.item->id() < b.id;
    }
    bool operator()(const search_key& a, const entry& b) const {
      if (a.hi != b.hi) return a.hi < b.hi;
      if (a.lo != b.lo) return a.lo < b.lo;
      return a.id < b.item->id();
    }
  };

  // The chunk that holds, or should receive, `e`: the first whose last
  // entry is not less than it, or the last chunk.
  std::size_t chunk_for(const entry& e) const {
    const auto it = std::lower_bound(last_.begin(), last_.end(), e, less{});
    return it == last_.end() ? chunks_.size() - 1 : static_cast<std::size_t>(it - last_.begin());
  }

  // Packs sorted entries into chunks filled to 3/4, leaving room for single
  // inserts before the next split.
  void assign(const std::vector<entry>& all) {
    chunks_.clear();
    last_.clear();
    constexpr std::size_t fill = max_chunk * 3 / 4;
    for (std::size_t i = 0; i < all.size(); i += fill) {
      std::vector<entry> chunk;
      chunk.reserve(max_chunk + 1);
      const std::size_t end = std::min(all.size(), i + fill);
      chunk.assign(all.begin() + static_cast<std::ptrdiff_t>(i), all.begin() + static_cast<std::ptrdiff_t>(end));
      last_.push_back(chunk.back());
      chunks_.push_back(std::move(chunk));
    }
    size_ = all.size();
  }

  void split(std::size_t c) {
    std::vector<entry> upper;
    upper.reserve(max_chunk + 1);
    auto& chunk = chunks_[c];
    const auto middle = chunk.begin() + static_cast<std::ptrdiff_t>(chunk.size() / 2);
    upper.assign(middle, chunk.end());
    chunk.erase(middle, chunk.end());
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c + 1), std::move(upper));
    last_.insert(last_.begin() + static_cast<std::ptrdiff_t>(c + 1), chunks_[c + 1].back());
    last_[c] = chunks_[c].back();
  }

  std::vector<std::vector<entry>> chunks_;  // each reserved to max_chunk + 1: never reallocates
  std::vector<entry> last_;
  std::size_t size_ = 0;
};

}  // namespace horao::store
