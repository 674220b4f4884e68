#include "horao/crdt/record.hpp"

#include <algorithm>
#include <stdexcept>

namespace horao::crdt {
namespace {

// The join of two entries of the same field.
bool dominates(const field_entry& a, const field_entry& b) {
  if (a.stamp != b.stamp) return b.stamp < a.stamp;
  return b.value < a.value;
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

void record::write_field(const hlc& at, field_id name, std::string value) {
  auto it = std::lower_bound(fields_.begin(), fields_.end(), name,
                             [](const field_entry& e, field_id n) { return field_name_less(e.name, n); });
  field_entry candidate{at, name, std::move(value)};
  if (it != fields_.end() && it->name == name) {
    if (dominates(candidate, *it)) *it = std::move(candidate);
  } else {
    fields_.insert(it, std::move(candidate));
  }
}

void record::put(const hlc& replace_at, const hlc& create_at, std::span<const field_write> fields) {
  deleted_ = std::max(deleted_, replace_at);
  created_ = std::max(created_, create_at);
  collect_garbage();
  for (const auto& field : fields) {
    auto id = field_names().intern(field.name);
    if (!id) throw std::length_error("field name table full or name too long");
    write_field(create_at, *id, field.value);
  }
  collect_garbage();
}

void record::patch(const hlc& at, std::span<const field_write> fields) {
  for (const auto& field : fields) {
    auto id = field_names().intern(field.name);
    if (!id) throw std::length_error("field name table full or name too long");
    write_field(at, *id, field.value);
  }
  collect_garbage();
}

void record::remove(const hlc& at) {
  deleted_ = std::max(deleted_, at);
  collect_garbage();
}

bool record::merge(const record& other) {
  bool changed = false;
  if (created_ < other.created_) {
    created_ = other.created_;
    changed = true;
  }
  if (deleted_ < other.deleted_) {
    deleted_ = other.deleted_;
    changed = true;
  }
  // Merge-join of two name-sorted field lists.
  std::vector<field_entry> joined;
  joined.reserve(fields_.size() + other.fields_.size());
  auto a = fields_.begin();
  auto b = other.fields_.begin();
  while (a != fields_.end() || b != other.fields_.end()) {
    if (b == other.fields_.end() || (a != fields_.end() && field_name_less(a->name, b->name))) {
      joined.push_back(std::move(*a++));
    } else if (a == fields_.end() || field_name_less(b->name, a->name)) {
      if (deleted_ < b->stamp) {
        joined.push_back(*b);
        changed = true;
      }
      ++b;
    } else {
      if (dominates(*b, *a)) {
        joined.push_back(*b);
        changed = true;
      } else {
        joined.push_back(std::move(*a));
      }
      ++a;
      ++b;
    }
  }
  fields_ = std::move(joined);
  collect_garbage();
  return changed;
}

void record::collect_garbage() {
  std::erase_if(fields_, [this](const field_entry& e) { return e.stamp <= deleted_; });
}

}  // namespace horao::crdt
