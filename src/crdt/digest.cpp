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

void feed_u64(siphash128& h, std::uint64_t v) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (8 * i));
  h.update(bytes, 8);
}

void feed_text(siphash128& h, std::string_view s) {
  feed_u64(h, s.size());  // length prefix: no two field lists share a byte stream
  h.update(s);
}

void feed_hlc(siphash128& h, const hlc& t) {
  feed_u64(h, static_cast<std::uint64_t>(t.wall_us));
  feed_u64(h, t.counter);
  feed_text(h, node_name(t));
}

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
  siphash128 h(digest_key0, digest_key1);
  feed_text(h, key);
  feed_hlc(h, r.created());
  feed_hlc(h, r.deleted());
  feed_u64(h, r.fields().size());
  for (const auto& entry : r.fields()) {
    feed_text(h, entry.name_text());
    feed_hlc(h, entry.stamp);
    // Absent is the empty text: a present value is never empty JSON.
    feed_text(h, entry.value);
  }
  return h.finish();
}

}  // namespace horao::crdt
