#include "horao/api/resource_json.hpp"

#include <algorithm>

#include "horao/api/text.hpp"

namespace horao::api {
namespace {

bool set_by_daemon(std::string_view name, std::span<const computed_member> computed) {
  if (name == "kind" || name == "id" || name == "meta") return true;
  return std::any_of(computed.begin(), computed.end(),
                     [&](const computed_member& m) { return m.name == name; });
}

}  // namespace

void append_resource(std::string& out, std::string_view kind, std::string_view id,
                     const store::stored_record& entry, std::span<const computed_member> computed) {
  const crdt::record& state = entry.state;
  const std::string created = crdt::to_string(state.created());
  // Formatting a stamp is the costliest step of a read; a record never
  // changed since its creation shows the same stamp twice.
  const crdt::hlc updated_at = state.updated();
  const std::string updated = updated_at == state.created() ? created : crdt::to_string(updated_at);
  const std::string seq = std::to_string(entry.seq);

  std::size_t size = 64 + kind.size() + id.size() + created.size() + updated.size() + seq.size();
  for (const auto& f : state.fields()) size += f.name_text().size() + f.value.size() + 4;
  for (const auto& m : computed) size += m.name.size() + m.json.size() + 4;
  out.reserve(out.size() + size);

  out += "{\"kind\":";
  append_json_string(out, kind);
  out += ",\"id\":";
  append_json_string(out, id);
  for (const auto& f : state.fields()) {
    if (f.absent() || set_by_daemon(f.name_text(), computed)) continue;
    out += ',';
    out += crdt::field_names().json_member(f.name);
    out += f.value;
  }
  for (const auto& m : computed) {
    out += ',';
    append_json_string(out, m.name);
    out += ':';
    out += m.json;
  }
  out += ",\"meta\":{\"created\":";
  append_json_string(out, created);
  out += ",\"updated\":";
  append_json_string(out, updated);
  out += ",\"seq\":";
  out += seq;
  out += "}}";
}

std::vector<computed_member> computed_members(const router_context& ctx, std::string_view kind,
                                              std::string_view id, const crdt::record& state) {
  std::vector<computed_member> members;
  if (kind != "reservation") return members;
  const reservation_status s = ctx.reservation_status_of(id, state);
  members.push_back({"status", nlohmann::json(s.status).dump()});
  if (!s.conflict.empty())
    members.push_back(
        {"conflict",
         nlohmann::json(s.conflict).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  return members;
}

void append_view(std::string& out, const router_context& ctx, std::string_view kind, std::string_view id,
                 const store::stored_record& entry) {
  if (kind != "reservation") return append_resource(out, kind, id, entry);
  const auto computed = computed_members(ctx, kind, id, entry.state);
  append_resource(out, kind, id, entry, computed);
}

std::string render_view(const router_context& ctx, std::string_view kind, std::string_view id,
                        const store::stored_record& entry) {
  std::string out;
  append_view(out, ctx, kind, id, entry);
  return out;
}

nlohmann::json visible_fields(const crdt::record& state) {
  nlohmann::json body = nlohmann::json::object();
  for (const auto& f : state.fields()) {
    if (f.absent()) continue;
    auto value = nlohmann::json::parse(f.value.view(), nullptr, /*allow_exceptions=*/false);
    if (!value.is_discarded()) body[f.name_text()] = std::move(value);
  }
  return body;
}

std::string etag_of(std::uint64_t seq) {
  return "\"" + std::to_string(seq) + "\"";
}

bool if_match_satisfied(std::string_view header, const store::stored_record* live) {
  header = trim(header);
  if (header.empty()) return true;
  if (!live) return false;
  if (header == "*") return true;
  const std::string current = etag_of(live->seq);
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view tag = trim(header.substr(0, comma));
    if (tag == current) return true;
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
  }
  return false;
}

}  // namespace horao::api
