#pragma once
// The hardware tree (datacenter > cabinet > chassis > blade > node, cabinet >
// server, machine > disk) with the capacity inside every subtree, kept exact
// under any order of changes (DESIGN §6 capacity).
//
// Counting rule (the lead's suggestion, documented in docs/scheduler.md): a
// record is *placed* when it is alive, up (blades, machines and disks have a
// status; containers do not), and its parent is placed; a datacenter is
// placed when it is alive. Only placed machines and disks count: hardware
// under a dead, missing or down parent cannot be located or reached, so it
// holds no capacity. A machine is *hsn* when one of its `networks` is a live
// data network with hsn true; a disk is hsn when its machine is.
//
// Invariants, after every call, whatever the order of the calls:
//  * counted(n) = placed(n) ? {own, own if hsn else 0} : 0;
//  * inside(n) = counted(n) + sum of inside(c) over n's children, so
//    inside(datacenter) is that datacenter's capacity and total() the sum of
//    counted(n) over all nodes;
//  * a record's parent may not exist yet (replication delivers children
//    first) or any more: a placeholder node holds its children until the
//    parent arrives; placeholders without children are dropped;
//  * quantities are exact integers, so the state equals a rebuild from the
//    same records in any order.
// Cost: a change to a machine or disk updates at most 6 ancestors; a change of
// placement (a cabinet deleted, a blade down, a network's hsn flag) revisits
// only the subtree or the machines on that network.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "horao/domain/amounts.hpp"
#include "horao/domain/hardware.hpp"
#include "horao/store/record_store.hpp"

namespace horao::domain {

class topology {
 public:
  struct node {
    // The node's key. A live record's key is the store's own text (put()'s
    // contract), so the tree copies no key of a live record; a placeholder
    // (a parent named before it exists, or a dead record that still has
    // children) owns a copy in owned_key, and `key` views that.
    std::string_view key;
    std::unique_ptr<char[]> owned_key;
    node* parent = nullptr;       // the node named by the record's parent key (maybe a placeholder)
    std::vector<node*> children;  // unordered; child->slot is its index here
    std::size_t slot = 0;         // index in parent->children
    std::vector<std::string> networks;
    amounts own;
    bool alive = false;  // false: a placeholder for a referenced key
    bool up = true;
    const node* datacenter = nullptr;  // placement; null when not placed
    bool hsn = false;
    // Sum of inside() over the children; allocated with the first child, so
    // a leaf (most machines) pays a pointer, not two pools.
    std::unique_ptr<pools> below;

    // inside(n) of the invariants.
    pools inside() const { return below ? counted() + *below : counted(); }

    // counted(n) of the invariants, derived: own when placed, hsn too when hsn.
    pools counted() const {
      pools c;
      if (datacenter != nullptr) {
        c.total = own;
        if (hsn) c.hsn = own;
      }
      return c;
    }
    // The key of the node named by the record's parent reference; empty: none.
    std::string_view parent_key() const { return parent == nullptr ? std::string_view{} : parent->key; }
  };

  topology() = default;
  topology(const topology&) = delete;
  topology& operator=(const topology&) = delete;

  // A live hardware record `key` ("server/s1") now has these facts. The
  // tree keeps a view of `key`, not a copy: its characters must stay valid
  // and unchanged until remove(key) (the store's key text, which lives until
  // the record is purged, and a record is removed here when it dies).
  void put(std::string_view key, hardware_facts facts);
  // The record died or was purged.
  void remove(std::string_view key);
  // A live network `id`; hsn_data: type "data" and hsn true.
  void put_network(std::string_view id, bool hsn_data);
  void remove_network(std::string_view id);
  void clear();
  // Room for `n` nodes (a rebuild knows how many records it will put).
  void reserve(std::size_t n) { nodes_.reserve(n); }

  const pools& total() const { return total_; }
  // The capacity placed in datacenter `id` (zero when it is not alive).
  pools datacenter(std::string_view id) const;
  // The node of a key, or a placeholder, or null.
  const node* find(std::string_view key) const;
  // Increases whenever the capacity inside some node or the shape of the tree
  // changed: cached results computed from the tree are stale.
  std::uint64_t version() const { return version_; }
  std::size_t node_count() const { return nodes_.size(); }

 private:
  struct network_entry {
    bool alive = false;
    bool hsn_data = false;
    std::unordered_set<node*> machines;  // machines listing this network id
  };
  // Keyed by a view of the node's own key. unordered_map nodes never move,
  // so node* stay valid until erased.
  using node_map = std::unordered_map<std::string_view, node, store::string_hash>;
  using network_map = std::unordered_map<std::string, network_entry, store::string_hash, std::equal_to<>>;

  // The node of `key`; a new one is a placeholder that owns a copy of the key.
  node& obtain(std::string_view key);
  // Makes `n` own its key text (it is becoming a placeholder).
  void own_key(node& n);
  void attach(node& n, std::string_view parent_key);
  void detach(node& n);
  void link_networks(node& n, std::vector<std::string> networks);
  void unlink_networks(node& n);
  // `before`: counted() before the change that called for the refresh.
  void refresh(node& n, const pools& before);
  // Adds `delta` to the children's sum of `from` and of every ancestor.
  void add_below(node* from, const pools& delta);
  void drop_if_unused(node* n);
  void drop_network_if_unused(std::string_view id);
  bool machine_hsn(const node& n) const;

  node_map nodes_;
  network_map networks_;
  pools total_;
  std::uint64_t version_ = 0;
};

}  // namespace horao::domain
