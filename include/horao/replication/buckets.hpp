#pragma once
// Per-bucket digests, the second level of anti-entropy (DESIGN §5): records
// are spread over N buckets by a hash of their key; a bucket's digest is the
// sum modulo 2^128 of hash_record() over its records, so the buckets' sum is
// the store's digest. Two daemons that must compare whole states exchange
// the N digests and send only the records of the buckets that differ.
//
// Invariants: bucket_of() depends only on the key text and N (the same on
// every daemon and every version of this protocol); N is a power of two in
// [min_buckets, max_buckets]; bucket_digests() visits every record once
// (O(records)) and is computed on demand, never kept per key; a filter
// keeps a record when its bucket differs or when it changed after the filter
// was made (seq > up_to_seq).
// Pure: the store and the CRDT hash only.

#include <cstdint>
#include <string_view>
#include <vector>

#include "horao/crdt/digest.hpp"
#include "horao/store/record_store.hpp"

namespace horao::replication {

std::uint32_t bucket_of(std::string_view key, std::uint32_t buckets);

// A power of two near records/16 (about 16 records a bucket), within bounds.
std::uint32_t choose_bucket_count(std::uint64_t records);

std::vector<crdt::hash128> bucket_digests(const store::record_store& store, std::uint32_t buckets);

class bucket_filter {
 public:
  bucket_filter() = default;
  // Buckets whose digests differ between `mine` and `theirs` (equal sizes).
  bucket_filter(const std::vector<crdt::hash128>& mine, const std::vector<crdt::hash128>& theirs,
                std::uint64_t up_to_seq);

  bool active() const { return !differ_.empty(); }
  bool keep(std::uint64_t seq, std::string_view key) const {
    if (differ_.empty() || seq > up_to_seq_) return true;
    return differ_[bucket_of(key, static_cast<std::uint32_t>(differ_.size()))];
  }
  std::size_t differing() const { return differing_; }
  std::size_t buckets() const { return differ_.size(); }

 private:
  std::vector<bool> differ_;
  std::size_t differing_ = 0;
  std::uint64_t up_to_seq_ = 0;
};

}  // namespace horao::replication
