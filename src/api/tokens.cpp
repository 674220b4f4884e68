#include "horao/api/tokens.hpp"

#include <fstream>
#include <sstream>

#include "horao/api/text.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::api {
namespace {

// Longest bearer token hashed: bounds the work an unauthenticated request causes.
constexpr std::size_t max_token_bytes = 4096;

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

}  // namespace

token_table token_table::parse(std::string_view text) {
  token_table table;
  std::size_t line_number = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    const auto fields = split_fields(line);
    if (fields.empty() || fields.front().front() == '#') continue;
    const auto fail = [&](const std::string& why) {
      throw token_error("line " + std::to_string(line_number) + ": " + why);
    };
    entry e;
    if (!parse_sha256_hex(fields[0], e.digest))
      fail("expected the SHA-256 of the token as 64 hex digits first");
    if (fields.size() < 2) fail("expected a role (admin, reader or tenant) after the digest");
    const std::string_view role_name = fields[1];
    if (role_name == "admin") {
      e.who.role = role::admin;
    } else if (role_name == "reader") {
      e.who.role = role::reader;
    } else if (role_name == "tenant") {
      e.who.role = role::tenant;
      if (fields.size() < 3) fail("role tenant needs a tenant id");
      if (!domain::valid_id(fields[2])) fail("tenant id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
      e.who.tenant = std::string(fields[2]);
    } else {
      fail("unknown role (accepted: admin, reader, tenant)");
    }
    const std::size_t expected = e.who.role == role::tenant ? 3 : 2;
    if (fields.size() > expected)
      fail("unexpected text after the " + std::string(role_name == "tenant" ? "tenant id" : "role"));
    for (const auto& other : table.entries_)
      if (equal_constant_time(other.digest, e.digest)) fail("the same token digest is listed twice");
    table.entries_.push_back(std::move(e));
  }
  return table;
}

token_table token_table::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw token_error("API_TOKENS_FILE " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse(text.str());
  } catch (const token_error& e) {
    throw token_error("API_TOKENS_FILE " + path + " " + e.what());
  }
}

const principal* token_table::authenticate(std::string_view authorization) const {
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() + 1 || !iequals(authorization.substr(0, scheme.size()), scheme) ||
      !blank(authorization[scheme.size()]))
    return nullptr;
  std::string_view token = authorization.substr(scheme.size() + 1);
  while (!token.empty() && blank(token.front())) token.remove_prefix(1);
  while (!token.empty() && blank(token.back())) token.remove_suffix(1);
  if (token.empty() || token.size() > max_token_bytes) return nullptr;
  const sha256_digest presented = sha256(token);
  // Every entry is compared, whichever matches: the time does not depend on
  // which entry (if any) is the token.
  const principal* found = nullptr;
  for (const auto& e : entries_) {
    const bool same = equal_constant_time(e.digest, presented);
    found = same ? &e.who : found;
  }
  return found;
}

const principal& open_principal() {
  static const principal admin{role::admin, {}};
  return admin;
}

}  // namespace horao::api
