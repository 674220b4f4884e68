#include "horao/api/changes.hpp"

#include "horao/api/access.hpp"
#include "horao/api/resource_json.hpp"
#include "horao/api/text.hpp"

namespace horao::api {
namespace {

// A deleted record keeps no fields, so whose it was is unknown: a tenant sees
// no deletions of tenant-owned kinds, nor of other tenants' records.
bool may_see(const principal& who, std::string_view kind, std::string_view id,
             const store::stored_record& entry) {
  if (entry.state.alive()) return may_read(who, kind, id, entry.state);
  if (who.role == role::admin) return true;
  if (tenant_owned_kind(kind)) return false;
  return who.role == role::reader || kind != "tenant" || id == who.tenant;
}

}  // namespace

void list_changes(router_context& ctx, exchange& ex) {
  const auto limit = ex.query.limit();
  if (auto* e = std::get_if<api_error>(&limit)) return ex.reply(error_response(*e));
  const auto since = ex.query.unsigned_value("since", 0);
  if (auto* e = std::get_if<api_error>(&since)) return ex.reply(error_response(*e));
  const std::uint64_t from = std::get<std::uint64_t>(since);

  std::string body = "{\"changes\":[";
  std::uint64_t count = 0;
  std::size_t scanned = 0;
  std::uint64_t next = from;
  ctx.store.changes_since(
      from, [&](std::uint64_t seq, std::string_view key, const store::stored_record& entry) {
        if (count == std::get<std::uint64_t>(limit) || scanned == ctx.max_scan) return false;
        ++scanned;
        next = seq;
        const auto [kind, id] = store::split_key(key);
        const bool alive = entry.state.alive();
        if (!may_see(ex.who, kind, id, entry)) return true;
        if (count++) body += ',';
        body += "{\"seq\":";
        body += std::to_string(seq);
        body += ",\"key\":";
        append_json_string(body, key);
        body += alive ? ",\"deleted\":false,\"resource\":" : ",\"deleted\":true,\"resource\":null";
        if (alive) append_view(body, ctx, kind, id, entry);
        body += '}';
        return true;
      });
  body += "],\"next\":";
  body += std::to_string(next);
  body += ",\"resync\":";
  body += from < ctx.store.oldest_replayable() ? "true" : "false";
  body += '}';
  response r;
  r.body = std::move(body);
  ex.reply(std::move(r));
}

}  // namespace horao::api
