#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "horao/api/sha256.hpp"
#include "horao/api/tokens.hpp"

using namespace horao::api;

TEST_CASE("sha256 matches the FIPS 180-2 test vectors") {
  CHECK(to_hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(to_hex(sha256("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnop"
                      "qrlmnopqrsmnopqrstnopqrstu")) ==
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(to_hex(sha256(std::string(1'000'000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256 pads correctly around the block boundaries") {
  // Lengths 55, 56 and 64 take the one-block, two-block and full-block paths.
  CHECK(to_hex(sha256(std::string(55, 'a'))) ==
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(to_hex(sha256(std::string(56, 'a'))) ==
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(to_hex(sha256(std::string(64, 'a'))) ==
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("sha256 hex parsing and constant-time comparison") {
  sha256_digest d{};
  REQUIRE(parse_sha256_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", d));
  CHECK(d == sha256("abc"));
  CHECK(equal_constant_time(d, sha256("abc")));
  CHECK_FALSE(equal_constant_time(d, sha256("abd")));
  CHECK_FALSE(parse_sha256_hex("ba7816bf", d));
  CHECK_FALSE(parse_sha256_hex(std::string(63, 'a') + "g", d));
}

namespace {
std::string line(std::string_view token, std::string_view rest) {
  return to_hex(sha256(token)) + " " + std::string(rest) + "\n";
}
}  // namespace

TEST_CASE("token table authenticates by the token's hash and role") {
  const auto table = token_table::parse("# operators\n\n" + line("root-secret", "admin") + "  " +
                                        line("look-only", "reader") + line("t1-secret", "tenant t1"));
  CHECK(table.size() == 3);
  const principal* admin = table.authenticate("Bearer root-secret");
  REQUIRE(admin);
  CHECK(admin->role == role::admin);
  const principal* tenant = table.authenticate("bearer   t1-secret ");
  REQUIRE(tenant);
  CHECK(tenant->role == role::tenant);
  CHECK(tenant->tenant == "t1");
  CHECK(table.authenticate("Bearer look-only")->role == role::reader);
  CHECK_FALSE(table.authenticate("Bearer wrong"));
  CHECK_FALSE(table.authenticate(""));
  CHECK_FALSE(table.authenticate("Basic cm9vdDpzZWNyZXQ="));
  CHECK_FALSE(table.authenticate("Bearer"));
  CHECK_FALSE(table.authenticate("Bearer "));
  CHECK_FALSE(table.authenticate("Bearerroot-secret"));
  CHECK_FALSE(table.authenticate("Bearer " + std::string(5000, 'x')));
  // The digest itself is not a token.
  CHECK_FALSE(table.authenticate("Bearer " + to_hex(sha256("root-secret"))));
}

TEST_CASE("malformed token lines are refused with their line number") {
  const std::string good = line("a", "admin");
  const auto refused_at = [](const std::string& text) -> std::string {
    try {
      token_table::parse(text);
    } catch (const token_error& e) {
      return e.what();
    }
    return "accepted";
  };
  CHECK(refused_at(good + "nothex admin\n").rfind("line 2:", 0) == 0);
  CHECK(refused_at(good + "# c\n" + line("b", "root")).rfind("line 3:", 0) == 0);
  CHECK(refused_at(line("b", "tenant")).rfind("line 1:", 0) == 0);
  CHECK(refused_at(line("b", "tenant -bad")).rfind("line 1:", 0) == 0);
  CHECK(refused_at(line("b", "admin extra")).rfind("line 1:", 0) == 0);
  CHECK(refused_at(line("b", "tenant t1 extra")).rfind("line 1:", 0) == 0);
  CHECK(refused_at(to_hex(sha256("b")) + "\n").rfind("line 1:", 0) == 0);
  CHECK(refused_at(good + good).rfind("line 2:", 0) == 0);
  CHECK(refused_at(good + "\r\n# windows line endings\r\n" + line("c", "reader")) == "accepted");
}

TEST_CASE("token files are loaded from disk and errors name the path, never a token") {
  const std::string path = "/tmp/horao_api_tokens_test.txt";
  {
    std::ofstream out(path);
    out << line("secret-one", "admin") << "zz reader\n";
  }
  try {
    token_table::load(path);
    FAIL("accepted a malformed file");
  } catch (const token_error& e) {
    const std::string what = e.what();
    CHECK(what.find(path) != std::string::npos);
    CHECK(what.find("line 2") != std::string::npos);
    CHECK(what.find("secret-one") == std::string::npos);
  }
  {
    std::ofstream out(path);
    out << line("secret-one", "admin");
  }
  CHECK(token_table::load(path).authenticate("Bearer secret-one"));
  std::remove(path.c_str());
  CHECK_THROWS_AS(token_table::load(path), token_error);
}
