#pragma once
// Parent relations between resources, and the index of live children and
// orphans kept from the store's changes (DESIGN §3 secondary indices, §6).
//
// Relations: every top-level reference field of a kind's schema (schema.hpp,
// an id or a key, not an array) names the record's parent: cabinet.datacenter,
// chassis.cabinet, blade.chassis, node.blade, server/switch/router/firewall.
// cabinet, disk.machine, network.datacenter, vm.host, vm.tenant,
// vm.reservation, reservation.tenant. Array references (a machine's
// `networks`, a maintenance's `targets`) are checked when written but are not
// parents: deleting a network or a maintenance target is not refused.
//
// Policy for deleting parents (lead's decision, DESIGN §6):
//  * a local DELETE of a resource that still has live children is refused:
//    the router asks has_live_children() and answers 409 `has_children`,
//    listing a few of children(key, n).
//  * replication can still make orphans (a server added on one daemon to a
//    cabinet deleted concurrently on another). Orphans stay readable, are
//    counted (orphan_count(), for /metrics) and listed (orphans()); the tree
//    view shows them apart. A later write of an orphan must name a live
//    parent again (validate() checks every reference).
//  * a record whose parent reference cannot name anything (a required one
//    missing, or a value that is not an id/key of the right kind, which only
//    a faulty peer can send) is an orphan too, with an empty parent key.
//  * a child that arrives before its parent (replication order) is an orphan
//    until the parent arrives, then is not: orphan status follows liveness.
//
// Invariants of relation_index, after every store change and after rebuild():
//  * children(p) is exactly the set of live records whose current fields
//    reference p, whether p is alive or not, ordered by key;
//  * is_orphan(k) <=> k is alive and one of its parent references does not
//    name a live record;
//  * the incrementally kept state equals what rebuild() computes.
// Single-threaded like the store; subscribes in the constructor and
// unsubscribes in the destructor, so it must not outlive the store. The store
// does not notify on restore(): call rebuild() after recovery.

#include <cstddef>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "horao/crdt/record.hpp"
#include "horao/domain/kinds.hpp"
#include "horao/domain/pointer_table.hpp"
#include "horao/domain/schema.hpp"
#include "horao/store/record_store.hpp"

namespace horao::domain {

struct relation {
  const kind_info* child;   // e.g. server
  const field_spec* field;  // e.g. cabinet: a top-level id_ref or key_ref of child's schema

  std::string_view field_name() const { return field->name; }
  // The kinds a parent may have: one for an id, several for a key (server, node).
  const std::vector<std::string>& parent_kinds() const { return field->value.ref_kinds; }
};

// Every relation, ordered by child kind (as all_kinds()) then field.
std::span<const relation> all_relations();
// The relations whose child is `kind` (empty for datacenter, tenant, ...).
std::span<const relation> relations_of(std::string_view kind);
// The key of the parent that a stored field value (compact JSON text) names,
// or nullopt when the value cannot name one of the relation's parent kinds.
std::optional<std::string> parent_key(const relation& r, std::string_view value_json);

// One parent reference of a live record.
struct parent_link {
  std::string_view field;  // the relation's field name (static storage)
  std::string key;         // "cabinet/c1"; empty when the reference cannot name anything
  friend bool operator==(const parent_link&, const parent_link&) = default;
};

struct orphan {
  std::string key;                   // the live record
  std::vector<parent_link> missing;  // its references that name no live record
};

class relation_index {
 public:
  static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

  // Subscribes to `store` and indexes what it already holds.
  explicit relation_index(store::record_store& store);
  ~relation_index();
  relation_index(const relation_index&) = delete;
  relation_index& operator=(const relation_index&) = delete;

  // Forgets everything and scans the store's live records again.
  void rebuild();

  bool has_live_children(std::string_view key) const;
  std::size_t child_count(std::string_view key) const;
  // Live children of `key` in key order ("disk/..." before "vm/..."), at most `limit`.
  std::vector<std::string> children(std::string_view key, std::size_t limit = unlimited) const;
  // Only those of one kind, in id order.
  std::vector<std::string> children_of_kind(std::string_view key, std::string_view kind,
                                            std::size_t limit = unlimited) const;
  // The parent references of a live record (empty when it has none or is not alive).
  std::vector<parent_link> parents(std::string_view key) const;

  std::size_t orphan_count() const { return orphans_.size(); }
  bool is_orphan(std::string_view key) const { return orphans_.contains(key); }
  // Orphans with key > `after`, in key order, at most `limit`.
  std::vector<orphan> orphans(std::string_view after = {}, std::size_t limit = unlimited) const;

 private:
  // A parent key and its live children. Children are the store's own records
  // (stored_record addresses never change while the record is held, and a
  // record leaves this index when it dies, before any purge), so a child
  // costs one pointer-sized slot here and no key text.
  struct parent_group {
    std::string_view key;  // the text of this group's entry in groups_ (empty: unnamed_)
    pointer_set<const store::stored_record> children;
  };
  // What a live child references, one entry per relation of its kind (in
  // relations_of order): the parent's group, &unnamed_ when the reference
  // names nothing, null when an optional reference is absent. A kind with
  // one relation (most of them) keeps that group pointer in the slot itself;
  // several relations (vm) use an array of that many pointers on the heap.
  struct link_slot {
    const void* key = nullptr;  // the child's stored_record
    void* held = nullptr;       // parent_group* or parent_group*[n]
  };
  // A parent reference as read from a record.
  struct read_link {
    const relation* rel = nullptr;
    std::string key;  // empty: names nothing
    bool present = false;
  };

  void on_change(const store::change& c);
  // Fills out[i] for each relation i of the record's kind; `out` only grows,
  // so its strings are reused. Answers the number of relations.
  std::size_t read_links(std::string_view key, const crdt::record& state, std::vector<read_link>& out) const;
  // The groups a link_slot holds, one per relation (empty when it holds
  // none): a view of the heap array, or of a copy of the one pointer kept in
  // the slot itself (read as the void* it is stored as, never through a
  // pointer of another type). Not copyable: it may point at itself.
  class held_groups {
   public:
    held_groups() = default;
    held_groups(const link_slot& slot, std::size_t relations);
    held_groups(const held_groups&) = delete;
    held_groups& operator=(const held_groups&) = delete;
    parent_group* const* begin() const { return first_; }
    parent_group* const* end() const { return first_ + size_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    parent_group* operator[](std::size_t i) const { return first_[i]; }

   private:
    parent_group* one_ = nullptr;
    parent_group* const* first_ = nullptr;
    std::size_t size_ = 0;
  };
  static bool same(const held_groups& held, std::span<const read_link> read, const parent_group& unnamed);
  void link(const store::stored_record& child, std::span<const read_link> links);
  void unlink(const store::stored_record& child, std::size_t relations);
  parent_group& group_of(std::string_view parent_key);
  bool missing(const parent_group* group) const;
  void refresh_orphan(const store::stored_record& child);
  void release_all();

  store::record_store& store_;
  store::record_store::subscription subscription_ = 0;
  // Live child -> its parent references as last seen: what a change must
  // unlink when a record is re-parented or dies.
  pointer_table<link_slot> links_;
  // Parent key -> group. Parent keys may name nothing in the store, so the
  // map owns them, once per parent; node-based, so a group never moves.
  std::unordered_map<std::string, parent_group, store::string_hash, std::equal_to<>> groups_;
  parent_group unnamed_;                // children whose reference names nothing
  std::set<std::string_view> orphans_;  // the store's key text of each orphan
  std::vector<read_link> scratch_;      // read_links' output, reused
};

}  // namespace horao::domain
