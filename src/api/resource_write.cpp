#include "horao/api/resource_write.hpp"

#include <array>

#include "horao/api/json_body.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

std::string dump(const json& value) {
  // Strings in a body were checked as UTF-8 by the parser; `replace` keeps a
  // value from a faulty peer or scheduler hook from throwing here.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

api_error refusal(domain::violation v, std::string_view pointer) {
  return api_error{v.status, std::move(v.code), std::move(v.message), std::string(pointer) + v.field};
}

// The members a body may carry although the daemon sets them, in the order
// they are checked.
constexpr std::array<std::string_view, 3> daemon_members{"id", "kind", "meta"};

// What such a member holds, as far as the rules below look at it.
struct daemon_member {
  std::string_view name;
  bool is_string = false;
  std::string_view text;  // when is_string
  bool is_object = false;
};

// `id` must equal the path's, `kind` the kind's, `meta` be an object (a
// client may echo a GET back): nullopt when `m` may be dropped.
std::optional<api_error> refuse_daemon_member(const domain::kind_info& kind, std::string_view id,
                                              const daemon_member& m, std::string_view pointer) {
  const std::string at = std::string(pointer) + "/" + std::string(m.name);
  if (m.name == "id" && (!m.is_string || m.text != id))
    return api_error{400, "invalid_id", "the body's id differs from the id in the path", at};
  if (m.name == "kind" && (!m.is_string || m.text != kind.kind))
    return api_error{422, "validation_failed",
                     "kind must be \"" + std::string(kind.kind) + "\" (set by the daemon)", at};
  if (m.name == "meta" && !m.is_object)
    return api_error{422, "validation_failed", "meta is set by the daemon; when given it must be an object",
                     at};
  return std::nullopt;
}

}  // namespace

std::optional<api_error> strip_daemon_members(const domain::kind_info& kind, std::string_view id, json& body,
                                              std::string_view pointer) {
  if (!body.is_object()) return std::nullopt;  // validate() refuses it with its own message
  for (const std::string_view name : daemon_members) {
    const auto it = body.find(name);
    if (it == body.end()) continue;
    const daemon_member m{name, it->is_string(),
                          it->is_string() ? std::string_view(it->get_ref<const std::string&>()) : "",
                          it->is_object()};
    if (auto refused = refuse_daemon_member(kind, id, m, pointer)) return refused;
    body.erase(it);
  }
  return std::nullopt;
}

std::optional<api_error> strip_daemon_members(const domain::kind_info& kind, std::string_view id,
                                              crdt::json_tape& tape, std::uint32_t body) {
  if (tape[body].type != crdt::json_type::object) return std::nullopt;  // validate() refuses it
  for (const std::string_view name : daemon_members) {
    const std::uint32_t v = tape.find_member(body, name);
    if (v == crdt::json_tape::npos) continue;
    const bool is_string = tape[v].type == crdt::json_type::string;
    const daemon_member m{name, is_string, is_string ? tape.string(v) : "",
                          tape[v].type == crdt::json_type::object};
    if (auto refused = refuse_daemon_member(kind, id, m, {})) return refused;
    tape.erase_member(v - 1);  // the name's node comes right before the value's
  }
  return std::nullopt;
}

std::variant<json, api_error> prepare_body(const domain::kind_info& kind, std::string_view id, json body,
                                           const domain::reference_lookup& references,
                                           std::string_view pointer) {
  if (auto refused = strip_daemon_members(kind, id, body, pointer)) return *refused;
  auto result = domain::validate(kind, id, body, references);
  if (auto* v = std::get_if<domain::violation>(&result)) return refusal(std::move(*v), pointer);
  return std::move(std::get<json>(result));
}

std::variant<domain::normalised_body, api_error> prepare_body(const domain::kind_info& kind,
                                                              std::string_view id, crdt::json_tape& tape,
                                                              const domain::reference_lookup& references) {
  if (auto refused = strip_daemon_members(kind, id, tape, crdt::json_tape::root)) return *refused;
  auto result = domain::validate(kind, id, tape, crdt::json_tape::root, references);
  if (auto* v = std::get_if<domain::violation>(&result)) return refusal(std::move(*v), {});
  return std::move(std::get<domain::normalised_body>(result));
}

std::vector<crdt::field_write> put_writes(const json& normalised) {
  std::vector<crdt::field_write> writes;
  writes.reserve(normalised.size());
  for (const auto& [name, value] : normalised.items()) writes.push_back({name, dump(value)});
  return writes;
}

std::vector<crdt::field_write> patch_writes(const crdt::record& current, const json& normalised) {
  std::vector<crdt::field_write> writes;
  for (const auto& [name, value] : normalised.items()) {
    std::string text = dump(value);
    const crdt::field_entry* f = current.find(name);
    if (!f || f->value != text) writes.push_back({name, std::move(text)});
  }
  for (const auto& f : current.fields())
    if (!f.absent() && !normalised.contains(f.name_text())) writes.push_back({f.name_text(), {}});
  return writes;
}

std::optional<api_error> writes_refused(const router_context& ctx) {
  std::string reason;
  if (!ctx.loaded(&reason))
    return api_error{503, "unavailable",
                     "still loading: " + (reason.empty() ? "recovery in progress" : reason), ""};
  if (!ctx.durability.accepting_writes(&reason))
    return api_error{503, "unavailable",
                     "writes cannot be persisted now: " + (reason.empty() ? "storage unavailable" : reason),
                     ""};
  return std::nullopt;
}

std::optional<api_error> require_json(const request& req, bool merge_patch) {
  if (is_json_media_type(req.content_type, merge_patch)) return std::nullopt;
  return api_error{415, "unsupported_media_type",
                   merge_patch
                       ? "Content-Type must be application/json or application/merge-patch+json (UTF-8)"
                       : "Content-Type must be application/json (UTF-8)",
                   ""};
}

void answer_when_durable(router_context& ctx, std::uint64_t seq, response ok, responder reply) {
  ctx.durability.when_durable(seq, [ok = std::move(ok), reply = std::move(reply)](bool durable) mutable {
    if (durable) return reply(std::move(ok));
    reply(error_response(503, "unavailable",
                         "the write could not be confirmed as persisted, so its outcome is unknown: read the "
                         "resource back or retry (PUT and DELETE are idempotent)"));
  });
}

std::string tenant_json_of(const crdt::json_tape& tape, std::uint32_t body) {
  if (tape[body].type != crdt::json_type::object) return {};
  const std::uint32_t tenant = tape.find_member(body, "tenant");
  if (tenant == crdt::json_tape::npos || tape[tenant].type == crdt::json_type::null) return {};
  std::string text;
  crdt::append_canonical(tape, tenant, text);
  return text;
}

std::string tenant_json_of(const json& body) {
  if (!body.is_object()) return {};
  const auto it = body.find("tenant");
  return it == body.end() || it->is_null() ? std::string() : dump(*it);
}

}  // namespace horao::api
