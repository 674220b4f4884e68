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
  release_all();
}

std::size_t relation_index::read_links(std::string_view key, const crdt::record& state,
                                       std::vector<read_link>& out) const {
  const auto relations = relations_of(store::split_key(key).first);
  if (out.size() < relations.size()) out.resize(relations.size());
  for (std::size_t i = 0; i < relations.size(); ++i) {
    const relation& r = relations[i];
    read_link& l = out[i];
    l.rel = &r;
    l.key.clear();
    const crdt::field_entry* entry = state.alive() ? state.find(r.field_name()) : nullptr;
    if (!entry || entry->absent()) {
      // An optional parent (a vm's tenant) may be absent; a required one
      // cannot be, unless a faulty peer sent the record: it names nothing.
      l.present = state.alive() && r.field->required;
      continue;
    }
    l.present = true;
    if (!parent_key_into(r, entry->value, l.key)) l.key.clear();
  }
  return relations.size();
}

relation_index::held_groups::held_groups(const link_slot& slot, std::size_t relations) {
  if (slot.held == nullptr) return;
  if (relations == 1) {
    one_ = static_cast<parent_group*>(slot.held);
    first_ = &one_;
  } else {
    first_ = static_cast<parent_group* const*>(slot.held);
  }
  size_ = relations;
}

bool relation_index::same(const held_groups& held, std::span<const read_link> read,
                          const parent_group& unnamed) {
  const bool reads_any = std::any_of(read.begin(), read.end(), [](const read_link& l) { return l.present; });
  if (held.empty()) return !reads_any;
  for (std::size_t i = 0; i < read.size(); ++i) {
    const parent_group* g = held[i];
    if (!read[i].present) {
      if (g != nullptr) return false;
    } else if (read[i].key.empty()) {
      if (g != &unnamed) return false;
    } else if (g == nullptr || g == &unnamed || g->key != read[i].key) {
      return false;
    }
  }
  return true;
}

relation_index::parent_group& relation_index::group_of(std::string_view parent_key) {
  auto it = groups_.find(parent_key);
  if (it == groups_.end()) {
    it = groups_.emplace(std::string(parent_key), parent_group{}).first;
    it->second.key = it->first;  // unordered_map keys never move
  }
  return it->second;
}

void relation_index::link(const store::stored_record& child, std::span<const read_link> links) {
  if (std::none_of(links.begin(), links.end(), [](const read_link& l) { return l.present; })) return;
  auto pick = [&](const read_link& l) -> parent_group* {
    if (!l.present) return nullptr;
    parent_group& g = l.key.empty() ? unnamed_ : group_of(l.key);
    g.children.insert(&child);
    return &g;
  };
  link_slot& slot = links_.obtain(&child);
  if (links.size() == 1) {
    slot.held = pick(links[0]);
    return;
  }
  auto* groups = new parent_group*[links.size()];
  for (std::size_t i = 0; i < links.size(); ++i) groups[i] = pick(links[i]);
  slot.held = groups;
}

void relation_index::unlink(const store::stored_record& child, std::size_t relations) {
  link_slot* slot = links_.find(&child);
  if (slot == nullptr) return;
  for (parent_group* g : held_groups(*slot, relations)) {
    if (g == nullptr) continue;
    g->children.erase(&child);
    if (g != &unnamed_ && g->children.empty()) {
      const std::string_view key = g->key;  // erasing frees the text g->key views
      groups_.erase(groups_.find(key));
    }
  }
  if (relations > 1) delete[] static_cast<parent_group**>(slot->held);
  links_.erase(&child);
}

bool relation_index::missing(const parent_group* g) const {
  return g == &unnamed_ || !store_.find_alive(g->key);
}

void relation_index::refresh_orphan(const store::stored_record& child) {
  const std::string_view key = store::record_store::key_of(child);
  bool is_orphan = false;
  if (const link_slot* slot = links_.find(&child)) {
    for (const parent_group* g : held_groups(*slot, relations_of(store::split_key(key).first).size()))
      if (g != nullptr && missing(g)) is_orphan = true;
  }
  if (is_orphan) {
    orphans_.insert(key);
  } else if (const auto o = orphans_.find(key); o != orphans_.end()) {
    orphans_.erase(o);
  }
}

void relation_index::on_change(const store::change& c) {
  const bool alive = c.entry.state.alive();
  // c.key is the store's own text for this record (record_store::key_of).
  const std::size_t n = read_links(c.key, c.entry.state, scratch_);
  const std::span<const read_link> links(scratch_.data(), n);
  const link_slot* old = links_.find(&c.entry);
  if (!same(old ? held_groups(*old, n) : held_groups(), links, unnamed_)) {
    unlink(c.entry, n);
    link(c.entry, links);
  }
  refresh_orphan(c.entry);
  // This record's liveness decides whether its children are orphans.
  if (alive != c.was_alive) {
    if (const auto kids = groups_.find(c.key); kids != groups_.end())
      kids->second.children.for_each([&](const store::stored_record* child) { refresh_orphan(*child); });
  }
}

void relation_index::release_all() {
  links_.for_each([&](const link_slot& slot) {
    const auto* child = static_cast<const store::stored_record*>(slot.key);
    if (relations_of(store::split_key(store::record_store::key_of(*child)).first).size() > 1)
      delete[] static_cast<parent_group**>(slot.held);
  });
  links_.clear();
  groups_.clear();
  unnamed_.children.clear();
  orphans_.clear();
}

void relation_index::rebuild() {
  release_all();
  std::size_t live = 0;
  for (const auto& k : all_kinds())
    if (!relations_of(k.kind).empty()) live += store_.count_alive(k.kind);
  links_.reserve(live);
  for (const auto& k : all_kinds()) {
    if (relations_of(k.kind).empty()) continue;
    store_.for_each_alive(k.kind, {}, [&](std::string_view, const store::stored_record& entry) {
      const std::string_view key = store::record_store::key_of(entry);
      const std::size_t n = read_links(key, entry.state, scratch_);
      link(entry, std::span<const read_link>(scratch_.data(), n));
      return true;
    });
  }
  // Orphans only once every live record is known: a parent may come later in
  // the scan. One liveness lookup per parent, not per reference.
  auto all_orphans = [&](const parent_group& g) {
    g.children.for_each(
        [&](const store::stored_record* child) { orphans_.insert(store::record_store::key_of(*child)); });
  };
  all_orphans(unnamed_);
  for (const auto& [parent, group] : groups_)
    if (!store_.find_alive(parent)) all_orphans(group);
}

namespace {

// The store's key texts of a group's children, in key order, at most `limit`,
// only those starting with `prefix`. Children are kept unordered (a group
// may hold a million), so a listing sorts the few it returns.
std::vector<std::string> ordered_keys(std::vector<std::string_view> keys, std::size_t limit) {
  const std::size_t n = std::min(limit, keys.size());
  std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end());
  return {keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace

bool relation_index::has_live_children(std::string_view key) const {
  return groups_.contains(key);
}

std::size_t relation_index::child_count(std::string_view key) const {
  const auto it = groups_.find(key);
  return it == groups_.end() ? 0 : it->second.children.size();
}

std::vector<std::string> relation_index::children(std::string_view key, std::size_t limit) const {
  return children_of_kind(key, {}, limit);
}

std::vector<std::string> relation_index::children_of_kind(std::string_view key, std::string_view kind,
                                                          std::size_t limit) const {
  const auto it = groups_.find(key);
  if (it == groups_.end() || limit == 0) return {};
  std::vector<std::string_view> keys;
  keys.reserve(it->second.children.size());
  it->second.children.for_each([&](const store::stored_record* child) {
    const std::string_view k = store::record_store::key_of(*child);
    if (kind.empty() || (k.size() > kind.size() && k.starts_with(kind) && k[kind.size()] == '/'))
      keys.push_back(k);
  });
  return ordered_keys(std::move(keys), limit);
}

std::vector<parent_link> relation_index::parents(std::string_view key) const {
  std::vector<parent_link> out;
  const store::stored_record* entry = store_.find_alive(key);
  if (entry == nullptr) return out;
  const link_slot* slot = links_.find(entry);
  if (slot == nullptr) return out;
  const auto relations = relations_of(store::split_key(key).first);
  const held_groups groups(*slot, relations.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (groups[i] == nullptr) continue;
    out.push_back({relations[i].field_name(), std::string(groups[i]->key)});
  }
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
