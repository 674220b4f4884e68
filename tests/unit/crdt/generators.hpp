#pragma once
// RapidCheck generators for CRDT state, shared by the crdt and store tests.
//
// Everything is drawn from deliberately small pools so that the interesting
// cases happen often: field names from six names, stamps from a handful of
// walls and counters and three node names (equal stamps, equal walls with
// different nodes), values from random compact JSON including objects and
// arrays, or "absent".

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <rapidcheck.h>

#include "horao/crdt/codec.hpp"
#include "horao/crdt/hlc.hpp"
#include "horao/crdt/record.hpp"

namespace horao::crdt {

// Failure reports show records as their wire JSON instead of "<?>".
inline void showValue(const record& r, std::ostream& os) { os << encode_record(r).dump(); }
inline void showValue(const hlc& t, std::ostream& os) { os << to_string(t); }

}  // namespace horao::crdt

namespace horao::test {

inline const std::vector<std::string>& node_pool() {
  static const std::vector<std::string> names{"n1", "n2", "n3"};
  return names;
}

inline const std::vector<std::string>& field_pool() {
  static const std::vector<std::string> names{"a", "b", "c", "name", "status", "zz"};
  return names;
}

// A uniform choice in [lo, hi) that still shrinks towards lo. (inRange alone
// scales with RapidCheck's size and always yields lo at size 0.)
template <typename T>
rc::Gen<T> uniform(T lo, T hi) {
  return rc::gen::resize(100, rc::gen::inRange<T>(lo, hi));
}

inline crdt::node_id node(const std::string& name) { return *crdt::node_names().intern(name); }
inline crdt::field_id field(const std::string& name) { return *crdt::field_names().intern(name); }

// A stamp from a small range: walls 0..3, counters 0..2, three nodes.
inline rc::Gen<crdt::hlc> gen_stamp() {
  return rc::gen::apply(
      [](std::int64_t wall, std::uint32_t counter, const std::string& n) { return crdt::hlc{wall, counter, node(n)}; },
      rc::gen::inRange<std::int64_t>(0, 4), rc::gen::inRange<std::uint32_t>(0, 3),
      rc::gen::elementOf(node_pool()));
}

// Sometimes the bottom element, which is what a fresh record holds.
inline rc::Gen<crdt::hlc> gen_stamp_or_bottom() {
  return rc::gen::weightedOneOf<crdt::hlc>({{1, rc::gen::just(crdt::hlc{})}, {4, gen_stamp()}});
}

// Short strings with JSON escapes and multi-byte UTF-8.
inline rc::Gen<std::string> gen_text() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::string>>(
          rc::gen::element<std::string>("a", "b", "Z", " ", "\"", "\\", "\n", "é", "☃", "😀", "/", "0")),
      [](const std::vector<std::string>& parts) {
        std::string out;
        for (const auto& p : parts) out += p;
        return out;
      });
}

inline rc::Gen<nlohmann::json> gen_json(int depth) {
  using nlohmann::json;
  auto scalar = rc::gen::oneOf(
      rc::gen::just(json(nullptr)), rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json(b); }),
      rc::gen::map(rc::gen::inRange<std::int64_t>(-5, 6), [](std::int64_t v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<std::int64_t>(), [](std::int64_t v) { return json(v); }),
      rc::gen::map(rc::gen::inRange(-400, 400), [](int v) { return json(v / 8.0); }),
      rc::gen::map(gen_text(), [](const std::string& s) { return json(s); }));
  if (depth <= 0) return scalar;
  auto inner = gen_json(depth - 1);
  auto array = rc::gen::map(rc::gen::container<std::vector<json>>(inner), [](std::vector<json> items) {
    json out = json::array();
    for (auto& item : items) out.push_back(std::move(item));
    return out;
  });
  auto object = rc::gen::map(
      rc::gen::container<std::vector<std::pair<std::string, json>>>(
          rc::gen::pair(rc::gen::elementOf(field_pool()), inner)),
      [](std::vector<std::pair<std::string, json>> members) {
        json out = json::object();
        for (auto& [k, v] : members) out[k] = std::move(v);
        return out;
      });
  return rc::gen::weightedOneOf<json>({{3, scalar}, {1, array}, {1, object}});
}

// A present value as the store holds it: compact JSON text, never empty.
inline rc::Gen<std::string> gen_value() {
  return rc::gen::map(rc::gen::resize(6, gen_json(2)), [](const nlohmann::json& j) { return j.dump(); });
}

// A value or "absent" (the empty text).
inline rc::Gen<std::string> gen_value_or_absent() {
  return rc::gen::weightedOneOf<std::string>({{1, rc::gen::just(std::string{})}, {3, gen_value()}});
}

inline rc::Gen<crdt::field_entry> gen_entry() {
  return rc::gen::apply(
      [](crdt::hlc stamp, const std::string& name, std::string value) {
        return crdt::field_entry{stamp, field(name), std::move(value)};
      },
      gen_stamp(), rc::gen::elementOf(field_pool()), gen_value_or_absent());
}

// Entries with repeated names and entries dominated by `deleted` are allowed:
// the constructor must canonicalise them.
inline rc::Gen<std::vector<crdt::field_entry>> gen_entries() {
  return rc::gen::resize(12, rc::gen::container<std::vector<crdt::field_entry>>(gen_entry()));
}

inline rc::Gen<crdt::record> gen_record() {
  return rc::gen::apply(
      [](crdt::hlc created, crdt::hlc deleted, std::vector<crdt::field_entry> fields) {
        return crdt::record(created, deleted, std::move(fields));
      },
      gen_stamp_or_bottom(), gen_stamp_or_bottom(), gen_entries());
}

// Field writes as a PUT or PATCH body carries them (`absent_allowed`: PATCH
// with null-removals).
inline rc::Gen<std::vector<crdt::field_write>> gen_writes(bool absent_allowed) {
  auto value = absent_allowed ? gen_value_or_absent() : gen_value();
  return rc::gen::map(
      rc::gen::resize(6, rc::gen::container<std::vector<std::pair<std::string, std::string>>>(
                             rc::gen::pair(rc::gen::elementOf(field_pool()), value))),
      [](const std::vector<std::pair<std::string, std::string>>& pairs) {
        // A JSON body has unique member names: keep the first of each.
        std::vector<crdt::field_write> out;
        for (const auto& [name, v] : pairs) {
          bool seen = false;
          for (const auto& w : out) seen = seen || w.name == name;
          if (!seen) out.push_back({name, v});
        }
        return out;
      });
}

// A field's value text ("" when absent), or "<no entry>": safe to compare
// in a CHECK even when the entry is missing.
inline std::string value_of(const crdt::record& r, std::string_view name) {
  const auto* e = r.find(name);
  return e ? e->value.str() : std::string("<no entry>");
}

// The visible view of a record: name -> value of the present, live fields.
inline std::map<std::string, std::string> visible(const crdt::record& r) {
  std::map<std::string, std::string> out;
  for (const auto& e : r.fields())
    if (!e.absent() && r.deleted() < e.stamp) out.emplace(e.name_text(), e.value);
  return out;
}

}  // namespace horao::test
