#include "horao/domain/capacity.hpp"

#include "horao/domain/hardware.hpp"

namespace horao::domain {

capacity_index::capacity_index(store::record_store& store) : store_(store) {
  subscription_ = store_.subscribe([this](const store::change& c) { on_change(c.key, c.entry.state); });
  rebuild();
}

capacity_index::~capacity_index() {
  store_.unsubscribe(subscription_);
}

void capacity_index::on_change(std::string_view key, const crdt::record& state) {
  const auto [kind, id] = store::split_key(key);
  if (is_hardware_kind(kind)) {
    if (state.alive())
      hardware_.put(key, read_hardware(kind, state));
    else
      hardware_.remove(key);
  } else if (kind == "network") {
    if (state.alive())
      hardware_.put_network(id, read_hsn_data_network(state));
    else
      hardware_.remove_network(id);
  } else if (kind == "maintenance") {
    auto window = state.alive() ? read_maintenance(state) : std::nullopt;
    if (window)
      calendar_.put(id, std::move(*window));
    else
      calendar_.remove(id);
  }
}

void capacity_index::rebuild() {
  hardware_.clear();
  calendar_.clear();
  static constexpr std::string_view kinds[] = {"datacenter", "cabinet", "chassis", "blade",      "server",
                                               "node",       "disk",    "network", "maintenance"};
  std::size_t hardware = 0;
  for (std::string_view kind : kinds)
    if (is_hardware_kind(kind)) hardware += store_.count_alive(kind);
  hardware_.reserve(hardware);
  for (std::string_view kind : kinds) {
    // The store's own key text: the hardware tree keeps views of it.
    store_.for_each_alive(kind, {}, [&](std::string_view, const store::stored_record& entry) {
      on_change(store::record_store::key_of(entry), entry.state);
      return true;
    });
  }
}

amounts capacity_index::capacity(const capacity_query& q) const {
  const pools held = q.datacenter.empty() ? hardware_.total() : hardware_.datacenter(q.datacenter);
  const pool p = q.hsn_only ? pool::hsn : pool::total;
  if (!q.at) return held[p];
  return held[p] - calendar_.removed_at(hardware_, *q.at, q.datacenter)[p];
}

amounts capacity_index::min_capacity(std::int64_t from, std::int64_t to, bool hsn_only) const {
  const pool p = hsn_only ? pool::hsn : pool::total;
  amounts worst;
  for (const auto& piece : calendar_.removal(hardware_, from, to)) worst = max_of(worst, piece.removed[p]);
  return hardware_.total()[p] - worst;
}

}  // namespace horao::domain
