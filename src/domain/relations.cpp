#include "horao/domain/relations.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace horao::domain {
namespace {

// Derived from the schemas, so a new reference field is a new relation
// without a second list to keep in step.
const std::vector<relation>& relation_table() {
  static const std::vector<relation> table = [] {
    std::vector<relation> t;
    for (const auto& k : all_kinds())
      for (const auto& f : schema_of(k).fields())
        if (f.value.kind == value_kind::id_ref || f.value.kind == value_kind::key_ref) t.push_back({&k, &f});
    return t;
  }();
  return table;
}

}  // namespace

std::span<const relation> all_relations() {
  return relation_table();
}

std::span<const relation> relations_of(std::string_view kind) {
  const auto& t = relation_table();
  const auto first =
      std::find_if(t.begin(), t.end(), [&](const relation& r) { return r.child->kind == kind; });
  const auto last = std::find_if(first, t.end(), [&](const relation& r) { return r.child->kind != kind; });
  return {first, last};
}

namespace {

// The text of a JSON string without escapes ("c1" -> c1), the common case
// of stored ids and keys; nullopt for anything else (let the DOM decide).
std::optional<std::string_view> plain_string(std::string_view json_text) {
  if (json_text.size() < 2 || json_text.front() != '"' || json_text.back() != '"') return std::nullopt;
  const std::string_view inner = json_text.substr(1, json_text.size() - 2);
  for (const char c : inner)
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
        static_cast<unsigned char>(c) >= 0x80)
      return std::nullopt;
  return inner;
}

// parent_key into `out`; false (and `out` unspecified) when it names nothing.
bool parent_key_into(const relation& r, std::string_view value_json, std::string& out) {
  std::string_view text;
  nlohmann::json value;
  if (const auto plain = plain_string(value_json)) {
    text = *plain;
  } else {
    value = nlohmann::json::parse(value_json, nullptr, /*allow_exceptions=*/false);
    if (!value.is_string()) return false;
    text = value.get_ref<const std::string&>();
  }
  if (r.field->value.kind == value_kind::id_ref) {
    if (!valid_id(text)) return false;
    const std::string& kind = r.parent_kinds().at(0);
    out.assign(kind).append("/").append(text);
    return true;
  }
  const auto key = parse_key(text);
  if (!key) return false;
  const auto& kinds = r.parent_kinds();
  if (std::find(kinds.begin(), kinds.end(), key->kind->kind) == kinds.end()) return false;
  out.assign(text);
  return true;
}

}  // namespace

std::optional<std::string> parent_key(const relation& r, std::string_view value_json) {
  std::string out;
  if (!parent_key_into(r, value_json, out)) return std::nullopt;
  return out;
}

relation_index::relation_index(store::record_store& store) : store_(store) {
  subscription_ = store_.subscribe([this](const store::change& c) { on_change(c); });
  rebuild();
}

relation_index::~relation_index() {
  store_.unsubscribe(subscription_);
}

std::size_t relation_index::read_links(std::string_view key, const crdt::record& state,
                                       std::vector<read_link>& out) const {
  if (!state.alive()) return 0;
  std::size_t n = 0;
  auto next = [&]() -> read_link& {
    if (out.size() <= n) out.resize(n + 1);
    return out[n++];
  };
  for (const relation& r : relations_of(store::split_key(key).first)) {
    const crdt::field_entry* entry = state.find(r.field_name());
    if (!entry || entry->absent()) {
      // An optional parent (a vm's tenant) may be absent; a required one
      // cannot be, unless a faulty peer sent the record.
      if (r.field->required) {
        read_link& l = next();
        l.rel = &r;
        l.key.clear();
      }
      continue;
    }
    read_link& l = next();
    l.rel = &r;
    if (!parent_key_into(r, entry->value, l.key)) l.key.clear();
  }
  return n;
}

std::vector<relation_index::held_link> relation_index::link(std::string_view child,
                                                            std::span<const read_link> links) {
  std::vector<held_link> held;
  held.reserve(links.size());
  for (const auto& l : links) {
    if (l.key.empty()) {
      held.push_back({l.rel, nullptr});
      continue;
    }
    auto it = children_.find(l.key);
    if (it == children_.end()) it = children_.emplace(l.key, key_set{}).first;
    // A rebuild visits each kind's records in key order: the hint is usually right.
    it->second.emplace_hint(it->second.end(), child);
    held.push_back({l.rel, &it->first});
  }
  return held;
}

void relation_index::unlink(std::string_view child, const std::vector<held_link>& links) {
  for (const auto& l : links) {
    if (l.parent == nullptr) continue;
    const auto it = children_.find(*l.parent);
    if (it == children_.end()) continue;
    if (const auto c = it->second.find(child); c != it->second.end()) it->second.erase(c);
    if (it->second.empty()) children_.erase(it);  // `l.parent` dangles from here: not read again
  }
}

bool relation_index::same(const std::vector<held_link>& held, std::span<const read_link> read) {
  if (held.size() != read.size()) return false;
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (held[i].rel != read[i].rel) return false;
    const std::string_view parent = held[i].parent ? std::string_view(*held[i].parent) : std::string_view{};
    if (parent != read[i].key) return false;
  }
  return true;
}

bool relation_index::missing(const held_link& l) const {
  return l.parent == nullptr || !store_.find_alive(*l.parent);
}

void relation_index::refresh_orphan(std::string_view key) {
  const auto it = links_.find(key);
  const bool is_orphan = it != links_.end() && std::any_of(it->second.begin(), it->second.end(),
                                                           [&](const held_link& l) { return missing(l); });
  if (is_orphan) {
    orphans_.insert(it->first);  // the store's text, like every key held here
  } else if (const auto o = orphans_.find(key); o != orphans_.end()) {
    orphans_.erase(o);
  }
}

void relation_index::on_change(const store::change& c) {
  const bool alive = c.entry.state.alive();
  // c.key is the store's own text for this record (record_store::key_of).
  const std::size_t n = read_links(c.key, c.entry.state, scratch_);
  const std::span<const read_link> links(scratch_.data(), n);
  const auto old = links_.find(c.key);
  const bool had_links = old != links_.end();
  if (!had_links || !same(old->second, links)) {
    if (had_links) {
      unlink(c.key, old->second);
      links_.erase(old);
    }
    if (!links.empty()) links_.emplace(c.key, link(c.key, links));
  }
  refresh_orphan(c.key);
  // This record's liveness decides whether its children are orphans.
  if (alive != c.was_alive) {
    if (const auto kids = children_.find(c.key); kids != children_.end())
      for (const auto& child : kids->second) refresh_orphan(child);
  }
}

void relation_index::rebuild() {
  links_.clear();
  children_.clear();
  orphans_.clear();
  std::size_t live = 0;
  for (const auto& k : all_kinds())
    if (!relations_of(k.kind).empty()) live += store_.count_alive(k.kind);
  links_.reserve(live);
  for (const auto& k : all_kinds()) {
    if (relations_of(k.kind).empty()) continue;
    store_.for_each_alive(k.kind, {}, [&](std::string_view, const store::stored_record& entry) {
      const std::string_view key = store::record_store::key_of(entry);
      const std::size_t n = read_links(key, entry.state, scratch_);
      if (n != 0) links_.emplace(key, link(key, std::span<const read_link>(scratch_.data(), n)));
      return true;
    });
  }
  // Orphans only once every live record is known: a parent may come later in
  // the scan. One liveness lookup per parent, not per reference.
  for (const auto& [key, links] : links_)
    if (std::any_of(links.begin(), links.end(), [](const held_link& l) { return l.parent == nullptr; }))
      orphans_.insert(key);
  for (const auto& [parent, kids] : children_)
    if (!store_.find_alive(parent)) orphans_.insert(kids.begin(), kids.end());
}

bool relation_index::has_live_children(std::string_view key) const {
  return children_.contains(key);
}

std::size_t relation_index::child_count(std::string_view key) const {
  const auto it = children_.find(key);
  return it == children_.end() ? 0 : it->second.size();
}

std::vector<std::string> relation_index::children(std::string_view key, std::size_t limit) const {
  std::vector<std::string> out;
  const auto it = children_.find(key);
  if (it == children_.end()) return out;
  for (const auto& child : it->second) {
    if (out.size() >= limit) break;
    out.emplace_back(child);
  }
  return out;
}

std::vector<std::string> relation_index::children_of_kind(std::string_view key, std::string_view kind,
                                                          std::size_t limit) const {
  std::vector<std::string> out;
  const auto it = children_.find(key);
  if (it == children_.end()) return out;
  // Keys of one kind are contiguous in key order: "kind/" is their common prefix.
  const std::string prefix = std::string(kind) + "/";
  for (auto c = it->second.lower_bound(prefix); c != it->second.end() && out.size() < limit; ++c) {
    if (!c->starts_with(prefix)) break;
    out.emplace_back(*c);
  }
  return out;
}

std::vector<parent_link> relation_index::parents(std::string_view key) const {
  std::vector<parent_link> out;
  const auto it = links_.find(key);
  if (it == links_.end()) return out;
  for (const auto& l : it->second) out.push_back({l.rel->field_name(), l.parent ? *l.parent : std::string{}});
  return out;
}

std::vector<orphan> relation_index::orphans(std::string_view after, std::size_t limit) const {
  std::vector<orphan> out;
  for (auto it = after.empty() ? orphans_.begin() : orphans_.upper_bound(after);
       it != orphans_.end() && out.size() < limit; ++it) {
    orphan o{std::string(*it), {}};
    for (auto& l : parents(*it))
      if (l.key.empty() || !store_.find_alive(l.key)) o.missing.push_back(std::move(l));
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace horao::domain
