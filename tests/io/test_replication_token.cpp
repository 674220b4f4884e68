// Peer tokens: HMAC-SHA256 over node, time and nonce, checked in constant
// time, inside a replay window, each nonce once.
#include <catch2/catch.hpp>

#include "horao/replication/peer_token.hpp"

using namespace horao::replication;

namespace {
constexpr std::int64_t now = 1'800'000'000;
const std::string secret = "correct horse battery staple";
}  // namespace

TEST_CASE("peer token: a fresh token is accepted once and names its node") {
  peer_token_verifier v(secret);
  const std::string nonce = random_nonce();
  CHECK(nonce.size() == 32);
  const std::string token = make_peer_token(secret, "dc-ams", now, nonce);
  std::string node;
  CHECK(v.verify(token, now, &node) == token_status::ok);
  CHECK(node == "dc-ams");
  // The same token again: a replay.
  CHECK(v.verify(token, now + 1) == token_status::replayed);
  // Another nonce: fine.
  CHECK(v.verify(make_peer_token(secret, "dc-ams", now, random_nonce()), now) == token_status::ok);
  CHECK(random_nonce() != random_nonce());
}

TEST_CASE("peer token: wrong secret, tampering and garbage are refused") {
  peer_token_verifier v(secret);
  const std::string nonce = random_nonce();
  CHECK(v.verify(make_peer_token("wrong secret", "dc-ams", now, nonce), now) == token_status::bad_mac);
  std::string token = make_peer_token(secret, "dc-ams", now, nonce);
  // Another node claimed with the same MAC.
  std::string other = token;
  other.replace(3, 6, "dc-fra");
  CHECK(v.verify(other, now) == token_status::bad_mac);
  // Another time with the same MAC.
  std::string later = make_peer_token(secret, "dc-ams", now, nonce);
  later.replace(later.find(std::to_string(now)), 10, std::to_string(now + 5));
  CHECK(v.verify(later, now) == token_status::bad_mac);
  // One flipped MAC digit.
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK(v.verify(flipped, now) == token_status::bad_mac);
  // Shapes.
  CHECK(v.verify("", now) == token_status::missing);
  CHECK(v.verify("v1:dc-ams", now) == token_status::malformed);
  CHECK(v.verify("v2" + token.substr(2), now) == token_status::malformed);
  CHECK(v.verify(token + ":x", now) == token_status::malformed);
  std::string upper = token;
  for (auto& c : upper)
    if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 32);
  CHECK(v.verify(upper, now) == token_status::malformed);
  CHECK(v.verify(std::string(600, 'x'), now) == token_status::malformed);
  CHECK(v.verify(make_peer_token(secret, "bad node!", now, nonce), now) == token_status::malformed);
  CHECK(v.verify(make_peer_token(secret, "dc-ams", now, "short"), now) == token_status::malformed);
  // None of those entered the nonce cache, and the genuine one still works.
  CHECK(v.cached_nonces() == 0);
  CHECK(v.verify(token, now) == token_status::ok);
}

TEST_CASE("peer token: the replay window is +-60 s and nonces expire with it") {
  peer_token_verifier v(secret, 60, 4);
  CHECK(v.verify(make_peer_token(secret, "n1", now - 61, random_nonce()), now) == token_status::expired);
  CHECK(v.verify(make_peer_token(secret, "n1", now + 61, random_nonce()), now) == token_status::expired);
  CHECK(v.verify(make_peer_token(secret, "n1", now - 60, random_nonce()), now) == token_status::ok);
  CHECK(v.verify(make_peer_token(secret, "n1", now + 60, random_nonce()), now) == token_status::ok);

  // A bounded cache: when full of live nonces, new tokens are refused (fail closed).
  CHECK(v.verify(make_peer_token(secret, "n1", now, random_nonce()), now) == token_status::ok);
  CHECK(v.verify(make_peer_token(secret, "n1", now, random_nonce()), now) == token_status::ok);
  CHECK(v.cached_nonces() == 4);
  CHECK(v.verify(make_peer_token(secret, "n1", now, random_nonce()), now) == token_status::cache_full);
  // Once the window has moved on, expired nonces make room.
  CHECK(v.verify(make_peer_token(secret, "n1", now + 61, random_nonce()), now + 61) == token_status::ok);
  CHECK(v.cached_nonces() <= 4);

  // A nonce is remembered as long as its token could be presented.
  peer_token_verifier w(secret, 60, 100);
  const std::string token = make_peer_token(secret, "n1", now, random_nonce());
  CHECK(w.verify(token, now) == token_status::ok);
  CHECK(w.verify(token, now + 60) == token_status::replayed);
  CHECK(w.verify(token, now + 61) == token_status::expired);
}

TEST_CASE("peer token: no secret accepts nothing") {
  peer_token_verifier v("");
  CHECK(v.verify(make_peer_token("", "n1", now, random_nonce()), now) == token_status::no_secret);
}

TEST_CASE("peer token: the inbound side's hello proof") {
  const std::string nonce = random_nonce();
  const std::string proof = make_hello_proof(secret, "dc-b", nonce);
  CHECK(proof.size() == 64);
  CHECK(check_hello_proof(secret, "dc-b", nonce, proof));
  CHECK_FALSE(check_hello_proof(secret, "dc-c", nonce, proof));
  CHECK_FALSE(check_hello_proof(secret, "dc-b", random_nonce(), proof));
  CHECK_FALSE(check_hello_proof("other", "dc-b", nonce, proof));
  CHECK_FALSE(check_hello_proof(secret, "dc-b", nonce, ""));
  CHECK_FALSE(check_hello_proof("", "dc-b", nonce, make_hello_proof("", "dc-b", nonce)));
  const std::string token = make_peer_token(secret, "dc-a", now, nonce);
  CHECK(token_nonce(token) == nonce);
  CHECK(token_nonce("garbage").empty());
}
