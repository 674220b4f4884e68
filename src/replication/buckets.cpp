#include "horao/replication/buckets.hpp"

#include <algorithm>

#include "horao/replication/protocol.hpp"

namespace horao::replication {
namespace {
// A key of its own ("HORAO buckets v1"), unrelated to the record digest's.
constexpr std::uint64_t bucket_key0 = 0x4f41524f48ULL ^ 0x1122334455667788ULL;
constexpr std::uint64_t bucket_key1 = 0x3176207374656b63ULL ^ 0x99aabbccddeeff00ULL;
}  // namespace

std::uint32_t bucket_of(std::string_view key, std::uint32_t buckets) {
  crdt::siphash128 h(bucket_key0, bucket_key1);
  h.update(key);
  return static_cast<std::uint32_t>(h.finish().lo & (buckets - 1));
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

bucket_filter::bucket_filter(const std::vector<crdt::hash128>& mine, const std::vector<crdt::hash128>& theirs,
                             std::uint64_t up_to_seq)
    : differ_(mine.size(), true), up_to_seq_(up_to_seq) {
  for (std::size_t i = 0; i < mine.size(); ++i) {
    differ_[i] = i >= theirs.size() || !(mine[i] == theirs[i]);
    if (differ_[i]) ++differing_;
  }
}

}  // namespace horao::replication
