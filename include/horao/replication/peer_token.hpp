#pragma once
// The peer authentication token carried by the WebSocket upgrade request
// (header `X-Horao-Peer-Token`, DESIGN §5):
//
//   v1:NODE:UNIX_SECONDS:NONCE:MAC
//   MAC = hex(HMAC-SHA256(PEER_SECRET, "horao-peer-v1\n" NODE "\n" UNIX_SECONDS "\n" NONCE))
//
// NODE is a NODE_ID (it never contains ':'), NONCE 32 lowercase hex digits
// (128 random bits), MAC 64 lowercase hex digits.
//
// Invariants of peer_token_verifier:
//  * a token is accepted only when its MAC is right (compared with
//    CRYPTO_memcmp, constant time over the 32 bytes), its time is within
//    ±window of now, and its nonce was not accepted before within the window;
//  * only tokens with a right MAC enter the nonce cache, so garbage cannot
//    fill it; the cache is bounded (`max_nonces`): expired nonces are dropped
//    first, and when it is still full new tokens are refused (fail closed)
//    rather than forgetting nonces that could then be replayed;
//  * an empty secret accepts nothing;
//  * the secret never appears in a message or a log.
// Pure apart from OpenSSL's HMAC and RAND_bytes. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>

namespace horao::replication {

inline constexpr std::string_view peer_token_header = "X-Horao-Peer-Token";

// 32 lowercase hex digits from the OpenSSL CSPRNG.
std::string random_nonce();

std::string make_peer_token(std::string_view secret, std::string_view node, std::int64_t unix_seconds,
                            std::string_view nonce);

// The inbound side's proof, sent in its hello, that it holds the secret too
// (so a client never merges deltas from an impostor behind a PEERS URL):
//   hex(HMAC-SHA256(PEER_SECRET, "horao-peer-v1\n" NODE "\nanswer\n" NONCE))
// where NODE is the inbound side's node id and NONCE the client token's nonce
// ("answer" is where a token has its time, which is all digits, so a proof is
// never a token's MAC).
std::string make_hello_proof(std::string_view secret, std::string_view node, std::string_view nonce);
// Constant-time check of a proof.
bool check_hello_proof(std::string_view secret, std::string_view node, std::string_view nonce,
                       std::string_view proof);
// The nonce part of a well-formed token, empty otherwise.
std::string_view token_nonce(std::string_view token);

enum class token_status { ok, missing, malformed, bad_mac, expired, replayed, cache_full, no_secret };
std::string_view to_string(token_status s);

class peer_token_verifier {
 public:
  explicit peer_token_verifier(std::string secret, std::int64_t window_seconds = 60,
                               std::size_t max_nonces = 65536);

  // `node` receives the authenticated node id on ok.
  token_status verify(std::string_view token, std::int64_t now_seconds, std::string* node = nullptr);

  std::size_t cached_nonces() const { return seen_.size(); }

 private:
  void expire(std::int64_t now_seconds);

  std::string secret_;
  std::int64_t window_;
  std::size_t max_nonces_;
  std::unordered_set<std::string> seen_;
  std::multimap<std::int64_t, std::string> by_expiry_;  // expiry time -> nonce
};

}  // namespace horao::replication
