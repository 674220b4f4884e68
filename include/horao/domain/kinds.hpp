#pragma once
// The kinds of resource HORAO knows (API.md "Resources") and how their
// collections, kinds and keys are named.
//
// Invariants: every collection maps to exactly one kind and back; ids match
// [A-Za-z0-9][A-Za-z0-9._-]{0,127}; a key is "kind/id".

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace horao::domain {

struct kind_info {
  std::string_view collection;  // "servers"
  std::string_view kind;        // "server"
};

std::span<const kind_info> all_kinds();
const kind_info* find_collection(std::string_view collection);
const kind_info* find_kind(std::string_view kind);

bool valid_id(std::string_view id);
std::string make_key(std::string_view kind, std::string_view id);
// Parses "kind/id" with a known kind and a valid id.
struct parsed_key {
  const kind_info* kind;
  std::string_view id;
};
std::optional<parsed_key> parse_key(std::string_view key);

}  // namespace horao::domain
