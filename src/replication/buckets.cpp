#include "horao/replication/buckets.hpp"

#include <algorithm>

namespace horao::replication {
namespace {
// A key of its own ("HORAO buckets v1"), unrelated to the record digest's.
constexpr std::uint64_t bucket_key0 = 0x4f41524f48ULL ^ 0x1122334455667788ULL;
constexpr std::uint64_t bucket_key1 = 0x3176207374656b63ULL ^ 0x99aabbccddeeff00ULL;
}  // namespace

key_position locate(std::string_view key, std::uint32_t buckets) {
  crdt::siphash128 h(bucket_key0, bucket_key1);
  h.update(key);
  const crdt::hash128 d = h.finish();
  return {static_cast<std::uint32_t>(d.lo & (buckets - 1)), d.hi};
}

std::uint32_t choose_bucket_count(std::uint64_t records) {
  std::uint32_t n = min_buckets;
  while (n < max_buckets && static_cast<std::uint64_t>(n) * 16 < records) n *= 2;
  return n;
}

std::vector<crdt::hash128> bucket_digests(const store::record_store& store, std::uint32_t buckets) {
  std::vector<crdt::hash128> out(buckets);
  // The change log since 0 holds every record exactly once.
  store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& entry) {
    out[bucket_of(key, buckets)] += entry.hash;
    return true;
  });
  return out;
}

keys_message key_entries(const store::record_store& store, std::uint32_t buckets,
                         const std::vector<std::uint32_t>& wanted, std::size_t max_entries) {
  keys_message out;
  out.buckets = buckets;
  std::vector<bool> want(buckets, false);
  for (const std::uint32_t b : wanted)
    if (b < buckets) want[b] = true;
  store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& entry) {
    const key_position at = locate(key, buckets);
    if (!want[at.bucket]) return true;
    if (out.entries.size() >= max_entries) {
      out.complete = false;
      return false;
    }
    out.entries.push_back({at.id, entry.hash});
    return true;
  });
  if (!out.complete) {
    out.entries.clear();
    out.entries.shrink_to_fit();
    return out;
  }
  std::sort(out.entries.begin(), out.entries.end());
  return out;
}

bucket_filter::bucket_filter(const std::vector<crdt::hash128>& mine, const std::vector<crdt::hash128>& theirs,
                             std::uint64_t up_to_seq)
    : differ_(mine.size(), true), up_to_seq_(up_to_seq) {
  for (std::size_t i = 0; i < mine.size(); ++i) {
    differ_[i] = i >= theirs.size() || !(mine[i] == theirs[i]);
    if (differ_[i]) ++differing_;
  }
}

void bucket_filter::refine(std::vector<key_entry> theirs) {
  std::sort(theirs.begin(), theirs.end());
  theirs_ = std::move(theirs);
  refined_ = true;
}

bool bucket_filter::keep(std::uint64_t seq, std::string_view key, const crdt::hash128& hash) const {
  if (differ_.empty() || seq > up_to_seq_) return true;
  const key_position at = locate(key, static_cast<std::uint32_t>(differ_.size()));
  if (!differ_[at.bucket]) return false;
  if (!refined_) return true;
  const auto it = std::lower_bound(theirs_.begin(), theirs_.end(), key_entry{at.id, {}});
  return it == theirs_.end() || it->key_id != at.id || !(it->hash == hash);
}

std::vector<std::uint32_t> bucket_filter::differing_buckets() const {
  std::vector<std::uint32_t> out;
  out.reserve(differing_);
  for (std::size_t i = 0; i < differ_.size(); ++i)
    if (differ_[i]) out.push_back(static_cast<std::uint32_t>(i));
  return out;
}

}  // namespace horao::replication
