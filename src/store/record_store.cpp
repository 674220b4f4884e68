#include "horao/store/record_store.hpp"

#include <algorithm>

namespace horao::store {

std::pair<std::string_view, std::string_view> split_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) return {key, {}};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

record_store::record_store(crdt::hybrid_clock& clock) : clock_(clock) {}

record_store::kind_index& record_store::kind_entry(std::string_view kind) {
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), kind_index{}).first;
  return it->second;
}

record_store::node_type& record_store::slot(std::string_view key, bool& inserted) {
  auto it = records_.find(key);
  inserted = it == records_.end();
  if (inserted) it = records_.emplace(std::string(key), stored_record{}).first;
  return *it;
}

record_store::put_result record_store::put(std::string_view key, std::span<const crdt::field_write> fields) {
  bool inserted = false;
  node_type& node = slot(key, inserted);
  const bool was_alive = node.second.state.alive();
  // Two fresh ticks: everything before t1 is replaced, the new body is at t2.
  const crdt::hlc replace_at = clock_.tick();
  const crdt::hlc create_at = clock_.tick();
  node.second.state.put(replace_at, create_at, fields);
  commit_change(node, was_alive, clock_.self());
  return {&node.second, !was_alive};
}

const stored_record* record_store::patch(std::string_view key, std::span<const crdt::field_write> fields) {
  auto it = records_.find(key);
  if (it == records_.end() || !it->second.state.alive()) return nullptr;
  it->second.state.patch(clock_.tick(), fields);
  commit_change(*it, true, clock_.self());
  return &it->second;
}

bool record_store::remove(std::string_view key) {
  auto it = records_.find(key);
  if (it == records_.end() || !it->second.state.alive()) return false;
  it->second.state.remove(clock_.tick());
  commit_change(*it, true, clock_.self());
  return true;
}

merge_outcome record_store::merge(std::string_view key, const crdt::record& remote, crdt::node_id from) {
  const crdt::hlc newest = std::max(remote.updated(), remote.deleted());
  if (!clock_.acceptable(newest)) return merge_outcome::rejected_clock;
  clock_.advance_to(newest);
  bool inserted = false;
  node_type& node = slot(key, inserted);
  const bool was_alive = node.second.state.alive();
  if (!node.second.state.merge(remote) && !inserted) return merge_outcome::unchanged;
  commit_change(node, was_alive, from);
  return merge_outcome::changed;
}

void record_store::commit_change(node_type& node, bool was_alive, crdt::node_id origin) {
  stored_record& entry = node.second;
  const auto [kind, id] = split_key(node.first);
  auto& index = kind_entry(kind);
  const crdt::hash128 new_hash = crdt::hash_record(node.first, entry.state);
  digest_ -= entry.hash;
  index.digest -= entry.hash;
  digest_ += new_hash;
  index.digest += new_hash;
  entry.hash = new_hash;

  if (entry.seq != 0) ++stale_log_entries_;
  entry.seq = ++seq_;
  entry.origin = origin;
  log_.push_back({entry.seq, &node});
  if (stale_log_entries_ > 1024 && stale_log_entries_ > log_.size() / 2) compact_log();

  index_liveness(node, was_alive);
  notify(change{node.first, entry, was_alive});
}

void record_store::index_liveness(node_type& node, bool was_alive) {
  const bool alive = node.second.state.alive();
  if (alive == was_alive) return;
  const auto [kind, id] = split_key(node.first);
  auto& ids = kind_entry(kind).alive_ids;
  if (alive)
    ids.insert(id);
  else
    ids.erase(id);
}

void record_store::compact_log() {
  std::erase_if(log_, [](const log_entry& e) { return e.node == nullptr || e.node->second.seq != e.seq; });
  stale_log_entries_ = 0;
}

void record_store::restore(std::string_view key, crdt::record state, std::uint64_t seq) {
  bool inserted = false;
  node_type& node = slot(key, inserted);
  const bool was_alive = node.second.state.alive();
  clock_.advance_to(std::max(state.updated(), state.deleted()));
  stored_record& entry = node.second;
  if (!inserted) {
    // A duplicate in the source: join the states, keep the newer sequence.
    state.merge(entry.state);
    ++stale_log_entries_;
  }
  const crdt::hash128 new_hash = crdt::hash_record(node.first, state);
  auto& index = kind_entry(split_key(node.first).first);
  digest_ -= entry.hash;
  index.digest -= entry.hash;
  digest_ += new_hash;
  index.digest += new_hash;
  entry.hash = new_hash;
  entry.state = std::move(state);
  entry.seq = std::max(entry.seq, seq);
  entry.origin = clock_.self();
  seq_ = std::max(seq_, entry.seq);
  // Out of order while loading; sorted once the caller restored the sequence.
  log_.push_back({entry.seq, &node});
  index_liveness(node, was_alive);
}

void record_store::restore_sequence(std::uint64_t seq) {
  seq_ = std::max(seq_, seq);
  std::sort(log_.begin(), log_.end(), [](const log_entry& a, const log_entry& b) { return a.seq < b.seq; });
  compact_log();
}

const stored_record* record_store::find(std::string_view key) const {
  auto it = records_.find(key);
  return it == records_.end() ? nullptr : &it->second;
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
  const auto& ids = k->second.alive_ids;
  std::string key(kind);
  key += '/';
  const std::size_t prefix = key.size();
  for (auto it = after.empty() ? ids.begin() : ids.upper_bound(after); it != ids.end(); ++it) {
    key.resize(prefix);
    key += *it;
    const auto found = records_.find(key);
    if (!visit(*it, found->second)) return;
  }
}

std::size_t record_store::count_alive(std::string_view kind) const {
  auto k = kinds_.find(kind);
  return k == kinds_.end() ? 0 : k->second.alive_ids.size();
}

std::vector<std::pair<std::string, std::size_t>> record_store::alive_counts() const {
  std::vector<std::pair<std::string, std::size_t>> counts;
  for (const auto& [kind, index] : kinds_) counts.emplace_back(kind, index.alive_ids.size());
  std::sort(counts.begin(), counts.end());
  return counts;
}

crdt::hash128 record_store::kind_digest(std::string_view kind) const {
  auto k = kinds_.find(kind);
  return k == kinds_.end() ? crdt::hash128{} : k->second.digest;
}

void record_store::changes_since(
    std::uint64_t since,
    const std::function<bool(std::uint64_t, std::string_view, const stored_record&)>& visit) const {
  auto it = std::upper_bound(log_.begin(), log_.end(), since,
                             [](std::uint64_t s, const log_entry& e) { return s < e.seq; });
  for (; it != log_.end(); ++it) {
    if (it->node == nullptr || it->node->second.seq != it->seq) continue;
    if (!visit(it->seq, it->node->first, it->node->second)) return;
  }
}

std::size_t record_store::purge_tombstones(std::int64_t deleted_before_us, std::size_t max) {
  std::size_t purged = 0;
  for (auto it = records_.begin(); it != records_.end() && purged < max;) {
    const stored_record& entry = it->second;
    if (entry.state.alive() || entry.state.deleted().wall_us >= deleted_before_us) {
      ++it;
      continue;
    }
    auto pos = std::lower_bound(log_.begin(), log_.end(), entry.seq,
                                [](const log_entry& e, std::uint64_t s) { return e.seq < s; });
    if (pos != log_.end() && pos->seq == entry.seq) pos->node = nullptr;
    ++stale_log_entries_;
    // A peer whose cursor is older than this purge could miss the deletion:
    // it must be brought up to date by a full transfer instead.
    purged_up_to_ = std::max(purged_up_to_, entry.seq);
    auto& index = kind_entry(split_key(it->first).first);
    digest_ -= entry.hash;
    index.digest -= entry.hash;
    it = records_.erase(it);
    ++purged;
  }
  return purged;
}

record_store::subscription record_store::subscribe(subscriber fn) {
  const subscription id = next_subscription_++;
  subscribers_.emplace_back(id, std::move(fn));
  return id;
}

void record_store::unsubscribe(subscription id) {
  for (auto& [sid, fn] : subscribers_) {
    if (sid == id) {
      fn = nullptr;
      unsubscribed_while_notifying_ = true;
    }
  }
  if (notifying_ == 0) {
    std::erase_if(subscribers_, [](const auto& s) { return !s.second; });
    unsubscribed_while_notifying_ = false;
  }
}

void record_store::notify(const change& c) {
  ++notifying_;
  // Index loop: a subscriber may subscribe another while being called.
  for (std::size_t i = 0; i < subscribers_.size(); ++i) {
    if (subscribers_[i].second) subscribers_[i].second(c);
  }
  if (--notifying_ == 0 && unsubscribed_while_notifying_) {
    std::erase_if(subscribers_, [](const auto& s) { return !s.second; });
    unsubscribed_while_notifying_ = false;
  }
}

}  // namespace horao::store
