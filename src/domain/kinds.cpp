#include "horao/domain/kinds.hpp"

#include <array>

namespace horao::domain {
namespace {

constexpr std::array<kind_info, 15> kinds{{
    {"datacenters", "datacenter"}, {"cabinets", "cabinet"},     {"chassis", "chassis"},
    {"blades", "blade"},           {"nodes", "node"},           {"servers", "server"},
    {"switches", "switch"},        {"routers", "router"},       {"firewalls", "firewall"},
    {"disks", "disk"},             {"networks", "network"},     {"vms", "vm"},
    {"tenants", "tenant"},         {"reservations", "reservation"}, {"maintenances", "maintenance"},
}};

// [A-Za-z0-9._-] as a table: every id of every request goes through it.
constexpr std::array<bool, 256> id_chars = [] {
  std::array<bool, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("._-")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool id_char(char c) {
  return id_chars[static_cast<unsigned char>(c)];
}

}  // namespace

std::span<const kind_info> all_kinds() { return kinds; }

const kind_info* find_collection(std::string_view collection) {
  for (const auto& k : kinds)
    if (k.collection == collection) return &k;
  return nullptr;
}

const kind_info* find_kind(std::string_view kind) {
  for (const auto& k : kinds)
    if (k.kind == kind) return &k;
  return nullptr;
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  const char first = id.front();
  if (first == '.' || first == '_' || first == '-') return false;
  for (char c : id)
    if (!id_char(c)) return false;
  return true;
}

std::string make_key(std::string_view kind, std::string_view id) {
  std::string key;
  key.reserve(kind.size() + 1 + id.size());
  key += kind;
  key += '/';
  key += id;
  return key;
}

std::optional<parsed_key> parse_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const kind_info* kind = find_kind(key.substr(0, slash));
  const std::string_view id = key.substr(slash + 1);
  if (!kind || !valid_id(id)) return std::nullopt;
  return parsed_key{kind, id};
}

}  // namespace horao::domain
