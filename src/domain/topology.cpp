#include "horao/domain/topology.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>

#include "horao/store/record_store.hpp"

namespace horao::domain {

namespace {

// The budget of a machine record (DESIGN §6 capacity): a node must not grow
// by accident.
static_assert(sizeof(topology::node) <= 72);

constexpr quantity compact_max = std::numeric_limits<std::uint32_t>::max();

// A heap copy of `text`; never null, so a placeholder's key has storage to free.
const char* copy_of(std::string_view text) {
  char* copy = new char[text.size() == 0 ? 1 : text.size()];
  std::copy(text.begin(), text.end(), copy);
  return copy;
}

}  // namespace

// ---- compact_amounts ----

bool compact_amounts::fits(const amounts& a) {
  const bool each_fits =
      std::all_of(a.q.begin(), a.q.end(), [](quantity v) { return v >= 0 && v <= compact_max; });
  // One storage figure: a disk is block or object, never both.
  return each_fits && (a[dimension::block_tb] == 0 || a[dimension::object_tb] == 0);
}

compact_amounts compact_amounts::of(const amounts& a, bool& object) {
  object = a[dimension::object_tb] != 0;
  return {static_cast<std::uint32_t>(a[dimension::cpu]), static_cast<std::uint32_t>(a[dimension::ram_gb]),
          static_cast<std::uint32_t>(a[dimension::accelerators]),
          static_cast<std::uint32_t>(a[object ? dimension::object_tb : dimension::block_tb])};
}

amounts compact_amounts::widen(bool object) const {
  amounts a;
  a[dimension::cpu] = cpu;
  a[dimension::ram_gb] = ram_gb;
  a[dimension::accelerators] = accelerators;
  a[object ? dimension::object_tb : dimension::block_tb] = storage;
  return a;
}

// ---- network_links ----

std::size_t topology::network_links::size() const {
  if (bits_ == 0) return 0;
  return is_list() ? as_list().size() : 1;
}

topology::network_entry* topology::network_links::operator[](std::size_t i) const {
  return is_list() ? as_list()[i] : reinterpret_cast<network_entry*>(bits_);
}

void topology::network_links::add(network_entry* e) {
  if (bits_ == 0) {
    bits_ = reinterpret_cast<std::uintptr_t>(e);
    return;
  }
  if (!is_list()) {
    auto* l = new list{reinterpret_cast<network_entry*>(bits_)};
    bits_ = reinterpret_cast<std::uintptr_t>(l) | list_tag;
  }
  as_list().push_back(e);
}

void topology::network_links::reset() {
  if (is_list()) delete &as_list();
  bits_ = 0;
}

// ---- node_table ----

std::uint32_t topology::node_table::hash_of(std::string_view key) {
  const std::size_t h = std::hash<std::string_view>{}(key);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

topology::node* topology::node_table::find(std::string_view key) const {
  if (size_ == 0) return nullptr;
  const std::uint32_t hash = hash_of(key);
  if (node* n = find_in(slots_, key, hash)) return n;
  return drain_.active() ? find_in(drain_.old(), key, hash) : nullptr;
}

topology::node* topology::node_table::find_in(const store::slot_vector<slot>& slots, std::string_view key,
                                              std::uint32_t hash) const {
  if (slots.empty()) return nullptr;
  for (std::size_t i = home(hash, slots.size());; i = next(i, slots.size())) {
    const slot s = slots[i];
    if (s.index == empty) return nullptr;
    if (s.hash == hash && at(s.index - 1).key == key) return &at(s.index - 1);
  }
}

std::pair<topology::node*, bool> topology::node_table::emplace(std::string_view key) {
  step();
  if (node* n = find(key)) return {n, false};
  // At most 4/5 full: probe runs stay short, and a reserved table (3/4) is
  // not rehashed by the records it was reserved for.
  if ((size_ - drain_.entries() + 1) * 5 > slots_.size() * 4) grow();
  const std::uint32_t index = allocate();
  place(slots_, {hash_of(key), index + 1});
  ++size_;
  return {&at(index), true};
}

void topology::node_table::erase(node* n) {
  step();
  const std::uint32_t hash = hash_of(n->key);
  std::uint32_t slot_index = erase_in(slots_, n, hash);
  if (slot_index == empty) {
    if (!drain_.active() || (slot_index = erase_in(drain_.old(), n, hash)) == empty)
      return;  // not held: a bug
    drain_.erased();
  }
  const std::uint32_t index = slot_index - 1;
  --size_;
  std::destroy_at(n);
  std::construct_at(n);
  free_.push_back(index);
}

std::uint32_t topology::node_table::erase_in(store::slot_vector<slot>& slots, const node* n,
                                             std::uint32_t hash) const {
  if (slots.empty()) return empty;
  const std::size_t count = slots.size();
  std::size_t hole = home(hash, count);
  for (;; hole = next(hole, count)) {
    if (slots[hole].index == empty) return empty;
    if (&at(slots[hole].index - 1) == n) break;
  }
  const std::uint32_t erased = slots[hole].index;
  // Backward shift, as in pointer_table's erase.
  for (std::size_t j = next(hole, count); slots[j].index != empty; j = next(j, count)) {
    const std::size_t h = home(slots[j].hash, count);
    const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (stays) continue;
    slots[hole] = slots[j];
    hole = j;
  }
  slots[hole] = slot{};
  return erased;
}

void topology::node_table::reserve(std::size_t n) {
  const std::size_t wanted = n + n / 4 + 16;  // 4/5 full when all are in: no rehash
  if (wanted > slots_.size()) rehash(wanted);
}

void topology::node_table::clear() {
  // Swapped out, not cleared: the memory goes back, a rebuild reserves anew.
  store::slot_vector<slot>().swap(slots_);
  drain_.release();
  std::vector<std::unique_ptr<node[]>>().swap(chunks_);
  std::vector<std::uint32_t>().swap(free_);
  used_ = 0;
  size_ = 0;
}

std::uint32_t topology::node_table::allocate() {
  if (!free_.empty()) {
    const std::uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }
  // index + 1 is stored in a 32-bit slot, 0 meaning empty.
  if (used_ == std::numeric_limits<std::uint32_t>::max() - 1)
    throw std::length_error("topology: too many nodes");
  if (used_ % chunk_size == 0) chunks_.push_back(std::make_unique<node[]>(chunk_size));
  return used_++;
}

void topology::node_table::step() {
  drain_.step(is_empty, into_slots());
}

void topology::node_table::grow() {
  // Twice the slots; the old ones drain into them over the next inserts and
  // erases instead of stopping this write.
  const std::size_t count = std::max<std::size_t>(16, slots_.size() * 2);
  if (count > (std::size_t{1} << 32)) throw std::length_error("topology: table too large");
  drain_.grow(slots_, count, size_, is_empty, into_slots());
}

void topology::node_table::rehash(std::size_t slot_count) {
  if (slot_count > (std::size_t{1} << 32)) throw std::length_error("topology: table too large");
  store::slot_vector<slot> old(slot_count);
  old.swap(slots_);
  for (const slot& s : old)
    if (s.index != empty) place(slots_, s);
  drain_.finish(is_empty, into_slots());
}

void topology::node_table::place(store::slot_vector<slot>& slots, slot s) {
  std::size_t i = home(s.hash, slots.size());
  while (slots[i].index != empty) i = next(i, slots.size());
  slots[i] = s;
}

// ---- topology ----

topology::node& topology::obtain(std::string_view key) {
  auto [n, created] = nodes_.emplace(key);
  if (created) init(*n, key, true);
  return *n;
}

void topology::init(node& n, std::string_view key, bool owned) {
  n.key = owned ? std::string_view(copy_of(key), key.size()) : key;
  n.owns_key = owned;
  n.sums_below = !is_machine_kind(store::split_key(key).first);
}

void topology::own_key(node& n) {
  if (n.owns_key) return;
  n.key = std::string_view(copy_of(n.key), n.key.size());
  n.owns_key = true;
}

topology::branch& topology::extra_of(node& n) {
  if (!n.extra) {
    n.extra = std::make_unique<branch>();
    if (n.sums_below) n.extra->below = std::make_unique<pools>();
  }
  return *n.extra;
}

void topology::trim(node& n) {
  // No children: their sum is exactly zero, nothing is lost.
  if (n.extra && n.extra->children.empty() && !n.wide_own) n.extra.reset();
}

void topology::set_own(node& n, const amounts& own) {
  if (compact_amounts::fits(own)) {
    bool object = false;
    n.own_compact = compact_amounts::of(own, object);
    n.object_storage = object;
    if (n.wide_own) {
      n.wide_own = false;
      n.extra->wide_own.reset();
      trim(n);
    }
    return;
  }
  n.own_compact = {};
  n.object_storage = false;
  branch& b = extra_of(n);
  if (b.wide_own)
    *b.wide_own = own;
  else
    b.wide_own = std::make_unique<amounts>(own);
  n.wide_own = true;
}

void topology::add_below(node* from, const pools& delta) {
  // Every node above a child has a branch: it has a child.
  for (node* p = from; p != nullptr; p = p->parent)
    if (p->extra->below) *p->extra->below += delta;
}

void topology::detach(node& n) {
  node* old = n.parent;
  if (old == nullptr) return;
  add_below(old, pools{} - n.inside());
  // Swap-remove: O(1), the moved child learns its new slot.
  std::vector<node*>& siblings = old->extra->children;
  node* last = siblings.back();
  siblings[n.slot] = last;
  last->slot = n.slot;
  siblings.pop_back();
  n.parent = nullptr;
  trim(*old);
  drop_if_unused(old);
}

void topology::attach(node& n, std::string_view parent_key) {
  if (parent_key.empty() || parent_key == n.key) return;
  node& p = obtain(parent_key);
  std::vector<node*>& siblings = extra_of(p).children;
  if (siblings.size() == std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("topology: too many children");
  n.parent = &p;
  n.slot = static_cast<std::uint32_t>(siblings.size());
  siblings.push_back(&n);
  add_below(&p, n.inside());
}

bool topology::same_networks(const node& n, const std::vector<std::string>& ids) {
  // The links are `ids` without repeats, in order: walk both; an id that is
  // not the next link must be a repeat of an earlier one.
  const std::size_t linked = n.networks.size();
  std::size_t k = 0;
  for (const std::string& id : ids) {
    if (k < linked && n.networks[k]->id == id) {
      ++k;
      continue;
    }
    bool repeat = false;
    for (std::size_t j = 0; j < k && !repeat; ++j) repeat = n.networks[j]->id == id;
    if (!repeat) return false;
  }
  return k == linked;
}

void topology::unlink_networks(node& n) {
  for (std::size_t i = 0; i < n.networks.size(); ++i) {
    network_entry& net = *n.networks[i];
    net.machines.erase(&n);
    drop_network_if_unused(net);  // each entry is listed once: not read again
  }
  n.networks.reset();
}

void topology::link_networks(node& n, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    auto it = networks_.find(id);
    if (it == networks_.end()) {
      it = networks_.try_emplace(id).first;
      it->second.id = it->first;
    }
    if (it->second.machines.insert(&n)) n.networks.add(&it->second);  // else a repeat
  }
}

bool topology::machine_hsn(const node& n) {
  for (std::size_t i = 0; i < n.networks.size(); ++i)
    if (n.networks[i]->alive && n.networks[i]->hsn_data) return true;
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
  if (moved && n.extra)
    for (node* child : n.extra->children) refresh(*child, child->counted());
}

void topology::put(std::string_view key, const hardware_facts& facts) {
  const auto [found, created] = nodes_.emplace(key);
  node& n = *found;
  if (created) init(n, key, false);  // a new live record: a view of the caller's stable key
  const bool same_parent = n.parent_key() == facts.parent;
  const bool same_links = same_networks(n, facts.networks);
  // Fields that do not matter here (a serial number) leave the version alone.
  if (n.alive && n.up == facts.up && same_parent && same_links && n.own() == facts.own) return;
  ++version_;
  const pools before = n.counted();
  if (!same_parent) {
    detach(n);
    attach(n, facts.parent);
  }
  if (!same_links) {
    unlink_networks(n);
    link_networks(n, facts.networks);
  }
  n.alive = true;
  n.up = facts.up;
  set_own(n, facts.own);
  refresh(n, before);
}

void topology::remove(std::string_view key) {
  node* found = nodes_.find(key);
  if (found == nullptr || !found->alive) return;
  ++version_;
  node& n = *found;
  const pools before = n.counted();
  n.alive = false;
  set_own(n, {});
  refresh(n, before);  // counted -> 0, children unplaced
  // A dead record names no parent and no network any more; it stays only as
  // the placeholder of its children, if it has any, and then owns its key:
  // the store's text goes when the record is purged.
  unlink_networks(n);
  detach(n);
  if (n.has_children()) own_key(n);
  drop_if_unused(&n);
}

void topology::drop_if_unused(node* n) {
  if (n->alive || n->has_children() || n->parent != nullptr) return;
  nodes_.erase(n);
}

void topology::put_network(std::string_view id, bool hsn_data) {
  auto it = networks_.find(id);
  if (it == networks_.end()) {
    it = networks_.try_emplace(std::string(id)).first;
    it->second.id = it->first;
  }
  network_entry& net = it->second;
  const bool was = net.alive && net.hsn_data;
  net.alive = true;
  net.hsn_data = hsn_data;
  if (was == hsn_data) return;
  ++version_;
  net.machines.for_each([&](node* m) { refresh(*m, m->counted()); });
}

void topology::remove_network(std::string_view id) {
  auto it = networks_.find(id);
  if (it == networks_.end() || !it->second.alive) return;
  network_entry& net = it->second;
  const bool was = net.hsn_data;
  net.alive = false;
  net.hsn_data = false;
  if (was) {
    ++version_;
    net.machines.for_each([&](node* m) { refresh(*m, m->counted()); });
  }
  drop_network_if_unused(net);
}

void topology::drop_network_if_unused(network_entry& net) {
  if (net.alive || !net.machines.empty()) return;
  networks_.erase(networks_.find(net.id));
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

}  // namespace horao::domain
