#include "horao/api/listing.hpp"

#include "horao/api/access.hpp"
#include "horao/api/resource_json.hpp"
#include "horao/api/text.hpp"
#include "horao/domain/schema.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

struct field_filter {
  std::string name;
  json value;
  std::string text;      // value as compact JSON: the stored form for all but numbers
  bool numeric = false;  // compare parsed: 3 and 3.0 are equal
};

// The value a record shows for `name`: a stored field, or a member computed
// on reads (a reservation's status). nullopt when it has none. The view
// points into `computed` or `state`, which outlive the filter check.
std::optional<std::string_view> shown_value(const std::vector<computed_member>& computed,
                                            const crdt::record& state, std::string_view name) {
  for (const auto& m : computed)
    if (m.name == name) return m.json;
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return std::nullopt;
  return f->value.view();
}

bool matches(const field_filter& f, std::string_view stored) {
  if (!f.numeric) return stored == f.text;
  const json value = json::parse(stored, nullptr, /*allow_exceptions=*/false);
  return value.is_number() && value == f.value;
}

std::variant<std::vector<field_filter>, api_error> parse_filters(const domain::kind_info& kind,
                                                                 const query_params& query) {
  std::vector<field_filter> filters;
  const auto& schema = domain::schema_of(kind);
  for (const auto& p : query.all()) {
    if (p.name == "limit" || p.name == "after") continue;
    const domain::field_spec* field = schema.find(p.name);
    if (!field || !domain::is_scalar(field->value))
      return bad_query(p.name, "not a parameter of this listing nor a top-level scalar field of " +
                                   std::string(kind.kind));
    auto value = domain::filter_value(*field, p.value);
    if (!value)
      return bad_query(p.name, "not a valid " + std::string(domain::json_type_name(field->value)) +
                                   " value for this field");
    field_filter f{p.name, *value, value->dump(), field->value.kind == domain::value_kind::number};
    filters.push_back(std::move(f));
  }
  return filters;
}

}  // namespace

void list_collection(router_context& ctx, exchange& ex) {
  const auto& kind = *ex.route.kind;
  const auto limit = ex.query.limit();
  if (auto* e = std::get_if<api_error>(&limit)) return ex.reply(error_response(*e));
  std::string after;
  if (const std::string* a = ex.query.find("after")) {
    if (!domain::valid_id(*a))
      return ex.reply(error_response(bad_query("after", "expected an id (the previous page's next)")));
    after = *a;
  }
  auto parsed = parse_filters(kind, ex.query);
  if (auto* e = std::get_if<api_error>(&parsed)) return ex.reply(error_response(*e));
  const auto& filters = std::get<std::vector<field_filter>>(parsed);
  const bool computes = kind.kind == "reservation";

  std::string body = "{\"items\":[";
  std::uint64_t count = 0;
  std::size_t scanned = 0;
  std::string last_id;  // last record looked at
  bool full = false;    // the page is full; stop at the next record
  bool more = false;    // stopped with records left to look at
  ctx.store.for_each_alive(kind.kind, after, [&](std::string_view id, const store::stored_record& entry) {
    if (full || scanned == ctx.max_scan) {
      more = true;
      return false;
    }
    ++scanned;
    last_id.assign(id);
    if (!may_read(ex.who, kind.kind, id, entry.state)) return true;
    std::vector<computed_member> computed;
    if (computes) computed = computed_members(ctx, kind.kind, id, entry.state);
    for (const auto& f : filters) {
      const auto value = shown_value(computed, entry.state, f.name);
      if (!value || !matches(f, *value)) return true;
    }
    if (count) body += ',';
    append_resource(body, kind.kind, id, entry, computed);
    full = ++count == std::get<std::uint64_t>(limit);
    return true;
  });
  body += "],\"next\":";
  if (more)
    append_json_string(body, last_id);
  else
    body += "null";
  body += '}';
  response r;
  r.body = std::move(body);
  ex.reply(std::move(r));
}

}  // namespace horao::api
