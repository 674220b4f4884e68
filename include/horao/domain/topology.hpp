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
//    same records in any order. A node stores its own quantities in a 16-byte
//    compact_amounts when they fit, and exactly as `amounts` in its branch
//    otherwise; sums are always taken as 128-bit `amounts`.
// Cost: a change to a machine or disk updates at most 6 ancestors; a change of
// placement (a cabinet deleted, a blade down, a network's hsn flag) revisits
// only the subtree or the machines on that network. Containers keep the sum
// below them; a machine's inside() adds up its disks when asked.
//
// Memory: a record costs one 72-byte node, allocated from chunks (no
// allocation per node), about 11 bytes of an open-addressing table, and 8
// bytes in its parent's list of children; what few nodes need (children and
// their sum, a second network, a figure beyond 32 bits) lives in a
// separately allocated branch or list.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "horao/domain/amounts.hpp"
#include "horao/domain/hardware.hpp"
#include "horao/domain/pointer_table.hpp"
#include "horao/store/record_store.hpp"

namespace horao::domain {

// A record's own quantities in 16 bytes: cores, GB of RAM, accelerators and
// one storage figure (micro-TB, up to 4294 TB), block or object, 32 bits
// each. A machine's and a disk's facts fit; `fits` says whether an `amounts`
// does, and the node keeps one that does not exactly as `amounts` elsewhere.
struct compact_amounts {
  std::uint32_t cpu = 0;
  std::uint32_t ram_gb = 0;
  std::uint32_t accelerators = 0;
  std::uint32_t storage = 0;

  static bool fits(const amounts& a);
  // Requires fits(a); `object`: storage is object_tb, else block_tb.
  static compact_amounts of(const amounts& a, bool& object);
  amounts widen(bool object) const;
  friend bool operator==(const compact_amounts&, const compact_amounts&) = default;
};

class topology {
 public:
  struct network_entry;
  struct node;

  // What only some nodes have: children (cabinets, blades, machines with
  // disks), or own quantities compact_amounts cannot hold.
  struct branch {
    std::vector<node*> children;  // unordered; child->slot is its index here
    // Sum of inside() over the children, kept by containers (sums_below).
    // A machine's children are its disks, leaves and few: inside() adds
    // them up when asked, and a machine with a disk pays no 160-byte sum.
    std::unique_ptr<pools> below;
    std::unique_ptr<amounts> wide_own;  // own, when wide_own
  };

  // The networks a machine lists, without duplicates, in the record's order:
  // none, one (the pointer itself: the common case) or a heap list.
  class network_links {
   public:
    network_links() = default;
    network_links(const network_links&) = delete;
    network_links& operator=(const network_links&) = delete;
    ~network_links() { reset(); }

    std::size_t size() const;
    network_entry* operator[](std::size_t i) const;
    void add(network_entry* e);  // e is not listed yet
    void reset();

   private:
    using list = std::vector<network_entry*>;
    static constexpr std::uintptr_t list_tag = 1;  // network_entry and list are at least 2-aligned
    bool is_list() const { return (bits_ & list_tag) != 0; }
    list& as_list() const { return *reinterpret_cast<list*>(bits_ & ~list_tag); }

    // 0: none; otherwise a network_entry*, or a list* tagged with list_tag.
    std::uintptr_t bits_ = 0;
  };

  struct node {
    node() = default;
    node(const node&) = delete;
    node& operator=(const node&) = delete;
    ~node() {
      if (owns_key) delete[] key.data();
    }

    // The node's key. A live record's key is the store's own text (put()'s
    // contract), so the tree copies no key of a live record; a placeholder
    // (a parent named before it exists, or a dead record that still has
    // children) owns a copy (owns_key), and `key` views that.
    std::string_view key;
    node* parent = nullptr;            // the node named by the record's parent key (maybe a placeholder)
    const node* datacenter = nullptr;  // placement; null when not placed
    std::unique_ptr<branch> extra;     // null for leaves (most machines) with compact own
    network_links networks;
    compact_amounts own_compact;  // own, unless wide_own
    std::uint32_t slot = 0;       // index in parent->extra->children
    bool alive = false;           // false: a placeholder for a referenced key
    bool up : 1 = true;
    bool hsn : 1 = false;
    bool owns_key : 1 = false;
    bool wide_own : 1 = false;        // own is extra->wide_own
    bool object_storage : 1 = false;  // own_compact.storage is object_tb
    bool sums_below : 1 = false;      // not a machine: a branch keeps `below`

    amounts own() const { return wide_own ? *extra->wide_own : own_compact.widen(object_storage); }
    bool has_children() const { return extra != nullptr && !extra->children.empty(); }

    // inside(n) of the invariants.
    pools inside() const {
      pools sum = counted();
      if (extra == nullptr) return sum;
      if (extra->below) return sum += *extra->below;
      for (const node* child : extra->children) sum += child->inside();
      return sum;
    }

    // counted(n) of the invariants, derived: own when placed, hsn too when hsn.
    pools counted() const {
      pools c;
      if (datacenter != nullptr) {
        c.total = own();
        if (hsn) c.hsn = c.total;
      }
      return c;
    }
    // The key of the node named by the record's parent reference; empty: none.
    std::string_view parent_key() const { return parent == nullptr ? std::string_view{} : parent->key; }
  };

  struct network_entry {
    std::string_view id;  // a view of the networks_ map's key
    bool alive = false;
    bool hsn_data = false;
    pointer_set<node> machines;  // machines listing this network id
  };

  topology() = default;
  topology(const topology&) = delete;
  topology& operator=(const topology&) = delete;

  // A live hardware record `key` ("server/s1") now has these facts. The
  // tree keeps a view of `key`, not a copy: its characters must stay valid
  // and unchanged until remove(key) (the store's key text, which lives until
  // the record is purged, and a record is removed here when it dies).
  void put(std::string_view key, const hardware_facts& facts);
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
  const node* find(std::string_view key) const { return nodes_.find(key); }
  // Increases whenever the capacity inside some node or the shape of the tree
  // changed: cached results computed from the tree are stale.
  std::uint64_t version() const { return version_; }
  std::size_t node_count() const { return nodes_.size(); }

 private:
  // The nodes by key: nodes live in fixed chunks, so node* stay valid until
  // the node is dropped; an open-addressing table of (32-bit hash, node
  // index) finds them, comparing keys only when the hashes match. It grows
  // in steps (store/draining_slots.hpp): no write pays for moving every
  // node's slot at once.
  class node_table {
   public:
    node_table() = default;
    node_table(const node_table&) = delete;
    node_table& operator=(const node_table&) = delete;

    node* find(std::string_view key) const;
    // The node of `key`, and whether it was created (default state, `key`
    // not yet set: the caller decides whether the node owns its text).
    std::pair<node*, bool> emplace(std::string_view key);
    void erase(node* n);  // n->key must still be its key
    void reserve(std::size_t n);
    void clear();
    std::size_t size() const { return size_; }

   private:
    static constexpr std::uint32_t chunk_bits = 10;  // 1024 nodes, 72 KiB: below malloc's mmap threshold
    static constexpr std::uint32_t chunk_size = 1u << chunk_bits;
    static constexpr std::uint32_t empty = 0;  // slot.index: index + 1, 0 when free
    struct slot {
      std::uint32_t hash = 0;
      std::uint32_t index = empty;
    };
    static std::uint32_t hash_of(std::string_view key);
    static bool is_empty(const slot& s) { return s.index == empty; }
    // Slot range [0, count) by multiply-shift, so the table needs no
    // power-of-two size and a reserved table is nearly full.
    static std::size_t home(std::uint32_t hash, std::size_t count) {
      return static_cast<std::size_t>((std::uint64_t{hash} * count) >> 32);
    }
    static std::size_t next(std::size_t i, std::size_t count) { return i + 1 == count ? 0 : i + 1; }
    node& at(std::uint32_t index) const { return chunks_[index >> chunk_bits][index & (chunk_size - 1)]; }
    node* find_in(const store::slot_vector<slot>& slots, std::string_view key, std::uint32_t hash) const;
    // The erased slot's index (node index + 1), or `empty` when n is not in `slots`.
    std::uint32_t erase_in(store::slot_vector<slot>& slots, const node* n, std::uint32_t hash) const;
    static void place(store::slot_vector<slot>& slots, slot s);  // s's node must be absent
    auto into_slots() {                                          // where a drained slot goes
      return [this](const slot& s) { place(slots_, s); };
    }
    std::uint32_t allocate();
    void step();
    void grow();
    void rehash(std::size_t slot_count);  // all at once, for a reserve

    store::slot_vector<slot> slots_;
    store::draining_slots<slot> drain_;  // the slots before the last growth, while they drain
    std::vector<std::unique_ptr<node[]>> chunks_;
    std::vector<std::uint32_t> free_;  // indices of dropped nodes, reused first
    std::uint32_t used_ = 0;           // indices handed out from the chunks
    std::size_t size_ = 0;
  };
  using network_map = std::unordered_map<std::string, network_entry, store::string_hash, std::equal_to<>>;

  // The node of `key`; a new one is a placeholder that owns a copy of the key.
  node& obtain(std::string_view key);
  // A node just created for `key`; `owned`: it keeps a copy of the text.
  static void init(node& n, std::string_view key, bool owned);
  // Makes `n` own its key text (it is becoming a placeholder).
  static void own_key(node& n);
  static branch& extra_of(node& n);
  // Frees the branch of `n` when it holds nothing any more.
  static void trim(node& n);
  void set_own(node& n, const amounts& own);
  static bool same_networks(const node& n, const std::vector<std::string>& ids);
  void attach(node& n, std::string_view parent_key);
  void detach(node& n);
  void link_networks(node& n, const std::vector<std::string>& ids);
  void unlink_networks(node& n);
  // `before`: counted() before the change that called for the refresh.
  void refresh(node& n, const pools& before);
  // Adds `delta` to the children's sum of `from` and of every ancestor that keeps one.
  static void add_below(node* from, const pools& delta);
  void drop_if_unused(node* n);
  void drop_network_if_unused(network_entry& net);
  static bool machine_hsn(const node& n);

  node_table nodes_;
  network_map networks_;
  pools total_;
  std::uint64_t version_ = 0;
};

}  // namespace horao::domain
