#include "horao/replication/peer_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>

#include "horao/app/config.hpp"

namespace horao::replication {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += hex_digits[p[i] >> 4];
    out += hex_digits[p[i] & 0xf];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not the canonical form: refused
}

bool from_hex(std::string_view hex, unsigned char* out, std::size_t n) {
  if (hex.size() != 2 * n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

using mac_bytes = std::array<unsigned char, 32>;

bool compute_mac(std::string_view secret, std::string_view node, std::string_view time_text,
                 std::string_view nonce, mac_bytes& out) {
  std::string message = "horao-peer-v1\n";
  message += node;
  message += '\n';
  message += time_text;
  message += '\n';
  message += nonce;
  unsigned int len = 0;
  const unsigned char* r =
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  return r != nullptr && len == out.size();
}

// Splits on ':' into exactly `n` parts.
template <std::size_t N>
bool split(std::string_view s, std::array<std::string_view, N>& parts) {
  for (std::size_t i = 0; i < N; ++i) {
    const auto colon = s.find(':');
    if (i + 1 == N) {
      if (colon != std::string_view::npos) return false;
      parts[i] = s;
      return true;
    }
    if (colon == std::string_view::npos) return false;
    parts[i] = s.substr(0, colon);
    s.remove_prefix(colon + 1);
  }
  return true;
}

}  // namespace

std::string random_nonce() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // The CSPRNG failing is not recoverable in a meaningful way; a token made
    // from a predictable nonce would still be authentic, only replayable.
    throw std::runtime_error("RAND_bytes failed");
  }
  return to_hex(bytes, sizeof bytes);
}

std::string make_peer_token(std::string_view secret, std::string_view node, std::int64_t unix_seconds,
                            std::string_view nonce) {
  const std::string time_text = std::to_string(unix_seconds);
  mac_bytes mac{};
  if (!compute_mac(secret, node, time_text, nonce, mac)) return {};
  std::string token = "v1:";
  token += node;
  token += ':';
  token += time_text;
  token += ':';
  token += nonce;
  token += ':';
  token += to_hex(mac.data(), mac.size());
  return token;
}

std::string make_hello_proof(std::string_view secret, std::string_view node, std::string_view nonce) {
  mac_bytes mac{};
  if (!compute_mac(secret, node, "answer", nonce, mac)) return {};
  return to_hex(mac.data(), mac.size());
}

bool check_hello_proof(std::string_view secret, std::string_view node, std::string_view nonce,
                       std::string_view proof) {
  if (secret.empty()) return false;
  mac_bytes presented{};
  if (!from_hex(proof, presented.data(), presented.size())) return false;
  mac_bytes expected{};
  if (!compute_mac(secret, node, "answer", nonce, expected)) return false;
  return CRYPTO_memcmp(expected.data(), presented.data(), expected.size()) == 0;
}

std::string_view token_nonce(std::string_view token) {
  std::array<std::string_view, 5> parts;
  if (!split(token, parts) || parts[0] != "v1" || parts[3].size() != 32) return {};
  return parts[3];
}

std::string_view to_string(token_status s) {
  switch (s) {
    case token_status::ok:
      return "ok";
    case token_status::missing:
      return "missing peer token";
    case token_status::malformed:
      return "malformed peer token";
    case token_status::bad_mac:
      return "wrong peer token";
    case token_status::expired:
      return "peer token outside the time window";
    case token_status::replayed:
      return "peer token replayed";
    case token_status::cache_full:
      return "too many recent peer tokens";
    case token_status::no_secret:
      return "no PEER_SECRET configured: inbound peers are refused";
  }
  return "unknown";
}

peer_token_verifier::peer_token_verifier(std::string secret, std::int64_t window_seconds,
                                         std::size_t max_nonces)
    : secret_(std::move(secret)), window_(window_seconds), max_nonces_(max_nonces) {}

void peer_token_verifier::expire(std::int64_t now_seconds) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now_seconds) {
    seen_.erase(by_expiry_.begin()->second);
    by_expiry_.erase(by_expiry_.begin());
  }
}

token_status peer_token_verifier::verify(std::string_view token, std::int64_t now_seconds,
                                         std::string* node) {
  if (secret_.empty()) return token_status::no_secret;
  if (token.empty()) return token_status::missing;
  if (token.size() > 512) return token_status::malformed;
  std::array<std::string_view, 5> parts;
  if (!split(token, parts) || parts[0] != "v1") return token_status::malformed;
  const std::string_view who = parts[1], time_text = parts[2], nonce = parts[3], mac_hex = parts[4];
  if (!app::is_valid_node_id(who)) return token_status::malformed;
  std::int64_t t = 0;
  const auto [end, ec] = std::from_chars(time_text.data(), time_text.data() + time_text.size(), t);
  if (ec != std::errc() || end != time_text.data() + time_text.size() || time_text.empty() ||
      time_text.size() > 12 || t < 0 || (time_text.size() > 1 && time_text[0] == '0'))
    return token_status::malformed;
  unsigned char nonce_bytes[16];
  mac_bytes presented{};
  if (!from_hex(nonce, nonce_bytes, sizeof nonce_bytes) ||
      !from_hex(mac_hex, presented.data(), presented.size()))
    return token_status::malformed;

  mac_bytes expected{};
  if (!compute_mac(secret_, who, time_text, nonce, expected)) return token_status::bad_mac;
  if (CRYPTO_memcmp(expected.data(), presented.data(), expected.size()) != 0) return token_status::bad_mac;

  if (t > now_seconds + window_ || t < now_seconds - window_) return token_status::expired;
  expire(now_seconds);
  std::string key(nonce);
  if (seen_.count(key)) return token_status::replayed;
  if (seen_.size() >= max_nonces_) return token_status::cache_full;
  // Remembered until the token itself falls out of the window.
  by_expiry_.emplace(t + window_, key);
  seen_.insert(std::move(key));
  if (node) *node = std::string(who);
  return token_status::ok;
}

}  // namespace horao::replication
