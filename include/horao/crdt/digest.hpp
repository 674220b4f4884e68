#pragma once
// Hashes of CRDT state, for the order-independent state digest (DESIGN §3).
//
// Invariants: hash_record() depends only on the key and the record's canonical
// state (names, not process-local ids), so equal states hash equally on every
// daemon; dominated field entries never exist in a canonical record, so garbage
// collection cannot change a hash. Digests combine by addition modulo 2^128,
// which is commutative and invertible: a record's old hash is subtracted and
// its new hash added on every change, in O(1).
// The hash is SipHash-2-4 with 128-bit output and a fixed public key: strong
// against accidental collisions, which is what comparing replicas needs.
// hash_record hashes a canonical serialisation made of 64-bit little-endian
// words (see digest.cpp): texts are length-prefixed and zero-padded to a
// word, node and field names enter as hash_name(name), so the bytes are the
// same on every daemon and no byte-by-byte buffering is needed.

#include <cstdint>
#include <string>
#include <string_view>

#include "horao/crdt/record.hpp"

namespace horao::crdt {

struct hash128 {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;

  hash128& operator+=(const hash128& o) {
    const std::uint64_t sum = lo + o.lo;
    hi += o.hi + (sum < lo ? 1 : 0);
    lo = sum;
    return *this;
  }
  hash128& operator-=(const hash128& o) {
    const std::uint64_t diff = lo - o.lo;
    hi -= o.hi + (lo < o.lo ? 1 : 0);
    lo = diff;
    return *this;
  }
  friend bool operator==(const hash128&, const hash128&) = default;
  std::string to_hex() const;  // 32 lowercase hex digits, high half first
};

// Streaming SipHash-2-4-128.
class siphash128 {
 public:
  siphash128(std::uint64_t k0, std::uint64_t k1);
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  hash128 finish();

 private:
  void compress(std::uint64_t m);
  std::uint64_t v0_, v1_, v2_, v3_;
  std::uint64_t tail_ = 0;
  std::size_t length_ = 0;
};

hash128 hash_record(std::string_view key, const record& r);

// A fixed 64-bit hash of a node or field name (the low half of its
// SipHash-2-4-128 under the digest key), cached per name by the symbol tables.
std::uint64_t hash_name(std::string_view name);

}  // namespace horao::crdt
