#include "horao/domain/topology.hpp"

#include "horao/store/record_store.hpp"

namespace horao::domain {

topology::node& topology::obtain(std::string_view key) {
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    auto n = std::make_unique<node>();
    n->key = std::string(key);
    it = nodes_.emplace(n->key, std::move(n)).first;
  }
  return *it->second;
}

// Adds `delta` to inside() of `from` and every ancestor.
void topology::add_inside(node* from, const pools& delta) {
  for (node* p = from; p != nullptr; p = p->parent) p->inside += delta;
}

void topology::detach(node& n) {
  node* old = n.parent;
  if (old == nullptr) return;
  add_inside(old, pools{} - n.inside);
  // Swap-remove: O(1), the moved child learns its new slot.
  node* last = old->children.back();
  old->children[n.slot] = last;
  last->slot = n.slot;
  old->children.pop_back();
  n.parent = nullptr;
  n.parent_key.clear();
  drop_if_unused(old);
}

void topology::attach(node& n, std::string parent_key) {
  if (parent_key.empty() || parent_key == n.key) return;
  node& p = obtain(parent_key);
  n.parent = &p;
  n.parent_key = std::move(parent_key);
  n.slot = p.children.size();
  p.children.push_back(&n);
  add_inside(&p, n.inside);
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

void topology::refresh(node& n) {
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
  pools counted;
  if (dc != nullptr) {
    counted.total = n.own;
    if (hsn) counted.hsn = n.own;
  }
  if (counted != n.counted) {
    const pools delta = counted - n.counted;
    n.counted = counted;
    total_ += delta;
    add_inside(&n, delta);
  }
  if (dc != n.datacenter || hsn != n.hsn) {
    n.datacenter = dc;
    n.hsn = hsn;
    for (node* child : n.children) refresh(*child);
  }
}

void topology::put(std::string_view key, hardware_facts facts) {
  node& n = obtain(key);
  // Fields that do not matter here (a serial number) leave the version alone.
  if (n.alive && n.up == facts.up && n.own == facts.own && n.parent_key == facts.parent &&
      n.networks == facts.networks)
    return;
  ++version_;
  if (n.parent_key != facts.parent) {
    detach(n);
    attach(n, std::move(facts.parent));
  }
  if (n.networks != facts.networks) {
    unlink_networks(n);
    link_networks(n, std::move(facts.networks));
  }
  n.alive = true;
  n.up = facts.up;
  n.own = facts.own;
  refresh(n);
}

void topology::remove(std::string_view key) {
  auto it = nodes_.find(key);
  if (it == nodes_.end() || !it->second->alive) return;
  ++version_;
  node& n = *it->second;
  n.alive = false;
  n.own = {};
  refresh(n);  // counted -> 0, children unplaced
  // A dead record names no parent and no network any more; it stays only as
  // the placeholder of its children, if it has any.
  unlink_networks(n);
  detach(n);
  drop_if_unused(&n);
}

void topology::drop_if_unused(node* n) {
  if (n->alive || !n->children.empty() || n->parent != nullptr) return;
  nodes_.erase(n->key);
}

void topology::put_network(std::string_view id, bool hsn_data) {
  network_entry& net = networks_[std::string(id)];
  const bool was = net.alive && net.hsn_data;
  net.alive = true;
  net.hsn_data = hsn_data;
  if (was == hsn_data) return;
  ++version_;
  for (node* m : net.machines) refresh(*m);
}

void topology::remove_network(std::string_view id) {
  auto it = networks_.find(id);
  if (it == networks_.end() || !it->second.alive) return;
  const bool was = it->second.hsn_data;
  it->second.alive = false;
  it->second.hsn_data = false;
  if (was) {
    ++version_;
    for (node* m : it->second.machines) refresh(*m);
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
  return n != nullptr && n->alive ? n->inside : pools{};
}

const topology::node* topology::find(std::string_view key) const {
  auto it = nodes_.find(key);
  return it == nodes_.end() ? nullptr : it->second.get();
}

}  // namespace horao::domain
