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

std::optional<std::string> parent_key(const relation& r, std::string_view value_json) {
  const auto value = nlohmann::json::parse(value_json, nullptr, /*allow_exceptions=*/false);
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (r.field->value.kind == value_kind::id_ref) {
    if (!valid_id(text)) return std::nullopt;
    return make_key(r.parent_kinds().at(0), text);
  }
  const auto key = parse_key(text);
  if (!key) return std::nullopt;
  const auto& kinds = r.parent_kinds();
  if (std::find(kinds.begin(), kinds.end(), key->kind->kind) == kinds.end()) return std::nullopt;
  return text;
}

relation_index::relation_index(store::record_store& store) : store_(store) {
  subscription_ = store_.subscribe([this](const store::change& c) { on_change(c); });
  rebuild();
}

relation_index::~relation_index() {
  store_.unsubscribe(subscription_);
}

std::vector<parent_link> relation_index::read_links(std::string_view key, const crdt::record& state) const {
  std::vector<parent_link> links;
  if (!state.alive()) return links;
  for (const relation& r : relations_of(store::split_key(key).first)) {
    const crdt::field_entry* entry = state.find(r.field_name());
    if (!entry || entry->absent()) {
      // An optional parent (a vm's tenant) may be absent; a required one
      // cannot be, unless a faulty peer sent the record.
      if (r.field->required) links.push_back({r.field_name(), {}});
      continue;
    }
    links.push_back({r.field_name(), parent_key(r, entry->value).value_or(std::string{})});
  }
  return links;
}

void relation_index::link(const std::string& child, const std::vector<parent_link>& links) {
  for (const auto& l : links)
    if (!l.key.empty()) children_[l.key].insert(child);
}

void relation_index::unlink(std::string_view child, const std::vector<parent_link>& links) {
  for (const auto& l : links) {
    if (l.key.empty()) continue;
    const auto it = children_.find(l.key);
    if (it == children_.end()) continue;
    if (const auto c = it->second.find(child); c != it->second.end()) it->second.erase(c);
    if (it->second.empty()) children_.erase(it);
  }
}

bool relation_index::missing(const parent_link& l) const {
  return l.key.empty() || !store_.find_alive(l.key);
}

void relation_index::refresh_orphan(std::string_view key) {
  const auto it = links_.find(key);
  const bool is_orphan = it != links_.end() && std::any_of(it->second.begin(), it->second.end(),
                                                           [&](const parent_link& l) { return missing(l); });
  if (is_orphan) {
    if (!orphans_.contains(key)) orphans_.emplace(key);
  } else if (const auto o = orphans_.find(key); o != orphans_.end()) {
    orphans_.erase(o);
  }
}

void relation_index::on_change(const store::change& c) {
  const bool alive = c.entry.state.alive();
  std::vector<parent_link> links = read_links(c.key, c.entry.state);
  const auto old = links_.find(c.key);
  const bool had_links = old != links_.end();
  if (!had_links || old->second != links) {
    if (had_links) {
      unlink(c.key, old->second);
      links_.erase(old);
    }
    if (!links.empty()) {
      std::string key(c.key);
      link(key, links);
      links_.emplace(std::move(key), std::move(links));
    }
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
  for (const auto& k : all_kinds()) {
    if (relations_of(k.kind).empty()) continue;
    store_.for_each_alive(k.kind, {}, [&](std::string_view id, const store::stored_record& entry) {
      std::string key = make_key(k.kind, id);
      auto links = read_links(key, entry.state);
      if (!links.empty()) {
        link(key, links);
        links_.emplace(std::move(key), std::move(links));
      }
      return true;
    });
  }
  // Orphans only once every live record is known: a parent may come later in the scan.
  for (const auto& [key, links] : links_) refresh_orphan(key);
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
    out.push_back(child);
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
    out.push_back(*c);
  }
  return out;
}

std::vector<parent_link> relation_index::parents(std::string_view key) const {
  const auto it = links_.find(key);
  return it == links_.end() ? std::vector<parent_link>{} : it->second;
}

std::vector<orphan> relation_index::orphans(std::string_view after, std::size_t limit) const {
  std::vector<orphan> out;
  for (auto it = after.empty() ? orphans_.begin() : orphans_.upper_bound(after);
       it != orphans_.end() && out.size() < limit; ++it) {
    orphan o{*it, {}};
    for (const auto& l : parents(*it))
      if (missing(l)) o.missing.push_back(l);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace horao::domain
