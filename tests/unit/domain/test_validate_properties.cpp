// Properties of validate() over random mutations of good bodies: it never
// throws, a refusal points at a place in the body, and what it accepts is
// serialisable and validates to itself.

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "horao/domain/schema.hpp"
#include "horao/domain/validate.hpp"

using namespace horao::domain;
using nlohmann::json;

namespace {

struct live_set final : reference_lookup {
  std::set<std::string, std::less<>> keys{"datacenter/dc1", "cabinet/cab1",  "chassis/ch1", "blade/b1",
                                          "node/n1",        "server/s1",     "disk/d1",     "network/net1",
                                          "tenant/t1",      "reservation/r1"};
  bool alive(std::string_view key) const override { return keys.contains(key); }
};

const std::vector<std::pair<std::string, json>>& bases() {
  static const std::vector<std::pair<std::string, json>> b = {
      {"datacenter", json::parse(R"({"name": "a", "number": 1})")},
      {"cabinet", json::parse(R"({"datacenter": "dc1", "row": 1, "position": 1})")},
      {"chassis", json::parse(R"({"cabinet": "cab1", "position": 1})")},
      {"blade", json::parse(R"({"chassis": "ch1", "position": 1})")},
      {"node",
       json::parse(
           R"({"blade": "b1", "cpus": [{"cores": 2}], "ram": [{"size_gb": 4}], "networks": ["net1"]})")},
      {"server", json::parse(R"({"cabinet": "cab1", "accelerators": [{"model": "x"}]})")},
      {"switch", json::parse(R"({"cabinet": "cab1", "ports": [{"name": "p"}], "layer": 2})")},
      {"router", json::parse(R"({"cabinet": "cab1"})")},
      {"firewall", json::parse(R"({"cabinet": "cab1"})")},
      {"disk", json::parse(R"({"machine": "server/s1", "capacity_tb": 1})")},
      {"network", json::parse(R"({"datacenter": "dc1", "network_type": "data"})")},
      {"vm", json::parse(R"({"host": "node/n1", "cpu": 1, "ram_gb": 1, "tenant": "t1"})")},
      {"tenant", json::parse(R"({"owner": "o", "delegates": ["d"], "constraints": {"cpu": 1}})")},
      {"reservation",
       json::parse(R"({"tenant": "t1", "start": "2026-12-01T08:00:00Z", "end": "2026-12-02T08:00:00Z",
                       "resources": [{"type": "compute", "cpu": 1, "ram_gb": 1},
                                     {"type": "storage", "capacity_tb": 1}]})")},
      {"maintenance", json::parse(R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-02T08:00:00Z",
                                       "reason": "r", "targets": ["server/s1"]})")},
  };
  return b;
}

// Names worth writing: the schemas' own, nested ones and a typo.
const std::vector<std::string>& names() {
  static const std::vector<std::string> n = [] {
    std::set<std::string> all{"cores", "size_gb", "type", "cpu", "capacity_tb", "amount", "speed_gbps",
                              "name",  "corez",   "a/b~", ""};
    for (const auto& k : all_kinds())
      for (const auto& f : schema_of(k).fields()) all.insert(f.name);
    return std::vector<std::string>(all.begin(), all.end());
  }();
  return n;
}

rc::Gen<json> gen_leaf() {
  return rc::gen::oneOf(
      rc::gen::just(json()), rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json(b); }),
      rc::gen::map(rc::gen::arbitrary<std::int64_t>(), [](std::int64_t n) { return json(n); }),
      rc::gen::map(rc::gen::arbitrary<std::uint64_t>(), [](std::uint64_t n) { return json(n); }),
      rc::gen::map(rc::gen::arbitrary<double>(), [](double d) { return json(d); }),
      rc::gen::map(rc::gen::inRange<int>(-2, 5), [](int n) { return json(n); }),
      rc::gen::map(rc::gen::element<std::string>("", "dc1", "cab1", "server/s1", "node/n1", "switch/sw1",
                                                 "server/zz", "up", "down", "compute", "storage", "block",
                                                 "2026-12-01T08:00:00Z", "2026-11-30T08:00:00+05:00", "x/y"),
                   [](std::string s) { return json(s); }),
      rc::gen::map(rc::gen::arbitrary<std::string>(), [](std::string s) { return json(s); }));
}

rc::Gen<json> gen_value(int depth) {
  if (depth == 0) return gen_leaf();
  const auto inner = gen_value(depth - 1);
  return rc::gen::oneOf(gen_leaf(),
                        rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, 4),
                                        [inner](std::size_t n) {
                                          return rc::gen::map(
                                              rc::gen::container<std::vector<json>>(n, inner),
                                              [](std::vector<json> items) { return json(items); });
                                        }),
                        rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, 4), [inner](std::size_t n) {
                          return rc::gen::map(rc::gen::container<std::vector<std::pair<std::string, json>>>(
                                                  n, rc::gen::pair(rc::gen::elementOf(names()), inner)),
                                              [](std::vector<std::pair<std::string, json>> members) {
                                                json o = json::object();
                                                for (auto& [k, v] : members) o[k] = std::move(v);
                                                return o;
                                              });
                        }));
}

// A value drawn from a field's own schema (inside a property): well typed
// most of the time, at or just past the edges sometimes, so that acceptance
// is exercised too.
json draw_from(const value_spec& v) {
  auto one_of = [](std::vector<std::string> s) { return json(*rc::gen::elementOf(s)); };
  switch (v.kind) {
    case value_kind::string:
      return one_of({"", "x", "EPYC 9554", "caf\u00e9"});
    case value_kind::integer:
      return *rc::gen::oneOf(rc::gen::inRange<std::int64_t>(-1, 6), rc::gen::just(v.int_min),
                             rc::gen::just(v.int_max));
    case value_kind::number:
      return *rc::gen::element(0.0, 0.5, 1.0, 2.5, -1.0, 1e300);
    case value_kind::boolean:
      return *rc::gen::arbitrary<bool>();
    case value_kind::enumeration: {
      auto choices = v.choices;
      choices.push_back("bogus");
      return one_of(choices);
    }
    case value_kind::time:
      return one_of({"2026-12-01T08:00:00Z", "2026-12-01T09:00:00+01:00", "2026-12-03T00:00:00.5Z", "noon"});
    case value_kind::id_ref:
      return one_of({"dc1", "cab1", "ch1", "b1", "net1", "t1", "r1", "zz", "bad id"});
    case value_kind::key_ref:
      return one_of(
          {"server/s1", "node/n1", "disk/d1", "cabinet/cab1", "datacenter/dc1", "vm/v1", "server/zz"});
    case value_kind::array: {
      json items = json::array();
      const int n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) items.push_back(draw_from(*v.items));
      return items;
    }
    case value_kind::object:
    case value_kind::tagged: {
      const std::vector<field_spec>* members = &v.members;
      if (v.kind == value_kind::tagged)
        members = &v.variants[*rc::gen::inRange<std::size_t>(0, v.variants.size())].members;
      json o = json::object();
      for (const auto& f : *members)
        if (*rc::gen::inRange(0, 5) != 0) o[f.name] = draw_from(f.value);  // mostly present
      return o;
    }
  }
  return *gen_leaf();
}

}  // namespace

TEST_CASE("validate over random mutations of good bodies") {
  const live_set world;
  rc::prop("never throws; refusals point into the body; acceptance is a fixed point", [&] {
    const auto& [kind_name, base] = *rc::gen::elementOf(bases());
    const kind_info* kind = find_kind(kind_name);
    RC_ASSERT(kind != nullptr);
    json body = base;
    const int mutations = *rc::gen::inRange(1, 4);
    for (int i = 0; i < mutations; ++i) {
      if (*rc::gen::arbitrary<bool>()) {  // a field of the kind, from its schema, or removed
        const auto fields = schema_of(*kind).fields();
        const field_spec& f = *rc::gen::elementOf(std::vector<field_spec>(fields.begin(), fields.end()));
        if (*rc::gen::inRange(0, 4) == 0)
          body.erase(f.name);
        else
          body[f.name] = draw_from(f.value);
        continue;
      }
      const std::string name = *rc::gen::elementOf(names());
      json value = *gen_value(2);
      // Sometimes one level down: inside the first item of an array member.
      std::vector<std::string> arrays;
      for (const auto& [k, v] : body.items())
        if (v.is_array() && !v.empty() && v[0].is_object()) arrays.push_back(k);
      if (!arrays.empty() && *rc::gen::arbitrary<bool>())
        body[*rc::gen::elementOf(arrays)][0][name] = std::move(value);
      else
        body[name] = std::move(value);
    }

    const auto result = validate(*kind, "x1", body, world);
    RC_CLASSIFY(std::holds_alternative<json>(result), "accepted");

    // The hot path reads the body's text into a tape: same answer, and the
    // fields' texts are exactly nlohmann's dump of the normalised values.
    std::string text;
    try {
      text = body.dump();
    } catch (const json::type_error&) {
      text.clear();  // invalid UTF-8: text cannot carry this body, only a tree can
    }
    if (!text.empty()) {
      const auto parsed = horao::crdt::json_tape::parse(text, 64);
      RC_ASSERT(std::holds_alternative<horao::crdt::json_tape>(parsed));
      const auto from_text = validate(*kind, "x1", std::get<horao::crdt::json_tape>(parsed),
                                      horao::crdt::json_tape::root, world);
      if (const auto* v = std::get_if<violation>(&result)) {
        RC_ASSERT(std::holds_alternative<violation>(from_text));
        const auto& w = std::get<violation>(from_text);
        RC_ASSERT(std::tie(v->status, v->code, v->message, v->field) ==
                  std::tie(w.status, w.code, w.message, w.field));
      } else {
        RC_ASSERT(std::holds_alternative<normalised_body>(from_text));
        const auto& fields = std::get<normalised_body>(from_text);
        const json& out = std::get<json>(result);
        RC_ASSERT(fields.fields.size() == out.size());
        for (const auto& f : fields.fields) RC_ASSERT(fields.value(f) == out.at(std::string(f.name)).dump());
      }
    }
    if (const auto* v = std::get_if<violation>(&result)) {
      RC_ASSERT(v->status == 422);
      RC_ASSERT(v->code == "validation_failed");
      RC_ASSERT(v->message != "the body could not be validated");
      // The pointer is well formed and its parent exists in the body.
      const json::json_pointer at(v->field);
      RC_ASSERT(body.contains(at.parent_pointer()));
      RC_ASSERT((body.contains(at) || v->message.find("is required") != std::string::npos));
      // The error body serialises (no invalid UTF-8 echoed back).
      json{{"message", v->message}, {"field", v->field}}.dump();
    } else {
      const json& out = std::get<json>(result);
      out.dump();  // throws on invalid UTF-8
      const auto again = validate(*kind, "x1", out, world);
      RC_ASSERT(std::holds_alternative<json>(again));
      RC_ASSERT(std::get<json>(again) == out);
    }
  });
}
