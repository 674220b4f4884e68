#pragma once
// The record lattice of the Last-Writer-Wins map (DESIGN §2).
//
//   record  = { created: HLC, deleted: HLC, fields: name -> (HLC, value | absent) }
//   alive   = created > deleted
//   visible = fields with HLC > deleted and a value
//   merge   = pointwise maximum
//
// Invariants kept by every member function:
//  * canonical form: no field entry has a stamp <= deleted (garbage collection
//    is applied eagerly), fields are sorted by name and names are unique. Two
//    records hold the same state exactly when they compare equal.
//  * merge is commutative, associative and idempotent. Equal stamps can only
//    come from one write of one node; should they ever carry different values
//    (a bug or a bad peer), the larger value text wins so that merge stays a
//    lattice join instead of depending on delivery order.
//  * values are compact JSON text (json_text: 16 bytes, short texts inline);
//    an empty value means "absent" (a field removed by a merge patch).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "horao/crdt/hlc.hpp"
#include "horao/crdt/json_text.hpp"

namespace horao::crdt {

using field_id = std::uint32_t;  // id in field_names()

struct field_entry {
  hlc stamp;
  field_id name = 0;
  json_text value;  // compact JSON; empty = absent

  bool absent() const { return value.empty(); }
  const std::string& name_text() const { return field_names().name(name); }
  friend bool operator==(const field_entry&, const field_entry&) = default;
};

// A million records of seven fields hold seven million entries: keep them at
// 40 bytes (16 stamp + 4 name + padding + 16 value).
static_assert(sizeof(field_entry) <= 40);

// A field given to a write: name and compact JSON value (empty = remove).
struct field_write {
  std::string name;
  std::string value;
  // field_names()'s id of `name` when the caller already holds it (the
  // schema interns its field names once); 0: the write interns `name`.
  field_id id = 0;
};

class record {
 public:
  record() = default;
  record(hlc created, hlc deleted, std::vector<field_entry> fields);

  const hlc& created() const { return created_; }
  const hlc& deleted() const { return deleted_; }
  bool alive() const { return deleted_ < created_; }
  std::span<const field_entry> fields() const { return fields_; }
  const field_entry* find(std::string_view name) const;
  // The newest stamp of anything visible: created and the surviving fields.
  hlc updated() const;

  // PUT at replace_at < create_at: everything older than replace_at goes,
  // the given fields are written at create_at. Values must be non-empty.
  void put(const hlc& replace_at, const hlc& create_at, std::span<const field_write> fields);
  // PATCH at `at`: each field written at `at`; an empty value removes it.
  void patch(const hlc& at, std::span<const field_write> fields);
  // DELETE at `at`.
  void remove(const hlc& at);
  // Lattice join; returns true when this record changed.
  bool merge(const record& other);

  friend bool operator==(const record&, const record&) = default;

 private:
  void write_field(const hlc& at, field_id name, std::string_view value);
  void collect_garbage();

  hlc created_;
  hlc deleted_;
  std::vector<field_entry> fields_;  // sorted by name text, unique names
};

// Orders field ids by their names (the canonical order of fields).
bool field_name_less(field_id a, field_id b);

}  // namespace horao::crdt
