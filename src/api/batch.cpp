#include "horao/api/batch.hpp"

#include <map>
#include <set>
#include <unordered_map>

#include "horao/api/access.hpp"
#include "horao/api/json_body.hpp"
#include "horao/api/merge_patch.hpp"
#include "horao/api/resource_handlers.hpp"
#include "horao/api/resource_json.hpp"
#include "horao/api/resource_write.hpp"
#include "horao/api/text.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

enum class op_type { put, patch, remove };

struct planned_op {
  op_type type;
  std::string key;
  const domain::kind_info* kind;
  std::string id;
  json normalised;  // put, patch: the body to write
};

// The store as the batch's earlier operations leave it.
class overlay final : public domain::reference_lookup {
 public:
  overlay(const store::record_store& store, const domain::relation_index& relations)
      : store_(store), relations_(relations) {}

  bool alive(std::string_view key) const override {
    if (auto it = state_.find(std::string(key)); it != state_.end()) return it->second.has_value();
    return store_.find_alive(key) != nullptr;
  }

  // The visible body of a live key (the overlay's, or the store's).
  json body(const std::string& key) const {
    if (auto it = state_.find(key); it != state_.end()) return it->second.value_or(json());
    const store::stored_record* entry = store_.find_alive(key);
    return entry ? visible_fields(entry->state) : json();
  }

  // Records the new state of `key` (nullopt: deleted) and keeps the count of
  // live children per parent in step.
  void set(const std::string& key, std::optional<json> value) {
    const auto before = parents(key);
    state_[key] = std::move(value);
    const auto after = parents(key);
    for (const auto& p : before)
      if (!after.contains(p)) --child_delta_[p];
    for (const auto& p : after)
      if (!before.contains(p)) ++child_delta_[p];
  }

  // Live children of `key` once the earlier operations are counted.
  long long child_count(const std::string& key) const {
    const auto it = child_delta_.find(key);
    return static_cast<long long>(relations_.child_count(key)) + (it == child_delta_.end() ? 0 : it->second);
  }

  // Up to `limit` of them, for the message.
  std::vector<std::string> some_children(const std::string& key, std::size_t limit) const {
    std::vector<std::string> some;
    for (auto& child : relations_.children(key, limit + state_.size()))
      if (some.size() < limit && parents(child).contains(key)) some.push_back(std::move(child));
    for (const auto& [child, value] : state_)
      if (some.size() < limit && value && !store_child(child, key) && parents(child).contains(key))
        some.push_back(child);
    return some;
  }

 private:
  bool store_child(const std::string& child, const std::string& parent) const {
    for (const auto& l : relations_.parents(child))
      if (l.key == parent) return true;
    return false;
  }

  std::set<std::string> parents(const std::string& key) const {
    std::set<std::string> keys;
    if (auto it = state_.find(key); it != state_.end()) {
      if (!it->second) return keys;
      for (const auto& r : domain::relations_of(store::split_key(key).first)) {
        const auto member = it->second->find(r.field_name());
        if (member == it->second->end()) continue;
        if (auto p = domain::parent_key(r, member->dump())) keys.insert(std::move(*p));
      }
      return keys;
    }
    for (auto& l : relations_.parents(key))
      if (!l.key.empty()) keys.insert(std::move(l.key));
    return keys;
  }

  const store::record_store& store_;
  const domain::relation_index& relations_;
  std::unordered_map<std::string, std::optional<json>> state_;
  std::map<std::string, long long> child_delta_;
};

api_error invalid(std::string message, std::string field) {
  return api_error{422, "validation_failed", std::move(message), std::move(field)};
}

// Validates operation `i` against the overlay and records its effect there.
std::variant<planned_op, api_error> plan(const json& op, std::size_t i, const principal& who,
                                         overlay& state) {
  const std::string at = "/operations/" + std::to_string(i);
  if (!op.is_object()) return invalid("each operation must be an object {op, key, body}", at);
  for (const auto& [name, value] : op.items())
    if (name != "op" && name != "key" && name != "body")
      return invalid("unknown member (accepted: op, key, body)", at + "/" + pointer_token(name));

  planned_op p{};
  const auto op_it = op.find("op");
  if (op_it == op.end() || !op_it->is_string())
    return invalid("op must be \"put\", \"patch\" or \"delete\"", at + "/op");
  const auto& op_name = op_it->get_ref<const std::string&>();
  if (op_name == "put")
    p.type = op_type::put;
  else if (op_name == "patch")
    p.type = op_type::patch;
  else if (op_name == "delete")
    p.type = op_type::remove;
  else
    return invalid("op must be \"put\", \"patch\" or \"delete\"", at + "/op");

  const auto key_it = op.find("key");
  const auto parsed = key_it != op.end() && key_it->is_string()
                          ? domain::parse_key(key_it->get_ref<const std::string&>())
                          : std::nullopt;
  if (!parsed) return invalid("key must be \"kind/id\" with a known kind and a valid id", at + "/key");
  if (parsed->kind->kind == "reservation")
    return invalid("reservations are not accepted in batches: PUT them one by one (the scheduler decides)",
                   at + "/key");
  p.kind = parsed->kind;
  p.id = std::string(parsed->id);
  p.key = key_it->get<std::string>();

  const auto body_it = op.find("body");
  const bool has_body = body_it != op.end() && !body_it->is_null();
  if (p.type == op_type::remove && has_body) return invalid("a delete takes no body", at + "/body");
  if (p.type != op_type::remove && (!has_body || !body_it->is_object()))
    return invalid("body must be a JSON object", at + "/body");

  if (!may_write_kind(who, p.kind->kind))
    return api_error{403, "forbidden", "this token may not write " + std::string(p.kind->collection),
                     at + "/key"};
  const bool live = state.alive(p.key);
  const json current = live ? state.body(p.key) : json();
  if (live && !may_write(who, p.kind->kind, tenant_json_of(current)))
    return api_error{403, "forbidden", "this token may not change " + p.key, at + "/key"};
  if (p.type != op_type::put && !live)
    return api_error{404, "not_found", "no live resource " + p.key + " at this point of the batch",
                     at + "/key"};

  if (p.type == op_type::remove) {
    if (const long long n = state.child_count(p.key); n > 0)
      return api_error{409, "has_children",
                       children_message(p.key, static_cast<std::size_t>(n), state.some_children(p.key, 10)),
                       at + "/key"};
    state.set(p.key, std::nullopt);
    return p;
  }

  json body = *body_it;
  if (p.type == op_type::patch) {
    if (auto e = strip_daemon_members(*p.kind, p.id, body, at + "/body")) return *e;
    body = merge_patch(current, body);
  }
  if (!may_write(who, p.kind->kind, tenant_json_of(body)))
    return api_error{403, "forbidden",
                     "this token may only write its own tenant's " + std::string(p.kind->collection),
                     at + "/body/tenant"};
  auto prepared = prepare_body(*p.kind, p.id, std::move(body), state, at + "/body");
  if (auto* e = std::get_if<api_error>(&prepared)) {
    // The batch itself is JSON; a body that is not an object is a field error.
    if (e->code == "bad_json") return invalid(e->message, e->field);
    return std::move(*e);
  }
  p.normalised = std::move(std::get<json>(prepared));
  state.set(p.key, p.normalised);
  return p;
}

}  // namespace

void post_batch(router_context& ctx, exchange& ex) {
  const auto refuse = [&](const api_error& e) { ex.reply(error_response(e)); };
  if (auto e = require_json(ex.req)) return refuse(*e);
  if (auto e = writes_refused(ctx)) return refuse(*e);
  auto parsed = parse_json(ex.req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) return refuse(*e);
  const json& doc = std::get<json>(parsed);
  if (!doc.is_object())
    return refuse({400, "bad_json", "the body must be a JSON object {\"operations\": [...]}", ""});
  for (const auto& [name, value] : doc.items())
    if (name != "operations")
      return refuse(invalid("unknown member (accepted: operations)", "/" + pointer_token(name)));
  const auto ops = doc.find("operations");
  if (ops == doc.end() || !ops->is_array())
    return refuse(invalid("operations must be an array of {op, key, body}", "/operations"));
  if (ops->size() > max_batch_operations)
    return refuse(
        invalid("at most " + std::to_string(max_batch_operations) + " operations per batch", "/operations"));

  std::vector<planned_op> plans;
  plans.reserve(ops->size());
  overlay state(ctx.store, ctx.relations);
  for (std::size_t i = 0; i < ops->size(); ++i) {
    auto p = plan((*ops)[i], i, ex.who, state);
    if (auto* e = std::get_if<api_error>(&p)) return refuse(*e);
    plans.push_back(std::move(std::get<planned_op>(p)));
  }

  // Everything is valid: apply in order, synchronously, so the changes reach
  // the store's subscribers (persistence, replication) together.
  std::string body = "{\"results\":[";
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const planned_op& p = plans[i];
    int status = 204;
    const store::stored_record* entry = nullptr;
    switch (p.type) {
      case op_type::put: {
        const auto result = ctx.store.put(p.key, put_writes(p.normalised));
        status = result.created ? 201 : 200;
        entry = result.entry;
        break;
      }
      case op_type::patch: {
        entry = ctx.store.find_alive(p.key);
        const auto writes = patch_writes(entry->state, p.normalised);
        if (!writes.empty()) entry = ctx.store.patch(p.key, writes);
        status = 200;
        break;
      }
      case op_type::remove:
        ctx.store.remove(p.key);
        break;
    }
    if (i) body += ',';
    body += "{\"key\":";
    append_json_string(body, p.key);
    body += ",\"status\":" + std::to_string(status) + ",\"resource\":";
    if (entry)
      append_view(body, ctx, p.kind->kind, p.id, *entry);
    else
      body += "null";
    body += '}';
  }
  body += "]}";
  response ok;
  ok.body = std::move(body);
  answer_when_durable(ctx, ctx.store.seq(), std::move(ok), std::move(ex.reply));
}

}  // namespace horao::api
