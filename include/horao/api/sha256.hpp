#pragma once
// SHA-256 (FIPS 180-4), small and dependency-free: api/ hashes bearer tokens
// to compare them with API_TOKENS_FILE without linking OpenSSL into a pure
// module.
//
// Invariants: sha256() of the same bytes is always the same 32 bytes;
// to_hex() is lowercase; equal_constant_time() takes the same time for every
// pair of digests, whatever bytes differ.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace horao::api {

using sha256_digest = std::array<std::uint8_t, 32>;

sha256_digest sha256(std::string_view data);
std::string to_hex(const sha256_digest& d);
// Reads 64 hex digits (either case); false on anything else.
bool parse_sha256_hex(std::string_view hex, sha256_digest& out);
bool equal_constant_time(const sha256_digest& a, const sha256_digest& b);

}  // namespace horao::api
