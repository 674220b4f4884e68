#include "horao/api/resource_handlers.hpp"

#include "horao/api/access.hpp"
#include "horao/api/json_body.hpp"
#include "horao/api/merge_patch.hpp"
#include "horao/api/resource_json.hpp"
#include "horao/api/resource_write.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

constexpr std::size_t children_shown = 10;

void refuse(exchange& ex, const api_error& e) {
  ex.reply(error_response(e));
}

api_error not_found(std::string_view key) {
  return api_error{404, "not_found", "no live resource " + std::string(key), ""};
}

api_error forbidden(std::string_view why) {
  return api_error{403, "forbidden", std::string(why), ""};
}

api_error precondition_failed(const store::stored_record* live) {
  return api_error{412, "precondition_failed",
                   live ? "If-Match does not match the current ETag " + etag_of(live->seq)
                        : "If-Match given but there is no live resource",
                   ""};
}

response resource_response(router_context& ctx, int status, std::string_view kind, std::string_view id,
                           const store::stored_record& entry) {
  response r;
  r.status = status;
  r.body = render_view(ctx, kind, id, entry);
  r.headers.emplace_back("ETag", etag_of(entry.seq));
  return r;
}

// Parses a write's body: JSON, an object.
std::variant<json, api_error> object_body(const request& req) {
  auto parsed = parse_json(req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) return std::move(*e);
  if (!std::get<json>(parsed).is_object())
    return api_error{400, "bad_json", "the body must be a JSON object", ""};
  return std::move(std::get<json>(parsed));
}

// The scheduler's say on a reservation; nothing for other kinds.
std::optional<api_error> admit(router_context& ctx, const exchange& ex, std::string_view id, json& body,
                               bool is_patch) {
  if (ex.route.kind->kind != "reservation") return std::nullopt;
  return ctx.admit_reservation(id, body, is_patch, ex.who);
}

}  // namespace

std::string children_message(std::string_view key, std::size_t count, const std::vector<std::string>& some) {
  std::string message = std::string(key) + " has " + std::to_string(count) + " live " +
                        (count == 1 ? "child" : "children") + "; delete or move them first: ";
  for (std::size_t i = 0; i < some.size() && i < children_shown; ++i) {
    if (i) message += ", ";
    message += some[i];
  }
  if (count > children_shown) message += ", ...";
  return message;
}

void get_resource(router_context& ctx, exchange& ex) {
  const auto& kind = *ex.route.kind;
  const std::string key = domain::make_key(kind.kind, ex.route.id);
  const store::stored_record* entry = ctx.store.find_alive(key);
  if (!entry) return refuse(ex, not_found(key));
  if (!may_read(ex.who, kind.kind, ex.route.id, entry->state))
    return refuse(ex, forbidden("this token may not read " + key));
  ex.reply(resource_response(ctx, 200, kind.kind, ex.route.id, *entry));
}

void put_resource(router_context& ctx, exchange& ex) {
  const auto& kind = *ex.route.kind;
  const std::string_view id = ex.route.id;
  if (auto e = require_json(ex.req)) return refuse(ex, *e);
  if (auto e = writes_refused(ctx)) return refuse(ex, *e);
  // The body is read into a flat tape and validated from it: no JSON tree on
  // this path (the daemon's busiest write).
  auto parsed = parse_json_tape(ex.req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) return refuse(ex, *e);
  crdt::json_tape& body = std::get<crdt::json_tape>(parsed);
  if (body[crdt::json_tape::root].type != crdt::json_type::object)
    return refuse(ex, api_error{400, "bad_json", "the body must be a JSON object", ""});

  const std::string key = domain::make_key(kind.kind, id);
  const store::stored_record* live = ctx.store.find_alive(key);
  // Before validation: a tenant must not learn about others' data from 422s.
  if (live && !may_write(ex.who, kind.kind, tenant_json_of(live->state)))
    return refuse(ex, forbidden("this token may not replace " + key));
  if (!may_write(ex.who, kind.kind, tenant_json_of(body, crdt::json_tape::root)))
    return refuse(ex,
                  forbidden("this token may only write its own tenant's " + std::string(kind.collection)));
  if (!if_match_satisfied(ex.req.if_match, live)) return refuse(ex, precondition_failed(live));

  auto prepared = prepare_body(kind, id, body, store_references(ctx.store));
  if (auto* e = std::get_if<api_error>(&prepared)) return refuse(ex, *e);
  const domain::normalised_body& normalised = std::get<domain::normalised_body>(prepared);
  std::vector<crdt::field_write> writes;
  if (kind.kind == "reservation") {
    // The scheduler reads and completes (a dynamic start) the body as a tree.
    json tree = normalised.to_json();
    if (auto e = admit(ctx, ex, id, tree, /*is_patch=*/false)) return refuse(ex, *e);
    writes = put_writes(tree);
  } else {
    writes = normalised.writes();
  }

  const auto result = ctx.store.put(key, writes);
  response ok = resource_response(ctx, result.created ? 201 : 200, kind.kind, id, *result.entry);
  if (result.created)
    ok.headers.emplace_back("Location", "/v1/" + std::string(kind.collection) + "/" + std::string(id));
  answer_when_durable(ctx, result.entry->seq, std::move(ok), std::move(ex.reply));
}

void patch_resource(router_context& ctx, exchange& ex) {
  const auto& kind = *ex.route.kind;
  const std::string_view id = ex.route.id;
  if (auto e = require_json(ex.req, /*merge_patch=*/true)) return refuse(ex, *e);
  if (auto e = writes_refused(ctx)) return refuse(ex, *e);
  auto patch = object_body(ex.req);
  if (auto* e = std::get_if<api_error>(&patch)) return refuse(ex, *e);

  const std::string key = domain::make_key(kind.kind, id);
  const store::stored_record* live = ctx.store.find_alive(key);
  if (!live) return refuse(ex, not_found(key));
  if (!may_write(ex.who, kind.kind, tenant_json_of(live->state)))
    return refuse(ex, forbidden("this token may not change " + key));
  if (!if_match_satisfied(ex.req.if_match, live)) return refuse(ex, precondition_failed(live));
  if (auto e = strip_daemon_members(kind, id, std::get<json>(patch))) return refuse(ex, *e);

  json merged = merge_patch(visible_fields(live->state), std::get<json>(patch));
  if (!may_write(ex.who, kind.kind, tenant_json_of(merged)))
    return refuse(ex,
                  forbidden("this token may only write its own tenant's " + std::string(kind.collection)));
  auto prepared = prepare_body(kind, id, std::move(merged), store_references(ctx.store));
  if (auto* e = std::get_if<api_error>(&prepared)) return refuse(ex, *e);
  json& normalised = std::get<json>(prepared);
  if (auto e = admit(ctx, ex, id, normalised, /*is_patch=*/true)) return refuse(ex, *e);

  const auto writes = patch_writes(live->state, normalised);
  // A patch that changes nothing writes nothing (no new sequence, same ETag),
  // but is still answered only once the state it shows is durable.
  const store::stored_record* entry = writes.empty() ? live : ctx.store.patch(key, writes);
  response ok = resource_response(ctx, 200, kind.kind, id, *entry);
  answer_when_durable(ctx, entry->seq, std::move(ok), std::move(ex.reply));
}

void delete_resource(router_context& ctx, exchange& ex) {
  const auto& kind = *ex.route.kind;
  if (auto e = writes_refused(ctx)) return refuse(ex, *e);
  const std::string key = domain::make_key(kind.kind, ex.route.id);
  const store::stored_record* live = ctx.store.find_alive(key);
  if (!live) return refuse(ex, not_found(key));
  if (!may_write(ex.who, kind.kind, tenant_json_of(live->state)))
    return refuse(ex, forbidden("this token may not delete " + key));
  if (!if_match_satisfied(ex.req.if_match, live)) return refuse(ex, precondition_failed(live));
  if (ctx.relations.has_live_children(key)) {
    const std::size_t count = ctx.relations.child_count(key);
    return refuse(ex,
                  api_error{409, "has_children",
                            children_message(key, count, ctx.relations.children(key, children_shown)), ""});
  }
  ctx.store.remove(key);
  response ok;
  ok.status = 204;
  ok.content_type.clear();
  answer_when_durable(ctx, ctx.store.seq(), std::move(ok), std::move(ex.reply));
}

}  // namespace horao::api
