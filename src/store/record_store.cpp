#include "horao/store/record_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <deque>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "id_index.hpp"

namespace horao::store {

struct record_store::node {
  enum class indexed : std::uint8_t { no, pending, sorted };

  stored_record entry;
  kind_index* kind;          // the kind of the key, looked up once
  std::uint32_t key_size;
  std::uint16_t id_offset;   // where the id starts in the key
  indexed in_index = indexed::no;
  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
  std::string_view id() const { return key().substr(id_offset); }
};

// The live records of a kind, in id order, maintained lazily: a record that
// comes alive is appended to `pending` (O(1), no cache misses in a big
// index), and pending records are sorted into `sorted` when a listing needs
// the order. A record that dies stays in `sorted` until a compaction or a
// purge removes it; listings skip it. So a burst of creations (a peer's
// full transfer, recovery from Redis) costs one sort instead of a search
// with a cache miss per level for each record.
struct record_store::kind_index {
  id_index<node> sorted;        // live records and lazily erased dead ones
  // Came alive since the last flush, any order; a deque, so that it is never
  // copied at once when it grows (a million records after a recovery).
  std::deque<node*> pending;
  std::size_t alive = 0;
  std::size_t dead_in_sorted = 0;
  crdt::hash128 digest;

  // Sorts the pending records in. Few: one by one; many: one merge pass.
  void flush() {
    if (pending.empty()) return;
    std::vector<node*> fresh;
    fresh.reserve(pending.size());
    for (node* n : pending) {
      if (n->entry.state.alive()) {
        n->in_index = node::indexed::sorted;
        fresh.push_back(n);
      } else {
        n->in_index = node::indexed::no;  // died while pending
      }
    }
    std::deque<node*>().swap(pending);  // its blocks go back
    if (fresh.size() <= 16 + sorted.size() / 64) {
      for (node* n : fresh) sorted.insert(n);
    } else {
      sorted.bulk_insert(fresh);
    }
  }

  // Drops the dead records from `sorted` once they outnumber the live ones.
  void compact_if_sparse() {
    if (dead_in_sorted <= 1024 || dead_in_sorted <= alive) return;
    sorted.retain([](node* n) {
      if (n->entry.state.alive()) return true;
      n->in_index = node::indexed::no;
      return false;
    });
    dead_in_sorted = 0;
  }
};

std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return {key, {}};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

// ---- nodes --------------------------------------------------------------------

record_store::node* record_store::make_node(std::string_view key, kind_index* kind) {
  const auto slash = key.find('/');
  // Kinds are short names (domain/ knows about twenty); a longer one would
  // not fit id_offset and is a caller's bug.
  const std::size_t kind_end = slash == std::string_view::npos ? key.size() : slash + 1;
  if (kind_end > UINT16_MAX) throw std::length_error("record_store: kind longer than 65535 bytes");
  const auto id_offset = static_cast<std::uint16_t>(kind_end);
  // The key's characters live right behind the node: one allocation per
  // record instead of two for keys longer than the small-string buffer.
  void* memory = ::operator new(sizeof(node) + key.size());
  node* n = new (memory) node{stored_record{}, kind, static_cast<std::uint32_t>(key.size()), id_offset};
  static_assert(sizeof(node) == sizeof(stored_record) + 16, "node header grew");
  std::memcpy(reinterpret_cast<char*>(n + 1), key.data(), key.size());
  return n;
}

void record_store::free_node(node* n) {
  n->~node();
  ::operator delete(static_cast<void*>(n));
}

// ---- key table ------------------------------------------------------------------

record_store::node* record_store::key_table::find(std::string_view key, std::uint64_t hash) const {
  if (size_ == 0) return nullptr;
  if (node* n = find_in(slots_, key, hash)) return n;
  return drain_.active() ? find_in(drain_.old(), key, hash) : nullptr;
}

record_store::node* record_store::key_table::find_in(const slot_vector<slot>& slots, std::string_view key,
                                                     std::uint64_t hash) {
  if (slots.empty()) return nullptr;
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const slot& s = slots[i];
    if (s.n == nullptr) return nullptr;
    if (s.hash == hash && s.n->key() == key) return s.n;
  }
}

void record_store::key_table::place(slot_vector<slot>& slots, const slot& s) {
  const std::size_t mask = slots.size() - 1;
  std::size_t i = s.hash & mask;
  while (slots[i].n != nullptr) i = (i + 1) & mask;
  slots[i] = s;
}

void record_store::key_table::step() {
  drain_.step(is_empty, into_slots());
}

void record_store::key_table::insert(node* n, std::uint64_t hash) {
  step();
  // At most 3/4 full: linear probing stays short (a few slots, mostly within
  // one cache line) while the table costs 21 to 43 bytes per record.
  if ((size_ - drain_.entries() + 1) * 4 > slots_.size() * 3) grow();
  place(slots_, {hash, n});
  ++size_;
}

void record_store::key_table::erase(std::string_view key, std::uint64_t hash) {
  if (size_ == 0) return;
  step();
  if (!erase_in(slots_, key, hash)) {
    if (!drain_.active() || !erase_in(drain_.old(), key, hash)) return;
    drain_.erased();
  }
  --size_;
}

bool record_store::key_table::erase_in(slot_vector<slot>& slots, std::string_view key, std::uint64_t hash) {
  if (slots.empty()) return false;
  const std::size_t mask = slots.size() - 1;
  std::size_t i = hash & mask;
  for (;; i = (i + 1) & mask) {
    if (slots[i].n == nullptr) return false;
    if (slots[i].hash == hash && slots[i].n->key() == key) break;
  }
  // Backward-shift deletion: no tombstones, so lookups never slow down.
  // Each following entry of the probe run moves into the hole unless its
  // home slot lies cyclically within (hole, entry].
  slots[i] = {};
  for (std::size_t j = (i + 1) & mask; slots[j].n != nullptr; j = (j + 1) & mask) {
    const std::size_t home = slots[j].hash & mask;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    slots[i] = slots[j];
    slots[j] = {};
    i = j;
  }
  return true;
}

void record_store::key_table::grow() {
  // Twice the slots; the old ones drain into them over the next inserts and
  // erases (store/draining_slots.hpp) instead of stopping this write.
  drain_.grow(slots_, std::max<std::size_t>(16, slots_.size() * 2), size_, is_empty, into_slots());
}

// ---- store ----------------------------------------------------------------------

record_store::record_store(crdt::hybrid_clock& clock) : clock_(clock) {}

record_store::~record_store() {
  records_.for_each([](node* n) { free_node(n); });
  for (node* n : graveyard_) free_node(n);
}

record_store::kind_index& record_store::kind_entry(std::string_view kind) {
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), std::make_unique<kind_index>()).first;
  return *it->second;
}

record_store::node* record_store::insert_node(std::string_view key, std::uint64_t hash) {
  node* n = make_node(key, &kind_entry(split_key(key).first));
  records_.insert(n, hash);
  return n;
}

record_store::put_result record_store::put(std::string_view key, std::span<const crdt::field_write> fields) {
  const std::uint64_t hash = hash_key(key);
  node* n = records_.find(key, hash);
  const bool inserted = n == nullptr;
  if (inserted) n = insert_node(key, hash);
  const bool was_alive = n->entry.state.alive();
  // Two fresh ticks: everything before t1 is replaced, the new body is at t2.
  const crdt::hlc replace_at = clock_.tick();
  const crdt::hlc create_at = clock_.tick();
  try {
    n->entry.state.put(replace_at, create_at, fields);
  } catch (...) {
    // A refused field name: the record is unchanged; a new key leaves no trace.
    if (inserted) {
      records_.erase(key, hash);
      free_node(n);
    }
    throw;
  }
  commit_change(*n, was_alive, clock_.self());
  return {&n->entry, !was_alive};
}

const stored_record* record_store::patch(std::string_view key, std::span<const crdt::field_write> fields) {
  node* n = records_.find(key, hash_key(key));
  if (n == nullptr || !n->entry.state.alive()) return nullptr;
  n->entry.state.patch(clock_.tick(), fields);
  commit_change(*n, true, clock_.self());
  return &n->entry;
}

bool record_store::remove(std::string_view key) {
  node* n = records_.find(key, hash_key(key));
  if (n == nullptr || !n->entry.state.alive()) return false;
  n->entry.state.remove(clock_.tick());
  commit_change(*n, true, clock_.self());
  return true;
}

merge_outcome record_store::merge(std::string_view key, const crdt::record& remote, crdt::node_id from) {
  const crdt::hlc newest = std::max(remote.updated(), remote.deleted());
  if (!clock_.acceptable(newest)) return merge_outcome::rejected_clock;
  clock_.advance_to(newest);
  const std::uint64_t hash = hash_key(key);
  node* n = records_.find(key, hash);
  if (n == nullptr) {
    if (remote.created() == crdt::hlc{} && remote.deleted() == crdt::hlc{} && remote.fields().empty())
      return merge_outcome::unchanged;  // the bottom state: nothing to hold
    n = insert_node(key, hash);
    n->entry.state = remote;  // the join with nothing, without the merge walk
    commit_change(*n, false, from);
    return merge_outcome::changed;
  }
  const bool was_alive = n->entry.state.alive();
  if (!n->entry.state.merge(remote)) return merge_outcome::unchanged;
  commit_change(*n, was_alive, from);
  return merge_outcome::changed;
}

void record_store::rehash(node& n, const crdt::hash128& new_hash) {
  stored_record& entry = n.entry;
  digest_ -= entry.hash;
  n.kind->digest -= entry.hash;
  digest_ += new_hash;
  n.kind->digest += new_hash;
  entry.hash = new_hash;
}

void record_store::commit_change(node& n, bool was_alive, crdt::node_id origin) {
  stored_record& entry = n.entry;
  rehash(n, crdt::hash_record(n.key(), entry.state));
  if (entry.seq != 0) ++stale_log_entries_;
  entry.seq = ++seq_;
  entry.origin = origin;
  log_.push_back({entry.seq, &n});
  if (stale_log_entries_ > 1024 && stale_log_entries_ > log_.size() / 2) compact_log();

  index_liveness(n, was_alive);
  notify(change{n.key(), entry, was_alive});
}

void record_store::index_liveness(node& n, bool was_alive) {
  const bool alive = n.entry.state.alive();
  if (alive == was_alive) return;
  kind_index& k = *n.kind;
  if (alive) {
    ++k.alive;
    if (n.in_index == node::indexed::no) {
      n.in_index = node::indexed::pending;
      k.pending.push_back(&n);
    } else if (n.in_index == node::indexed::sorted) {
      --k.dead_in_sorted;  // back to life where it already is
    }
  } else {
    --k.alive;
    if (n.in_index == node::indexed::sorted) {
      ++k.dead_in_sorted;
      k.compact_if_sparse();
    }
    // A pending one is dropped by the next flush.
  }
}

void record_store::compact_log() {
  std::erase_if(log_, [](const log_entry& e) { return e.n == nullptr || e.n->entry.seq != e.seq; });
  stale_log_entries_ = 0;
  // No log entry points into the graveyard any more; a node still in a
  // kind's pending list waits for that list's next flush.
  std::erase_if(graveyard_, [](node* n) {
    if (n->in_index == node::indexed::pending) return false;
    free_node(n);
    return true;
  });
}

void record_store::restore(std::string_view key, crdt::record state, std::uint64_t seq) {
  const std::uint64_t hash = hash_key(key);
  node* n = records_.find(key, hash);
  const bool inserted = n == nullptr;
  if (inserted) n = insert_node(key, hash);
  stored_record& entry = n->entry;
  const bool was_alive = entry.state.alive();
  clock_.advance_to(std::max(state.updated(), state.deleted()));
  // A duplicate in the source: join the states, keep the newer sequence.
  if (!inserted) state.merge(entry.state);
  rehash(*n, crdt::hash_record(n->key(), state));
  entry.state = std::move(state);
  entry.origin = clock_.self();
  if (inserted || seq > entry.seq) {
    // Out of order while loading; sorted once the caller restored the
    // sequence. An older duplicate adds no entry: its key is listed once.
    if (!inserted) ++stale_log_entries_;
    entry.seq = seq;
    log_.push_back({seq, n});
  }
  seq_ = std::max(seq_, entry.seq);
  index_liveness(*n, was_alive);
}

void record_store::restore_sequence(std::uint64_t seq) {
  seq_ = std::max(seq_, seq);
  std::sort(log_.begin(), log_.end(), [](const log_entry& a, const log_entry& b) { return a.seq < b.seq; });
  compact_log();
}

const stored_record* record_store::find(std::string_view key) const {
  const node* n = records_.find(key, hash_key(key));
  return n == nullptr ? nullptr : &n->entry;
}

std::string_view record_store::key_of(const stored_record& entry) {
  // `entry` is the first member of its node, and the key follows the node.
  static_assert(std::is_standard_layout_v<node>, "key_of needs offsetof(node, entry)");
  const char* at = reinterpret_cast<const char*>(&entry) - offsetof(node, entry);
  return reinterpret_cast<const node*>(at)->key();
}

const stored_record* record_store::find_alive(std::string_view key) const {
  const stored_record* entry = find(key);
  return entry && entry->state.alive() ? entry : nullptr;
}

void record_store::for_each_alive(
    std::string_view kind, std::string_view after,
    const std::function<bool(std::string_view id, const stored_record&)>& visit) const {
  auto k = kinds_.find(kind);
  if (k == kinds_.end()) return;
  // Logically const: sorting the pending records in changes no answer.
  kind_index& index = *k->second;
  index.flush();
  index.sorted.visit_after(after, [&](const node* n) {
    return !n->entry.state.alive() || visit(n->id(), n->entry);
  });
}

std::size_t record_store::count_alive(std::string_view kind) const {
  auto k = kinds_.find(kind);
  return k == kinds_.end() ? 0 : k->second->alive;
}

std::vector<std::pair<std::string, std::size_t>> record_store::alive_counts() const {
  std::vector<std::pair<std::string, std::size_t>> counts;
  for (const auto& [kind, index] : kinds_) counts.emplace_back(kind, index->alive);
  std::sort(counts.begin(), counts.end());
  return counts;
}

crdt::hash128 record_store::kind_digest(std::string_view kind) const {
  auto k = kinds_.find(kind);
  return k == kinds_.end() ? crdt::hash128{} : k->second->digest;
}

void record_store::changes_since(
    std::uint64_t since,
    const std::function<bool(std::uint64_t, std::string_view, const stored_record&)>& visit) const {
  auto it = std::upper_bound(log_.begin(), log_.end(), since,
                             [](std::uint64_t s, const log_entry& e) { return s < e.seq; });
  for (; it != log_.end(); ++it) {
    if (it->n == nullptr || it->n->entry.seq != it->seq) continue;
    if (!visit(it->seq, it->n->key(), it->n->entry)) return;
  }
}

void record_store::purge_node(node& n) {
  // A peer whose cursor is older than this purge could miss the deletion:
  // it must be brought up to date by a full transfer instead.
  purged_up_to_ = std::max(purged_up_to_, n.entry.seq);
  rehash(n, crdt::hash128{});
  if (n.in_index == node::indexed::sorted) {
    n.kind->sorted.erase(&n);
    --n.kind->dead_in_sorted;
    n.in_index = node::indexed::no;
  }
  records_.erase(n.key(), hash_key(n.key()));
  // Graveyard: seq 0 makes every log entry still pointing here stale, and
  // the empty state is dead, so a pending list drops it at its next flush.
  n.entry.seq = 0;
  n.entry.state = crdt::record{};
  graveyard_.push_back(&n);
  ++stale_log_entries_;
}

record_store::purge_progress record_store::purge_tombstones_step(std::uint64_t after,
                                                                 std::int64_t deleted_before_us,
                                                                 std::size_t max_scan,
                                                                 const purge_visitor& purged) {
  purge_progress progress{.next = after};
  auto it = std::upper_bound(log_.begin(), log_.end(), after,
                             [](std::uint64_t s, const log_entry& e) { return s < e.seq; });
  for (; it != log_.end() && progress.scanned < max_scan; ++it) {
    ++progress.scanned;
    progress.next = it->seq;
    node* n = it->n;
    if (n == nullptr || n->entry.seq != it->seq) continue;  // stale or purged
    const crdt::record& state = n->entry.state;
    if (state.alive() || state.deleted().wall_us >= deleted_before_us) continue;
    if (purged) purged(n->key());
    purge_node(*n);
    it->n = nullptr;
    ++progress.purged;
  }
  progress.finished = it == log_.end();
  // Compacting moves entries, but the caller resumes by sequence, not by
  // position, so it is safe between steps (never inside the loop above).
  if (stale_log_entries_ > 1024 && stale_log_entries_ > log_.size() / 2) compact_log();
  return progress;
}

std::size_t record_store::purge_tombstones(std::int64_t deleted_before_us, std::size_t max,
                                           const purge_visitor& purged) {
  std::size_t count = 0;
  // Oldest changes first: the longest-dead tombstones go first.
  std::uint64_t after = 0;
  while (count < max) {
    const auto progress = purge_tombstones_step(after, deleted_before_us, 1, purged);
    count += progress.purged;
    after = progress.next;
    if (progress.finished) break;
  }
  return count;
}

std::size_t record_store::tombstones() const {
  std::size_t alive = 0;
  for (const auto& [kind, index] : kinds_) alive += index->alive;
  return records_.size() - alive;
}

record_store::subscription record_store::subscribe(subscriber fn) {
  const subscription id = next_subscription_++;
  subscribers_.emplace_back(id, std::move(fn));
  return id;
}

void record_store::unsubscribe(subscription id) {
  if (notifying_ > 0) {
    for (auto& s : subscribers_) {
      if (s.first == id) {
        s.first = 0;
        unsubscribed_while_notifying_ = true;
      }
    }
    return;
  }
  std::erase_if(subscribers_, [id](const auto& s) { return s.first == id; });
}

void record_store::notify(const change& c) {
  struct depth_guard {
    record_store& self;
    explicit depth_guard(record_store& s) : self(s) { ++self.notifying_; }
    ~depth_guard() {
      if (--self.notifying_ == 0 && self.unsubscribed_while_notifying_) {
        std::erase_if(self.subscribers_, [](const auto& s) { return s.first == 0; });
        self.unsubscribed_while_notifying_ = false;
      }
    }
  } guard(*this);
  // Index loop over the subscribers present when the change was made: one
  // added by a subscriber starts with the next change.
  const std::size_t count = subscribers_.size();
  for (std::size_t i = 0; i < count; ++i) {
    if (subscribers_[i].first != 0) subscribers_[i].second(c);
  }
}

}  // namespace horao::store
