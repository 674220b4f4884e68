#pragma once
// The replicated record store (DESIGN §3): every record of the LWW map, the
// change log, per-kind listings, the state digest and the subscribers.
//
// Invariants:
//  * keys are "kind/id"; the store does not validate them (domain/ does for
//    local writes, replication/ for remote ones) beyond splitting on '/'.
//  * every change (a local write, or a merge that changed something) gets the
//    next local sequence number; the change log holds exactly one live entry
//    per key, the newest, so "everything since N" is a range scan and changes
//    a slow reader has not seen yet coalesce per key.
//  * the sequence never goes backwards, even across tombstone purges and
//    restarts (restore_sequence).
//  * digest() is the sum modulo 2^128 of hash_record(key, state) over all
//    records, tombstones included, kept up to date on every change.
//  * subscribers are called synchronously after each change is applied, in
//    subscription order; a subscriber may unsubscribe (itself or another)
//    while being called.
//  * merging the bottom state (record{}) into a key the store does not hold
//    changes nothing: the bottom is what "no record" means, so creating an
//    entry for it would make equal states have different digests.
//  * pointers to stored_record stay valid until that record is purged, and
//    so does the text of its key: key_of(entry), the `key` of a change and
//    the `id` of a listing view the same characters, at the same address,
//    for as long as the record is held (a purge drops only dead records).
//    Indexes of live records hold these views instead of copies.
//  * purging is bounded work: purge_tombstones_step looks at a bounded slice
//    of the change log, so a pass over a big store is split into steps.
//  * the per-kind order is kept lazily: records that came alive are sorted in
//    by the next listing of their kind (O(k log k) for k of them), so bulk
//    creations and merges never pay a search per record; count_alive is O(1).
//  * visitors (for_each_alive, changes_since) must not write to the store.
//  * single-threaded: owned by one event loop, no locks.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "horao/crdt/clock.hpp"
#include "horao/crdt/digest.hpp"
#include "horao/crdt/record.hpp"
#include "horao/store/draining_slots.hpp"

namespace horao::store {

struct stored_record {
  crdt::record state;
  std::uint64_t seq = 0;      // local sequence of the newest change
  crdt::hash128 hash;         // hash_record(key, state)
  crdt::node_id origin = 0;   // the node whose change made this state (self for local writes)
};

// What subscribers see after a change.
struct change {
  std::string_view key;
  const stored_record& entry;
  bool was_alive;  // before the change
};

enum class merge_outcome { changed, unchanged, rejected_clock };

// Hashes std::string and std::string_view alike, for lookups without a copy.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Splits "kind/id"; a key without '/' is all kind and no id.
std::pair<std::string_view, std::string_view> split_key(std::string_view key);

class record_store {
 public:
  using subscriber = std::function<void(const change&)>;
  using subscription = std::uint64_t;

  explicit record_store(crdt::hybrid_clock& clock);
  record_store(const record_store&) = delete;
  record_store& operator=(const record_store&) = delete;

  // ---- local writes (the caller validated them) ----
  struct put_result {
    const stored_record* entry;
    bool created;  // false: replaced a live record
  };
  put_result put(std::string_view key, std::span<const crdt::field_write> fields);
  // nullptr when there is no live record under `key`.
  const stored_record* patch(std::string_view key, std::span<const crdt::field_write> fields);
  // false when there is no live record under `key`.
  bool remove(std::string_view key);

  // ---- replication ----
  // Merges a remote state; refuses it whole when any of its stamps is beyond
  // the clock's tolerated skew. `from` is the sending node.
  merge_outcome merge(std::string_view key, const crdt::record& remote, crdt::node_id from);

  // ---- recovery: no notifications, no new sequence numbers ----
  void restore(std::string_view key, crdt::record state, std::uint64_t seq);
  void restore_sequence(std::uint64_t seq);
  // The purge horizon persisted before a restart (oldest_replayable() then):
  // tombstones purged in an earlier life are missing from the log too, so a
  // peer behind them must still get a full transfer. Never moves it back.
  void restore_oldest_replayable(std::uint64_t seq) { purged_up_to_ = std::max(purged_up_to_, seq); }

  // ---- reads ----
  const stored_record* find(std::string_view key) const;
  const stored_record* find_alive(std::string_view key) const;
  // The key under which `entry` is stored; `entry` must be a record of a
  // record_store (from find, a listing or a change). The view is the store's
  // own text: valid, at the same address, until the record is purged.
  static std::string_view key_of(const stored_record& entry);
  // Visits live records of `kind` with id > `after`, in id order, until
  // `visit(id, entry)` returns false. The first listing after many records
  // of the kind came alive sorts them in (see the invariants above).
  void for_each_alive(std::string_view kind, std::string_view after,
                      const std::function<bool(std::string_view id, const stored_record&)>& visit) const;
  std::size_t count_alive(std::string_view kind) const;
  std::vector<std::pair<std::string, std::size_t>> alive_counts() const;
  // Visits changes with seq > `since` in sequence order until `visit` returns false.
  void changes_since(std::uint64_t since,
                     const std::function<bool(std::uint64_t seq, std::string_view key, const stored_record&)>&
                         visit) const;
  // The oldest sequence the change log can still replay from without a gap:
  // changes_since(s) is complete for every s >= oldest_replayable().
  std::uint64_t oldest_replayable() const { return purged_up_to_; }

  std::uint64_t seq() const { return seq_; }
  crdt::hash128 digest() const { return digest_; }
  crdt::hash128 kind_digest(std::string_view kind) const;
  std::size_t size() const { return records_.size(); }
  crdt::hybrid_clock& clock() { return clock_; }
  const crdt::hybrid_clock& clock() const { return clock_; }

  // ---- tombstones (after recovery: the change log must be in order) ----
  // Called with the key of each purged record, before it is dropped, so that
  // persistence can delete it too.
  using purge_visitor = std::function<void(std::string_view key)>;
  struct purge_progress {
    std::uint64_t next = 0;   // resume with after = next
    std::size_t scanned = 0;  // change-log entries looked at
    std::size_t purged = 0;
    bool finished = false;    // reached the end of the change log
  };
  // One bounded step of a pass over the change log: looks at no more than
  // `max_scan` entries with a sequence > `after` and drops the dead records
  // among them deleted before `deleted_before_us`. O(max_scan + log n), so a
  // caller on the event loop never pauses it for long; a pass starts with
  // after = 0 and continues with `next` until `finished`.
  purge_progress purge_tombstones_step(std::uint64_t after, std::int64_t deleted_before_us,
                                       std::size_t max_scan, const purge_visitor& purged = {});
  // Drops dead records deleted before `deleted_before_us`, at most `max`, the
  // longest-unchanged first, in one go (tests and tools; the daemon uses
  // purge_tombstones_step).
  std::size_t purge_tombstones(std::int64_t deleted_before_us, std::size_t max,
                               const purge_visitor& purged = {});
  // Dead records held (tombstones not purged yet).
  std::size_t tombstones() const;

  // ---- subscribers ----
  // A subscriber added while a change is being notified sees the next change.
  subscription subscribe(subscriber fn);
  void unsubscribe(subscription id);

  ~record_store();

 private:
  // One per key, with its key text right behind it in the same allocation;
  // never moved, so the change log, the kind indices and callers may point
  // at it. Defined in record_store.cpp.
  struct node;
  // Per kind: the live records in id order and the kind's digest.
  struct kind_index;
  static node* make_node(std::string_view key, kind_index* kind);
  static void free_node(node* n);

  // Key -> node: open addressing with linear probing over (hash, node)
  // slots. The stored hash answers most probes without touching the node,
  // so a lookup costs about one cache miss in the table and one in the node.
  // It grows in steps (draining_slots.hpp): no write pays for moving every
  // record's slot at once.
  class key_table {
   public:
    key_table() = default;
    key_table(const key_table&) = delete;
    key_table& operator=(const key_table&) = delete;
    node* find(std::string_view key, std::uint64_t hash) const;
    void insert(node* n, std::uint64_t hash);  // the key must be absent
    void erase(std::string_view key, std::uint64_t hash);
    std::size_t size() const { return size_; }
    template <typename F>
    void for_each(F&& f) const {
      for (const auto& s : slots_)
        if (s.n) f(s.n);
      for (const auto& s : drain_.old())
        if (s.n) f(s.n);
    }

   private:
    struct slot {
      std::uint64_t hash = 0;
      node* n = nullptr;  // null: empty
    };
    static bool is_empty(const slot& s) { return s.n == nullptr; }
    static node* find_in(const slot_vector<slot>& slots, std::string_view key, std::uint64_t hash);
    static void place(slot_vector<slot>& slots, const slot& s);  // s's key must be absent
    static bool erase_in(slot_vector<slot>& slots, std::string_view key, std::uint64_t hash);
    auto into_slots() {  // where a drained slot goes
      return [this](const slot& s) { place(slots_, s); };
    }
    void step();
    void grow();
    slot_vector<slot> slots_;
    draining_slots<slot> drain_;  // the slots before the last growth, while they drain
    std::size_t size_ = 0;        // records in both
  };

  struct log_entry {
    std::uint64_t seq;
    node* n;  // null once purged; stale when n->entry.seq != seq
  };

  static std::uint64_t hash_key(std::string_view key) { return std::hash<std::string_view>{}(key); }
  kind_index& kind_entry(std::string_view kind);
  node* insert_node(std::string_view key, std::uint64_t hash);
  // Replaces the record's hash in the digests by `new_hash`.
  void rehash(node& n, const crdt::hash128& new_hash);
  // Called after `n`'s state changed: new seq, hash, indices, log, notify.
  void commit_change(node& n, bool was_alive, crdt::node_id origin);
  void index_liveness(node& n, bool was_alive);
  void compact_log();
  // Unlinks a dead record from the key table, the digests and its kind's
  // order; the node itself waits in graveyard_ (see there).
  void purge_node(node& n);
  void notify(const change& c);

  crdt::hybrid_clock& clock_;
  key_table records_;
  // unique_ptr: kind_index is complete only in the .cpp, and its address is
  // cached in every node.
  std::unordered_map<std::string, std::unique_ptr<kind_index>, string_hash, std::equal_to<>> kinds_;
  // A deque: appending never moves what is there (a vector of two million
  // entries would copy 32 MiB at once on one write when it doubles).
  std::deque<log_entry> log_;
  std::size_t stale_log_entries_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t purged_up_to_ = 0;
  // Purged nodes, not freed yet: stale change-log entries and a kind's
  // pending list may still point at them. Their seq is 0 (never a log
  // sequence), so every entry pointing at one reads as stale. Freed by
  // compact_log, which drops those entries; a purge therefore never has to
  // walk the whole log, and the graveyard never holds more nodes than the
  // log holds stale entries.
  std::vector<node*> graveyard_;
  crdt::hash128 digest_;

  // A deque: subscribing from inside a notification must not move the
  // function being called. An unsubscribed entry is only marked (id 0)
  // while notifications run, so that a subscriber removing itself is not
  // destroyed while it executes; marked entries go when the last one ends.
  std::deque<std::pair<subscription, subscriber>> subscribers_;
  subscription next_subscription_ = 1;
  int notifying_ = 0;
  bool unsubscribed_while_notifying_ = false;
};

}  // namespace horao::store
