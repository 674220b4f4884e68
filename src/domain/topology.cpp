#include "horao/domain/topology.hpp"

#include <algorithm>

#include "horao/store/record_store.hpp"

namespace horao::domain {

namespace {

std::unique_ptr<char[]> copy_of(std::string_view text) {
  auto copy = std::make_unique_for_overwrite<char[]>(text.size() == 0 ? 1 : text.size());
  std::copy(text.begin(), text.end(), copy.get());
  return copy;
}

}  // namespace

topology::node& topology::obtain(std::string_view key) {
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    auto owned = copy_of(key);
    const std::string_view view(owned.get(), key.size());
    it = nodes_.try_emplace(view).first;
    it->second.key = view;
    it->second.owned_key = std::move(owned);
  }
  return it->second;
}

void topology::own_key(node& n) {
  if (n.owned_key) return;
  auto it = nodes_.find(n.key);
  auto handle = nodes_.extract(it);  // re-keyed in place: the node does not move
  n.owned_key = copy_of(n.key);
  n.key = std::string_view(n.owned_key.get(), n.key.size());
  handle.key() = n.key;
  nodes_.insert(std::move(handle));
}

void topology::add_below(node* from, const pools& delta) {
  for (node* p = from; p != nullptr; p = p->parent) {
    if (!p->below) p->below = std::make_unique<pools>();
    *p->below += delta;
  }
}

void topology::detach(node& n) {
  node* old = n.parent;
  if (old == nullptr) return;
  add_below(old, pools{} - n.inside());
  // Swap-remove: O(1), the moved child learns its new slot.
  node* last = old->children.back();
  old->children[n.slot] = last;
  last->slot = n.slot;
  old->children.pop_back();
  n.parent = nullptr;
  drop_if_unused(old);
}

void topology::attach(node& n, std::string_view parent_key) {
  if (parent_key.empty() || parent_key == n.key) return;
  node& p = obtain(parent_key);
  n.parent = &p;
  n.slot = p.children.size();
  p.children.push_back(&n);
  add_below(&p, n.inside());
}

void topology::unlink_networks(node& n) {
  for (const auto& id : n.networks) {
    auto it = networks_.find(id);
    if (it == networks_.end()) continue;
    it->second.machines.erase(&n);
    drop_network_if_unused(id);
  }
  n.networks.clear();
}

void topology::link_networks(node& n, std::vector<std::string> networks) {
  n.networks = std::move(networks);
  for (const auto& id : n.networks) networks_[id].machines.insert(&n);
}

bool topology::machine_hsn(const node& n) const {
  for (const auto& id : n.networks) {
    auto it = networks_.find(id);
    if (it != networks_.end() && it->second.alive && it->second.hsn_data) return true;
  }
  return false;
}

void topology::refresh(node& n, const pools& before) {
  const std::string_view kind = store::split_key(n.key).first;
  const node* dc = nullptr;
  if (n.alive && n.up) {
    if (kind == "datacenter")
      dc = &n;
    else if (n.parent != nullptr)
      dc = n.parent->datacenter;
  }
  bool hsn = false;
  if (dc != nullptr) {
    if (is_machine_kind(kind))
      hsn = machine_hsn(n);
    else if (kind == "disk")
      hsn = n.parent != nullptr && n.parent->hsn;
  }
  const bool moved = dc != n.datacenter || hsn != n.hsn;
  n.datacenter = dc;
  n.hsn = hsn;
  const pools counted = n.counted();
  if (counted != before) {
    const pools delta = counted - before;
    total_ += delta;
    add_below(n.parent, delta);
  }
  if (moved)
    for (node* child : n.children) refresh(*child, child->counted());
}

void topology::put(std::string_view key, hardware_facts facts) {
  const auto [found, created] = nodes_.try_emplace(key);
  node& n = found->second;
  if (created) n.key = key;  // a new live record: a view of the caller's stable key
  // Fields that do not matter here (a serial number) leave the version alone.
  if (n.alive && n.up == facts.up && n.own == facts.own && n.parent_key() == facts.parent &&
      n.networks == facts.networks)
    return;
  ++version_;
  const pools before = n.counted();
  if (n.parent_key() != facts.parent) {
    detach(n);
    attach(n, facts.parent);
  }
  if (n.networks != facts.networks) {
    unlink_networks(n);
    link_networks(n, std::move(facts.networks));
  }
  n.alive = true;
  n.up = facts.up;
  n.own = facts.own;
  refresh(n, before);
}

void topology::remove(std::string_view key) {
  auto it = nodes_.find(key);
  if (it == nodes_.end() || !it->second.alive) return;
  ++version_;
  node& n = it->second;
  const pools before = n.counted();
  n.alive = false;
  n.own = {};
  refresh(n, before);  // counted -> 0, children unplaced
  // A dead record names no parent and no network any more; it stays only as
  // the placeholder of its children, if it has any, and then owns its key:
  // the store's text goes when the record is purged.
  unlink_networks(n);
  detach(n);
  if (!n.children.empty()) own_key(n);
  drop_if_unused(&n);
}

void topology::drop_if_unused(node* n) {
  if (n->alive || !n->children.empty() || n->parent != nullptr) return;
  nodes_.erase(nodes_.find(n->key));
}

void topology::put_network(std::string_view id, bool hsn_data) {
  network_entry& net = networks_[std::string(id)];
  const bool was = net.alive && net.hsn_data;
  net.alive = true;
  net.hsn_data = hsn_data;
  if (was == hsn_data) return;
  ++version_;
  for (node* m : net.machines) refresh(*m, m->counted());
}

void topology::remove_network(std::string_view id) {
  auto it = networks_.find(id);
  if (it == networks_.end() || !it->second.alive) return;
  const bool was = it->second.hsn_data;
  it->second.alive = false;
  it->second.hsn_data = false;
  if (was) {
    ++version_;
    for (node* m : it->second.machines) refresh(*m, m->counted());
  }
  drop_network_if_unused(id);
}

void topology::drop_network_if_unused(std::string_view id) {
  auto it = networks_.find(id);
  if (it != networks_.end() && !it->second.alive && it->second.machines.empty()) networks_.erase(it);
}

void topology::clear() {
  ++version_;
  nodes_.clear();
  networks_.clear();
  total_ = {};
}

pools topology::datacenter(std::string_view id) const {
  std::string key = "datacenter/";
  key += id;
  const node* n = find(key);
  return n != nullptr && n->alive ? n->inside() : pools{};
}

const topology::node* topology::find(std::string_view key) const {
  auto it = nodes_.find(key);
  return it == nodes_.end() ? nullptr : &it->second;
}

}  // namespace horao::domain
