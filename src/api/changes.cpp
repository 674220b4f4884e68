#include "horao/api/changes.hpp"

#include "horao/api/access.hpp"
#include "horao/api/resource_json.hpp"
#include "horao/api/text.hpp"

namespace horao::api {

bool may_see_change(const principal& who, std::string_view kind, std::string_view id,
                    const store::stored_record& entry) {
  if (entry.state.alive()) return may_read(who, kind, id, entry.state);
  if (who.role == role::admin) return true;
  if (tenant_owned_kind(kind)) return false;
  return who.role == role::reader || kind != "tenant" || id == who.tenant;
}

void append_change_item(std::string& out, const router_context& ctx, std::uint64_t seq, std::string_view key,
                        const store::stored_record& entry) {
  const bool alive = entry.state.alive();
  out += "{\"seq\":";
  out += std::to_string(seq);
  out += ",\"key\":";
  append_json_string(out, key);
  out += alive ? ",\"deleted\":false,\"resource\":" : ",\"deleted\":true,\"resource\":null";
  if (alive) {
    const auto [kind, id] = store::split_key(key);
    append_view(out, ctx, kind, id, entry);
  }
  out += '}';
}

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
  ctx.store.changes_since(from,
                          [&](std::uint64_t seq, std::string_view key, const store::stored_record& entry) {
                            if (count == std::get<std::uint64_t>(limit) || scanned == ctx.max_scan)
                              return false;
                            ++scanned;
                            next = seq;
                            const auto [kind, id] = store::split_key(key);
                            if (!may_see_change(ex.who, kind, id, entry)) return true;
                            if (count++) body += ',';
                            append_change_item(body, ctx, seq, key, entry);
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
