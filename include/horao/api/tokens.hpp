#pragma once
// API_TOKENS_FILE (API.md "Access"): who a bearer token is.
//
// File format, one token per line: `SHA256HEX ROLE [TENANT]`, fields
// separated by spaces or tabs; ROLE is admin, reader or tenant; TENANT (a
// valid id) is required for `tenant` and refused for the others. Blank lines
// and lines starting with '#' are ignored.
//
// Invariants: a table holds only well-formed, distinct digests (a malformed
// or duplicate line is refused at load with its line number, so a typo never
// silently locks someone out or lets someone in); tokens themselves are never
// stored, only their SHA-256; authenticate() hashes the presented token and
// compares it with every entry in constant time, so neither timing nor the
// error reveals which entry was close. Nothing here logs or echoes a token.

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "horao/api/sha256.hpp"

namespace horao::api {

enum class role { admin, reader, tenant };

struct principal {
  api::role role = role::admin;
  std::string tenant;  // set for role::tenant only
};

class token_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class token_table {
 public:
  // Throws token_error "line N: ..." on the first bad line.
  static token_table parse(std::string_view text);
  // Reads and parses a file; throws token_error naming the path.
  static token_table load(const std::string& path);

  // The principal for an `Authorization` header value ("Bearer TOKEN"), or
  // nullptr when the header is missing, malformed or names no known token.
  const principal* authenticate(std::string_view authorization) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct entry {
    sha256_digest digest;
    principal who;
  };
  std::vector<entry> entries_;
};

// The principal of an open API (no API_TOKENS_FILE): everything is allowed.
const principal& open_principal();

}  // namespace horao::api
