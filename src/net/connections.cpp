#include "horao/net/connections.hpp"

#include <algorithm>

namespace horao::net {

bool connection_set::add(std::weak_ptr<connection> c) {
  if (stopping_) return false;
  items_.push_back(std::move(c));
  // Amortised pruning keeps the vector within twice the live count.
  if (items_.size() >= prune_at_) {
    prune();
    prune_at_ = std::max<std::size_t>(64, 2 * items_.size());
  }
  return true;
}

void connection_set::prune() {
  std::erase_if(items_, [](const std::weak_ptr<connection>& w) { return w.expired(); });
}

std::size_t connection_set::live() {
  prune();
  return items_.size();
}

void connection_set::stop_all() {
  stopping_ = true;
  // stop() may end a connection at once; copy first so that nothing here
  // depends on what a stop does to the vector.
  std::vector<std::shared_ptr<connection>> alive;
  for (auto& w : items_)
    if (auto c = w.lock()) alive.push_back(std::move(c));
  for (auto& c : alive) c->stop();
}

}  // namespace horao::net
