#include "horao/crdt/digest.hpp"

#include <cstdio>
#include <cstring>

namespace horao::crdt {
namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline void sip_round(std::uint64_t& v0, std::uint64_t& v1, std::uint64_t& v2, std::uint64_t& v3) {
  v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
  v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
}

// "HORAO digest v1." as the fixed key: changing it changes every digest.
constexpr std::uint64_t digest_key0 = 0x4f4152'4f48ULL ^ 0x0706050403020100ULL;
constexpr std::uint64_t digest_key1 = 0x31762074736567ULL ^ 0x0f0e0d0c0b0a0908ULL;

// SipHash-2-4 over a message of whole 64-bit words. The message of
// hash_record is built so that it never has a partial word: every text is its
// length followed by its bytes zero-padded to the next word. The length
// prefix makes the padding unambiguous, so this is SipHash of an injective
// encoding of the state.
class word_hasher {
 public:
  word_hasher(std::uint64_t k0, std::uint64_t k1)
      : v0_(k0 ^ 0x736f6d6570736575ULL),
        v1_(k1 ^ 0x646f72616e646f6dULL ^ 0xee),
        v2_(k0 ^ 0x6c7967656e657261ULL),
        v3_(k1 ^ 0x7465646279746573ULL) {}

  void word(std::uint64_t m) {
    v3_ ^= m;
    sip_round(v0_, v1_, v2_, v3_);
    sip_round(v0_, v1_, v2_, v3_);
    v0_ ^= m;
    ++words_;
  }
  void text(std::string_view s) {
    word(s.size());
    const char* p = s.data();
    std::size_t n = s.size();
    for (; n >= 8; n -= 8, p += 8) {
      std::uint64_t m;
      std::memcpy(&m, p, 8);  // little-endian hosts only (x86-64, aarch64)
      word(m);
    }
    if (n > 0) {
      std::uint64_t m = 0;
      std::memcpy(&m, p, n);
      word(m);
    }
  }
  void stamp(const hlc& t) {
    word(static_cast<std::uint64_t>(t.wall_us));
    word(t.counter);
    word(node_names().hash(t.node));
  }
  hash128 finish() {
    // The final block of SipHash: no tail bytes, the length modulo 256.
    compress(static_cast<std::uint64_t>((words_ * 8) & 0xff) << 56);
    v2_ ^= 0xee;
    for (int i = 0; i < 4; ++i) sip_round(v0_, v1_, v2_, v3_);
    const std::uint64_t lo = v0_ ^ v1_ ^ v2_ ^ v3_;
    v1_ ^= 0xdd;
    for (int i = 0; i < 4; ++i) sip_round(v0_, v1_, v2_, v3_);
    const std::uint64_t hi = v0_ ^ v1_ ^ v2_ ^ v3_;
    return {lo, hi};
  }

 private:
  void compress(std::uint64_t m) {
    v3_ ^= m;
    sip_round(v0_, v1_, v2_, v3_);
    sip_round(v0_, v1_, v2_, v3_);
    v0_ ^= m;
  }
  std::uint64_t v0_, v1_, v2_, v3_;
  std::size_t words_ = 0;
};

}  // namespace

std::string hash128::to_hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

siphash128::siphash128(std::uint64_t k0, std::uint64_t k1)
    : v0_(k0 ^ 0x736f6d6570736575ULL),
      v1_(k1 ^ 0x646f72616e646f6dULL ^ 0xee),
      v2_(k0 ^ 0x6c7967656e657261ULL),
      v3_(k1 ^ 0x7465646279746573ULL) {}

void siphash128::compress(std::uint64_t m) {
  v3_ ^= m;
  sip_round(v0_, v1_, v2_, v3_);
  sip_round(v0_, v1_, v2_, v3_);
  v0_ ^= m;
}

void siphash128::update(const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t fill = length_ % 8;
  length_ += size;
  while (size > 0 && fill != 0) {
    tail_ |= static_cast<std::uint64_t>(*p++) << (8 * fill);
    --size;
    if (++fill == 8) {
      compress(tail_);
      tail_ = 0;
      fill = 0;
    }
  }
  while (size >= 8) {
    std::uint64_t m;
    std::memcpy(&m, p, 8);  // little-endian hosts only (x86-64, aarch64)
    compress(m);
    p += 8;
    size -= 8;
  }
  for (std::size_t i = 0; i < size; ++i) tail_ |= static_cast<std::uint64_t>(p[i]) << (8 * i);
}

hash128 siphash128::finish() {
  compress(tail_ | (static_cast<std::uint64_t>(length_ & 0xff) << 56));
  v2_ ^= 0xee;
  for (int i = 0; i < 4; ++i) sip_round(v0_, v1_, v2_, v3_);
  const std::uint64_t lo = v0_ ^ v1_ ^ v2_ ^ v3_;
  v1_ ^= 0xdd;
  for (int i = 0; i < 4; ++i) sip_round(v0_, v1_, v2_, v3_);
  const std::uint64_t hi = v0_ ^ v1_ ^ v2_ ^ v3_;
  return {lo, hi};
}

hash128 hash_record(std::string_view key, const record& r) {
  word_hasher h(digest_key0, digest_key1);
  h.text(key);
  h.stamp(r.created());
  h.stamp(r.deleted());
  h.word(r.fields().size());
  for (const auto& entry : r.fields()) {
    h.word(field_names().hash(entry.name));
    h.stamp(entry.stamp);
    // Absent is the empty text: a present value is never empty JSON.
    h.text(entry.value);
  }
  return h.finish();
}

std::uint64_t hash_name(std::string_view name) {
  siphash128 h(digest_key0, digest_key1);
  h.update(name);
  return h.finish().lo;
}

}  // namespace horao::crdt
