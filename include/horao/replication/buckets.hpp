#pragma once
// Anti-entropy by digests (DESIGN §5), for sessions that must compare whole
// states (a peer new to this daemon's log but not empty, a restored backup,
// a cursor older than the tombstone horizon).
//
//   level 1: records are spread over N buckets by a hash of their key; a
//            bucket's digest is the sum modulo 2^128 of hash_record() over its
//            records, so the buckets' sum is the store's digest. N digests
//            are exchanged, and only the buckets that differ are looked at.
//   level 2: for the differing buckets, the peer lists (key id, record hash)
//            of each of its records there; only records the peer lacks or
//            holds in another state are sent.
//
// Invariants: locate() depends only on the key text (the same on every
// daemon and every version of this protocol): the bucket is the low bits of
// a SipHash-128 of the key, the key id its high 64 bits; N is a power of two
// in [min_buckets, max_buckets]; digests and key lists are computed on demand
// by one pass over the store, never kept per key; a filter keeps a record
// when it changed after the filter was made (seq > up_to_seq), or when its
// bucket differs and (with level 2) the peer's entry for its key id is
// missing or has another hash. A key-id collision between two keys of one
// bucket could hide a difference: 2^-64 per pair, and the next change of
// either key repairs it.
// Pure: the store and the CRDT hash only.

#include <cstdint>
#include <string_view>
#include <vector>

#include "horao/crdt/digest.hpp"
#include "horao/replication/protocol.hpp"
#include "horao/store/record_store.hpp"

namespace horao::replication {

struct key_position {
  std::uint32_t bucket;
  std::uint64_t id;
};
key_position locate(std::string_view key, std::uint32_t buckets);
inline std::uint32_t bucket_of(std::string_view key, std::uint32_t buckets) {
  return locate(key, buckets).bucket;
}

// A power of two near records/16 (about 16 records a bucket), within bounds.
std::uint32_t choose_bucket_count(std::uint64_t records);

std::vector<crdt::hash128> bucket_digests(const store::record_store& store, std::uint32_t buckets);

// The (key id, hash) of every record in the `wanted` buckets (ascending
// indices), sorted by key id; complete = false and no entries when there are
// more than `max_entries`.
keys_message key_entries(const store::record_store& store, std::uint32_t buckets,
                         const std::vector<std::uint32_t>& wanted, std::size_t max_entries = max_key_entries);

class bucket_filter {
 public:
  bucket_filter() = default;
  // Buckets whose digests differ between `mine` and `theirs` (equal sizes).
  bucket_filter(const std::vector<crdt::hash128>& mine, const std::vector<crdt::hash128>& theirs,
                std::uint64_t up_to_seq);
  // Level 2: the peer's entries for the differing buckets.
  void refine(std::vector<key_entry> theirs);

  bool active() const { return !differ_.empty(); }
  bool refined() const { return refined_; }
  bool keep(std::uint64_t seq, std::string_view key, const crdt::hash128& hash) const;
  std::size_t differing() const { return differing_; }
  std::size_t buckets() const { return differ_.size(); }
  // Indices of the differing buckets, ascending.
  std::vector<std::uint32_t> differing_buckets() const;

 private:
  std::vector<bool> differ_;
  std::size_t differing_ = 0;
  std::uint64_t up_to_seq_ = 0;
  bool refined_ = false;
  std::vector<key_entry> theirs_;  // sorted by key id
};

}  // namespace horao::replication
