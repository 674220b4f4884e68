#include "horao/crdt/record.hpp"

#include <algorithm>
#include <stdexcept>

namespace horao::crdt {
namespace {

// The join of two entries of the same field.
bool dominates(const field_entry& a, const field_entry& b) {
  if (a.stamp != b.stamp) return b.stamp < a.stamp;
  return b.value.view() < a.value.view();
}

}  // namespace

bool field_name_less(field_id a, field_id b) {
  return a != b && field_names().name(a) < field_names().name(b);
}

record::record(hlc created, hlc deleted, std::vector<field_entry> fields)
    : created_(created), deleted_(deleted) {
  std::sort(fields.begin(), fields.end(),
            [](const field_entry& a, const field_entry& b) { return field_name_less(a.name, b.name); });
  // Duplicate names (possible in untrusted input) are joined, not kept twice.
  for (auto& entry : fields) {
    if (!fields_.empty() && fields_.back().name == entry.name) {
      if (dominates(entry, fields_.back())) fields_.back() = std::move(entry);
    } else {
      fields_.push_back(std::move(entry));
    }
  }
  collect_garbage();
}

const field_entry* record::find(std::string_view name) const {
  for (const auto& entry : fields_)
    if (entry.name_text() == name) return &entry;
  return nullptr;
}

hlc record::updated() const {
  hlc newest = created_;
  for (const auto& entry : fields_) newest = std::max(newest, entry.stamp);
  return newest;
}

void record::write_field(const hlc& at, field_id name, std::string_view value) {
  auto it = std::lower_bound(fields_.begin(), fields_.end(), name,
                             [](const field_entry& e, field_id n) { return field_name_less(e.name, n); });
  field_entry candidate{at, name, value};
  if (it != fields_.end() && it->name == name) {
    if (dominates(candidate, *it)) *it = std::move(candidate);
  } else {
    fields_.insert(it, std::move(candidate));
  }
}

namespace {

// Interns the names of a write before anything is changed, so that a name
// the table refuses leaves the record as it was.
std::vector<field_id> intern_names(std::span<const field_write> fields) {
  std::vector<field_id> ids;
  ids.reserve(fields.size());
  for (const auto& field : fields) {
    if (field.id != 0) {
      ids.push_back(field.id);
      continue;
    }
    auto id = field_names().intern(field.name);
    if (!id) throw std::length_error("field name table full or name too long");
    ids.push_back(*id);
  }
  return ids;
}

}  // namespace

void record::put(const hlc& replace_at, const hlc& create_at, std::span<const field_write> fields) {
  const std::vector<field_id> ids = intern_names(fields);
  deleted_ = std::max(deleted_, replace_at);
  created_ = std::max(created_, create_at);
  // The body in name order; a name given twice keeps the larger value, as
  // two writes at one stamp would.
  std::vector<std::size_t> order(fields.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (ids[a] != ids[b]) return field_name_less(ids[a], ids[b]);
    return fields[a].value < fields[b].value;
  });
  // One pass builds the new list at its final size: the survivors of the
  // replace (normally none) joined with the body.
  std::vector<field_entry> joined;
  const bool body_survives = deleted_ < create_at;
  joined.reserve(
      (body_survives ? fields.size() : 0) +
      static_cast<std::size_t>(std::count_if(fields_.begin(), fields_.end(),
                                             [&](const field_entry& e) { return deleted_ < e.stamp; })));
  auto old = fields_.begin();
  auto keep_old = [&] {
    if (deleted_ < old->stamp) joined.push_back(std::move(*old));
    ++old;
  };
  if (body_survives) {
    for (std::size_t k = 0; k < order.size(); ++k) {
      const std::size_t i = order[k];
      if (k + 1 < order.size() && ids[order[k + 1]] == ids[i]) continue;  // the larger duplicate follows
      while (old != fields_.end() && field_name_less(old->name, ids[i])) keep_old();
      field_entry candidate{create_at, ids[i], fields[i].value};
      if (old != fields_.end() && old->name == ids[i]) {
        if (deleted_ < old->stamp && dominates(*old, candidate)) candidate = std::move(*old);
        ++old;
      }
      joined.push_back(std::move(candidate));
    }
  }
  while (old != fields_.end()) keep_old();
  fields_ = std::move(joined);
}

void record::patch(const hlc& at, std::span<const field_write> fields) {
  const std::vector<field_id> ids = intern_names(fields);
  for (std::size_t i = 0; i < fields.size(); ++i) write_field(at, ids[i], fields[i].value);
  collect_garbage();
}

void record::remove(const hlc& at) {
  if (!(deleted_ < at)) return;
  deleted_ = at;
  collect_garbage();
}

bool record::merge(const record& other) {
  bool changed = false;
  if (created_ < other.created_) {
    created_ = other.created_;
    changed = true;
  }
  const bool deleted_moved = deleted_ < other.deleted_;
  if (deleted_moved) {
    deleted_ = other.deleted_;
    changed = true;
  }
  // The usual cases allocate nothing: a state newer in the same fields is
  // copied over in place; only a field this record lacks needs a new list.
  std::size_t missing = 0;
  auto a = fields_.begin();
  for (const auto& b : other.fields_) {
    if (!(deleted_ < b.stamp)) continue;  // garbage under the joined delete
    while (a != fields_.end() && field_name_less(a->name, b.name)) ++a;
    if (a != fields_.end() && a->name == b.name) {
      if (dominates(b, *a)) {
        a->stamp = b.stamp;
        a->value = b.value;
        changed = true;
      }
      ++a;
    } else {
      ++missing;
    }
  }
  if (deleted_moved) collect_garbage();
  if (missing == 0) return changed;

  std::vector<field_entry> joined;
  joined.reserve(fields_.size() + missing);
  a = fields_.begin();
  for (const auto& b : other.fields_) {
    if (!(deleted_ < b.stamp)) continue;
    while (a != fields_.end() && field_name_less(a->name, b.name)) joined.push_back(std::move(*a++));
    if (a != fields_.end() && a->name == b.name) {
      joined.push_back(std::move(*a++));  // joined in the first pass
    } else {
      joined.push_back(b);
    }
  }
  while (a != fields_.end()) joined.push_back(std::move(*a++));
  fields_ = std::move(joined);
  return true;
}

void record::collect_garbage() {
  std::erase_if(fields_, [this](const field_entry& e) { return e.stamp <= deleted_; });
}

}  // namespace horao::crdt
