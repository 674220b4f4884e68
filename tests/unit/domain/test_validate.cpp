// validate(): a table of good shapes (with their normalised form) and bad
// forms (with status, code and field pointer) across all kinds.

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "horao/domain/schema.hpp"
#include "horao/domain/validate.hpp"

using namespace horao::domain;
using nlohmann::json;

namespace {

struct live_set final : reference_lookup {
  std::set<std::string, std::less<>> keys;
  bool alive(std::string_view key) const override { return keys.contains(key); }
};

const live_set& world() {
  static const live_set w = [] {
    live_set s;
    s.keys = {"datacenter/dc1", "cabinet/cab1", "chassis/ch1",  "blade/b1",  "node/n1",       "server/s1",
              "switch/sw1",     "disk/d1",      "network/net1", "tenant/t1", "reservation/r1"};
    return s;
  }();
  return w;
}

// Validates `body` as a tree and, when text can carry it, from its text read
// into a tape (PUT's path): both must give the same answer.
validation_result run(std::string_view kind, const json& body, std::string_view id = "x1") {
  const kind_info* k = find_kind(kind);
  REQUIRE(k);
  auto from_tree = validate(*k, id, body, world());
  std::string text;
  try {
    text = body.dump();
  } catch (const json::type_error&) {
    return from_tree;  // invalid UTF-8: only a tree can hold it
  }
  if (json::parse(text) != body) return from_tree;  // NaN or infinity: text writes null
  const auto tape = horao::crdt::json_tape::parse(text, 64);
  REQUIRE(std::holds_alternative<horao::crdt::json_tape>(tape));
  const auto from_text =
      validate(*k, id, std::get<horao::crdt::json_tape>(tape), horao::crdt::json_tape::root, world());
  if (const auto* v = std::get_if<violation>(&from_tree)) {
    REQUIRE(std::holds_alternative<violation>(from_text));
    const auto& w = std::get<violation>(from_text);
    CHECK(w.status == v->status);
    CHECK(w.code == v->code);
    CHECK(w.message == v->message);
    CHECK(w.field == v->field);
  } else {
    REQUIRE(std::holds_alternative<normalised_body>(from_text));
    const auto& fields = std::get<normalised_body>(from_text);
    CHECK(fields.to_json() == std::get<json>(from_tree));
    for (const auto& f : fields.fields)
      CHECK(fields.value(f) == std::get<json>(from_tree).at(std::string(f.name)).dump());
  }
  return from_tree;
}

struct accepted_case {
  const char* kind;
  const char* body;
  const char* normalised;
};

// Each good shape and what is stored for it: defaults filled in, read-only
// fields and nulls dropped, times in UTC.
const accepted_case accepted_cases[] = {
    {"datacenter", R"({"name": "AMS-1", "number": 0})", R"({"name": "AMS-1", "number": 0})"},
    {"datacenter", R"({"name": "AMS-1", "number": 9223372036854775807, "location": ""})",
     R"({"name": "AMS-1", "number": 9223372036854775807, "location": ""})"},
    {"cabinet", R"({"datacenter": "dc1", "row": 1, "position": 3, "serial_number": "SN1", "model": "R42"})",
     R"({"datacenter": "dc1", "row": 1, "position": 3, "serial_number": "SN1", "model": "R42"})"},
    {"chassis", R"({"cabinet": "cab1", "position": 1})", R"({"cabinet": "cab1", "position": 1})"},
    {"blade", R"({"chassis": "ch1", "position": 2})", R"({"chassis": "ch1", "position": 2, "status": "up"})"},
    {"node",
     R"({"blade": "b1", "cpus": [{"cores": 64, "model": "EPYC 9554", "clock_ghz": 3.1}, {"cores": 8}],
         "ram": [{"size_gb": 512}], "accelerators": [{"model": "H100"}], "networks": ["net1"]})",
     R"({"blade": "b1", "cpus": [{"cores": 64, "model": "EPYC 9554", "clock_ghz": 3.1}, {"cores": 8}],
         "ram": [{"size_gb": 512}], "accelerators": [{"model": "H100"}], "networks": ["net1"], "status": "up"})"},
    {"server", R"({"cabinet": "cab1"})", R"({"cabinet": "cab1", "status": "up"})"},
    {"server", R"({"cabinet": "cab1", "status": "down", "model": null, "cpus": []})",
     R"({"cabinet": "cab1", "status": "down", "cpus": []})"},
    {"switch",
     R"({"cabinet": "cab1", "switch_type": "core", "layer": 3, "ports": [{"name": "eth0", "speed_gbps": 100}],
         "status": "down"})",
     R"({"cabinet": "cab1", "switch_type": "core", "layer": 3,
         "ports": [{"name": "eth0", "speed_gbps": 100, "status": "up"}], "status": "down"})"},
    {"router", R"({"cabinet": "cab1", "router_type": "edge", "serial_number": "R-1"})",
     R"({"cabinet": "cab1", "router_type": "edge", "serial_number": "R-1", "status": "up"})"},
    {"firewall", R"({"cabinet": "cab1", "ports": [{"name": "wan", "status": "down"}]})",
     R"({"cabinet": "cab1", "ports": [{"name": "wan", "status": "down"}], "status": "up"})"},
    {"disk", R"({"machine": "server/s1", "capacity_tb": 1.92})",
     R"({"machine": "server/s1", "capacity_tb": 1.92, "storage_type": "block", "status": "up"})"},
    {"disk", R"({"machine": "node/n1", "capacity_tb": 4, "storage_type": "object", "status": "down"})",
     R"({"machine": "node/n1", "capacity_tb": 4, "storage_type": "object", "status": "down"})"},
    {"network", R"({"datacenter": "dc1", "network_type": "data", "topology": "dragonfly"})",
     R"({"datacenter": "dc1", "network_type": "data", "topology": "dragonfly", "hsn": false})"},
    {"network", R"({"datacenter": "dc1", "network_type": "management", "hsn": true})",
     R"({"datacenter": "dc1", "network_type": "management", "hsn": true})"},
    {"vm", R"({"host": "node/n1", "cpu": 2, "ram_gb": 4})",
     R"({"host": "node/n1", "cpu": 2, "ram_gb": 4, "status": "running"})"},
    {"vm",
     R"({"host": "server/s1", "cpu": 2, "ram_gb": 4, "name": "web", "tenant": "t1", "reservation": "r1",
         "image": "debian-12", "status": "stopped"})",
     R"({"host": "server/s1", "cpu": 2, "ram_gb": 4, "name": "web", "tenant": "t1", "reservation": "r1",
         "image": "debian-12", "status": "stopped"})"},
    {"tenant", R"({"owner": "alice"})", R"({"owner": "alice"})"},
    {"tenant", R"({"owner": "alice", "delegates": ["bob"], "constraints": {"cpu": 128, "block_tb": 10.5}})",
     R"({"owner": "alice", "delegates": ["bob"], "constraints": {"cpu": 128, "block_tb": 10.5}})"},
    {"reservation", R"({"tenant": "t1", "resources": [{"type": "compute", "cpu": 4, "ram_gb": 16}]})",
     R"({"tenant": "t1", "hsn_only": false,
         "resources": [{"type": "compute", "cpu": 4, "ram_gb": 16, "accelerator": false, "amount": 1}]})"},
    // A client echoing a GET back: status and conflict are computed, dropped.
    {"reservation",
     R"({"tenant": "t1", "start": "2026-12-01T09:00:00+01:00", "end": "2026-12-02T08:00:00.5Z",
         "resources": [{"type": "storage", "capacity_tb": 2, "storage_class": "hot"}],
         "maximal_resources": [{"type": "compute", "cpu": 1, "ram_gb": 0, "accelerator": true, "amount": 3}],
         "hsn_only": true, "status": "conflicted", "conflict": "cpu short by 4"})",
     R"({"tenant": "t1", "start": "2026-12-01T08:00:00Z", "end": "2026-12-02T08:00:00.500000Z",
         "resources": [{"type": "storage", "capacity_tb": 2, "storage_type": "block", "storage_class": "hot"}],
         "maximal_resources": [{"type": "compute", "cpu": 1, "ram_gb": 0, "accelerator": true, "amount": 3}],
         "hsn_only": true})"},
    {"reservation", R"({"tenant": "t1", "end": "2026-12-01T08:00:00Z",
                        "resources": [{"type": "storage", "capacity_tb": 0.5, "storage_type": "object"}]})",
     R"({"tenant": "t1", "end": "2026-12-01T08:00:00Z", "hsn_only": false,
         "resources": [{"type": "storage", "capacity_tb": 0.5, "storage_type": "object"}]})"},
    {"maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "firmware",
         "targets": ["cabinet/cab1", "server/s1", "disk/d1", "datacenter/dc1", "chassis/ch1", "blade/b1",
                     "node/n1"]})",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "firmware",
         "targets": ["cabinet/cab1", "server/s1", "disk/d1", "datacenter/dc1", "chassis/ch1", "blade/b1",
                     "node/n1"]})"},
};

struct refused_case {
  const char* what;
  const char* kind;
  const char* body;
  const char* field;
  int status = 422;
  const char* code = "validation_failed";
};

const refused_case refused_cases[] = {
    // body and id
    {"body not an object", "datacenter", R"([{"name": "a"}])", "", 400, "bad_json"},
    {"body a string", "server", R"("cab1")", "", 400, "bad_json"},
    // datacenter: required, types, ranges, numbers
    {"missing required", "datacenter", R"({"number": 1})", "/name"},
    {"required string empty", "datacenter", R"({"name": "", "number": 1})", "/name"},
    {"int below range", "datacenter", R"({"name": "a", "number": -1})", "/number"},
    {"float for int", "datacenter", R"({"name": "a", "number": 2.5})", "/number"},
    {"float 2.0 for int", "datacenter", R"({"name": "a", "number": 2.0})", "/number"},
    {"1e300 for int", "datacenter", R"({"name": "a", "number": 1e300})", "/number"},
    {"uint64 beyond int64", "datacenter", R"({"name": "a", "number": 9223372036854775808})", "/number"},
    {"huge integer literal", "datacenter", R"({"name": "a", "number": 123456789012345678901234567890})",
     "/number"},
    {"string for int", "datacenter", R"({"name": "a", "number": "3"})", "/number"},
    {"bool for int", "datacenter", R"({"name": "a", "number": true})", "/number"},
    {"number for string", "datacenter", R"({"name": 7, "number": 1})", "/name"},
    {"unknown top-level field", "datacenter", R"({"name": "a", "number": 1, "nmae": "b"})", "/nmae"},
    {"unknown field with / and ~", "datacenter", R"({"name": "a", "number": 1, "a/b~c": 1})", "/a~1b~0c"},
    {"null for required", "datacenter", R"({"name": null, "number": 1})", "/name"},
    // cabinet, chassis, blade
    {"row 0", "cabinet", R"({"datacenter": "dc1", "row": 0, "position": 1})", "/row"},
    {"missing parent", "cabinet", R"({"row": 1, "position": 1})", "/datacenter"},
    {"bad id in reference", "cabinet", R"({"datacenter": "dc 1", "row": 1, "position": 1})", "/datacenter"},
    {"id too long in reference", "cabinet",
     R"({"datacenter": "d123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789", "row": 1, "position": 1})",
     "/datacenter"},
    {"reference to absent parent", "cabinet", R"({"datacenter": "gone", "row": 1, "position": 1})",
     "/datacenter"},
    {"shape checked before references", "cabinet", R"({"datacenter": "gone", "row": 0, "position": 1})",
     "/row"},
    {"cabinets have no status", "cabinet",
     R"({"datacenter": "dc1", "row": 1, "position": 1, "status": "up"})", "/status"},
    {"position 0", "chassis", R"({"cabinet": "cab1", "position": 0})", "/position"},
    {"enum is exact", "blade", R"({"chassis": "ch1", "position": 1, "status": "UP"})", "/status"},
    // machines
    {"node without blade", "node", R"({"cpus": []})", "/blade"},
    {"cpu cores 0", "node", R"({"blade": "b1", "cpus": [{"cores": 1}, {"cores": 0}]})", "/cpus/1/cores"},
    {"unknown nested field", "node", R"({"blade": "b1", "cpus": [{"cores": 1, "corez": 2}]})",
     "/cpus/0/corez"},
    {"cpus not an array", "server", R"({"cabinet": "cab1", "cpus": {"cores": 1}})", "/cpus"},
    {"cpus item not an object", "server", R"({"cabinet": "cab1", "cpus": [4]})", "/cpus/0"},
    {"negative clock", "server", R"({"cabinet": "cab1", "cpus": [{"cores": 1, "clock_ghz": -1}]})",
     "/cpus/0/clock_ghz"},
    {"float ram size", "server", R"({"cabinet": "cab1", "ram": [{"size_gb": 1.5}]})", "/ram/0/size_gb"},
    {"accelerator without model", "node", R"({"blade": "b1", "accelerators": [{}]})",
     "/accelerators/0/model"},
    {"network item not an id", "node", R"({"blade": "b1", "networks": [5]})", "/networks/0"},
    {"network item absent", "node", R"({"blade": "b1", "networks": ["net1", "net9"]})", "/networks/1"},
    {"server in dead cabinet", "server", R"({"cabinet": "cab-gone"})", "/cabinet"},
    {"status bool", "server", R"({"cabinet": "cab1", "status": true})", "/status"},
    // network devices
    {"layer 4", "switch", R"({"cabinet": "cab1", "layer": 4})", "/layer"},
    {"layer 1", "switch", R"({"cabinet": "cab1", "layer": 1})", "/layer"},
    {"bad switch type", "switch", R"({"cabinet": "cab1", "switch_type": "edge"})", "/switch_type"},
    {"port without name", "switch", R"({"cabinet": "cab1", "ports": [{"speed_gbps": 10}]})", "/ports/0/name"},
    {"port bad status", "switch", R"({"cabinet": "cab1", "ports": [{"name": "p", "status": "sideways"}]})",
     "/ports/0/status"},
    {"port speed string", "firewall", R"({"cabinet": "cab1", "ports": [{"name": "p", "speed_gbps": "10"}]})",
     "/ports/0/speed_gbps"},
    {"bad router type", "router", R"({"cabinet": "cab1", "router_type": "access"})", "/router_type"},
    // disks
    {"machine key of the wrong kind", "disk", R"({"machine": "switch/sw1", "capacity_tb": 1})", "/machine"},
    {"machine without kind", "disk", R"({"machine": "s1", "capacity_tb": 1})", "/machine"},
    {"machine absent", "disk", R"({"machine": "server/s9", "capacity_tb": 1})", "/machine"},
    {"capacity 0", "disk", R"({"machine": "server/s1", "capacity_tb": 0})", "/capacity_tb"},
    {"capacity negative", "disk", R"({"machine": "server/s1", "capacity_tb": -3.5})", "/capacity_tb"},
    {"capacity missing", "disk", R"({"machine": "server/s1"})", "/capacity_tb"},
    {"bad storage type", "disk", R"({"machine": "server/s1", "capacity_tb": 1, "storage_type": "file"})",
     "/storage_type"},
    // networks
    {"hsn not a bool", "network", R"({"datacenter": "dc1", "network_type": "data", "hsn": "yes"})", "/hsn"},
    {"missing network type", "network", R"({"datacenter": "dc1"})", "/network_type"},
    {"bad network type", "network", R"({"datacenter": "dc1", "network_type": "storage"})", "/network_type"},
    // vms
    {"host of the wrong kind", "vm", R"({"host": "disk/d1", "cpu": 1, "ram_gb": 1})", "/host"},
    {"ram 0", "vm", R"({"host": "node/n1", "cpu": 1, "ram_gb": 0})", "/ram_gb"},
    {"absent tenant", "vm", R"({"host": "node/n1", "cpu": 1, "ram_gb": 1, "tenant": "t9"})", "/tenant"},
    {"reservation with slash", "vm", R"({"host": "node/n1", "cpu": 1, "ram_gb": 1, "reservation": "r/1"})",
     "/reservation"},
    {"bad vm status", "vm", R"({"host": "node/n1", "cpu": 1, "ram_gb": 1, "status": "paused"})", "/status"},
    // tenants
    {"owner missing", "tenant", R"({"delegates": []})", "/owner"},
    {"owner not a string", "tenant", R"({"owner": 5})", "/owner"},
    {"empty delegate", "tenant", R"({"owner": "a", "delegates": ["b", ""]})", "/delegates/1"},
    {"constraints not an object", "tenant", R"({"owner": "a", "constraints": "x"})", "/constraints"},
    {"unknown constraint", "tenant", R"({"owner": "a", "constraints": {"gpus": 1}})", "/constraints/gpus"},
    {"negative constraint", "tenant", R"({"owner": "a", "constraints": {"cpu": -1}})", "/constraints/cpu"},
    {"float for int constraint", "tenant", R"({"owner": "a", "constraints": {"accelerators": 1.5}})",
     "/constraints/accelerators"},
    // reservations
    {"no resources", "reservation", R"({"tenant": "t1", "resources": []})", "/resources"},
    {"missing tenant", "reservation", R"({"resources": [{"type": "storage", "capacity_tb": 1}]})", "/tenant"},
    {"absent tenant", "reservation",
     R"({"tenant": "t9", "resources": [{"type": "storage", "capacity_tb": 1}]})", "/tenant"},
    {"bad resource type", "reservation", R"({"tenant": "t1", "resources": [{"type": "gpu"}]})",
     "/resources/0/type"},
    {"resource without type", "reservation", R"({"tenant": "t1", "resources": [{"cpu": 1}]})",
     "/resources/0/type"},
    {"storage field on compute item", "reservation",
     R"({"tenant": "t1", "resources": [{"type": "compute", "cpu": 1, "ram_gb": 1, "capacity_tb": 1}]})",
     "/resources/0/capacity_tb"},
    {"storage capacity 0", "reservation",
     R"({"tenant": "t1", "resources": [{"type": "storage", "capacity_tb": 0}]})", "/resources/0/capacity_tb"},
    {"bad storage class", "reservation",
     R"({"tenant": "t1", "resources": [{"type": "storage", "capacity_tb": 1},
                                       {"type": "storage", "capacity_tb": 1, "storage_class": "tepid"}]})",
     "/resources/1/storage_class"},
    {"amount 0", "reservation",
     R"({"tenant": "t1", "resources": [{"type": "compute", "cpu": 1, "ram_gb": 1, "amount": 0}]})",
     "/resources/0/amount"},
    {"start not a time", "reservation",
     R"({"tenant": "t1", "start": "tomorrow", "resources": [{"type": "storage", "capacity_tb": 1}]})",
     "/start"},
    {"end equal to start", "reservation",
     R"({"tenant": "t1", "start": "2026-12-01T08:00:00Z", "end": "2026-12-01T09:00:00+01:00",
         "resources": [{"type": "storage", "capacity_tb": 1}]})",
     "/end"},
    {"end before start", "reservation",
     R"({"tenant": "t1", "start": "2026-12-02T08:00:00Z", "end": "2026-12-01T08:00:00Z",
         "resources": [{"type": "storage", "capacity_tb": 1}]})",
     "/end"},
    {"bad maximal resource", "reservation",
     R"({"tenant": "t1", "resources": [{"type": "storage", "capacity_tb": 1}],
         "maximal_resources": [{"type": "compute", "cpu": 0, "ram_gb": 1}]})",
     "/maximal_resources/0/cpu"},
    {"hsn_only not a bool", "reservation",
     R"({"tenant": "t1", "hsn_only": 1, "resources": [{"type": "storage", "capacity_tb": 1}]})", "/hsn_only"},
    // maintenances
    {"missing end", "maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "reason": "r", "targets": ["server/s1"]})", "/end"},
    {"end before start", "maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T07:59:59Z", "reason": "r", "targets": ["server/s1"]})",
     "/end"},
    {"invalid month", "maintenance",
     R"({"start": "2026-13-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "r", "targets": ["server/s1"]})",
     "/start"},
    {"time without zone", "maintenance",
     R"({"start": "2026-12-01T08:00:00", "end": "2026-12-01T10:00:00Z", "reason": "r", "targets": ["server/s1"]})",
     "/start"},
    {"no targets", "maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "r", "targets": []})",
     "/targets"},
    {"target of a kind maintenance cannot take", "maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "r",
         "targets": ["server/s1", "tenant/t1"]})",
     "/targets/1"},
    {"absent target", "maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "r",
         "targets": ["server/s1", "server/s2"]})",
     "/targets/1"},
    {"empty reason", "maintenance",
     R"({"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "", "targets": ["server/s1"]})",
     "/reason"},
};

}  // namespace

TEST_CASE("validate accepts every good shape and normalises it") {
  for (const auto& c : accepted_cases) {
    INFO(c.kind << " " << c.body);
    const auto result = run(c.kind, json::parse(c.body));
    if (const auto* v = std::get_if<violation>(&result))
      FAIL("refused: " << v->message << " at " << v->field);
    const json& out = std::get<json>(result);
    CHECK(out == json::parse(c.normalised));
    // Normalising is idempotent: what is stored validates to itself.
    const auto again = run(c.kind, out);
    REQUIRE(std::holds_alternative<json>(again));
    CHECK(std::get<json>(again) == out);
  }
}

TEST_CASE("validate refuses every bad form with status, code and pointer") {
  for (const auto& c : refused_cases) {
    INFO(c.what << ": " << c.kind << " " << c.body);
    const auto result = run(c.kind, json::parse(c.body));
    const auto* v = std::get_if<violation>(&result);
    REQUIRE(v);
    CHECK(v->status == c.status);
    CHECK(v->code == c.code);
    CHECK(v->field == c.field);
    CHECK_FALSE(v->message.empty());
  }
}

TEST_CASE("the table covers every kind") {
  std::set<std::string> accepted, refused;
  for (const auto& c : accepted_cases) accepted.insert(c.kind);
  for (const auto& c : refused_cases) refused.insert(c.kind);
  for (const auto& k : all_kinds()) {
    INFO(k.kind);
    CHECK(accepted.contains(std::string(k.kind)));
    CHECK(refused.contains(std::string(k.kind)));
  }
  CHECK(std::size(accepted_cases) + std::size(refused_cases) >= 60);
}

TEST_CASE("messages name the field and the accepted form") {
  auto message = [](std::string_view kind, const char* body) {
    const auto result = run(kind, json::parse(body));
    REQUIRE(std::holds_alternative<violation>(result));
    return std::get<violation>(result).message;
  };
  // The example of API.md "Errors", word for word.
  CHECK(message("server", R"({"cabinet": "cab1", "cpus": [{"cores": 1}, {"cores": 0}]})") ==
        "cpus[1].cores must be an integer >= 1");
  CHECK(message("switch", R"({"cabinet": "cab1", "layer": 7})") ==
        "layer must be an integer between 2 and 3");
  CHECK(message("disk", R"({"machine": "server/s1", "capacity_tb": 0})") ==
        "capacity_tb must be a number > 0");
  CHECK(message("disk", R"({"machine": "switch/sw1", "capacity_tb": 1})") ==
        "machine must be a key server/ID or node/ID");
  CHECK(message("blade", R"({"chassis": "ch1", "position": 1, "status": "UP"})") ==
        "status must be one of up, down");
  CHECK(message("server", R"({"cabinet": "gone"})") ==
        "cabinet names cabinet/gone, which is not a live cabinet");
  CHECK(
      message("cabinet", R"({"row": 1, "position": 1})").starts_with("datacenter is required: the id of a"));
  CHECK(message("reservation",
                R"({"tenant": "t1", "start": "2026-12-02T08:00:00Z", "end": "2026-12-01T08:00:00Z",
                                   "resources": [{"type": "storage", "capacity_tb": 1}]})") ==
        "end must be after start");
  CHECK(message("network", R"({"datacenter": "dc1", "network_type": "data", "hsn": 0})") ==
        "hsn must be true or false");
  const std::string unknown = message("node", R"({"blade": "b1", "cpus": [{"corez": 2}]})");
  CHECK(unknown.starts_with("unknown field cpus[0].corez"));
  CHECK(unknown.find("cores, model, clock_ghz") != std::string::npos);
  CHECK(message("reservation", R"({"tenant": "t1", "resources": [{"type": "gpu"}]})") ==
        "resources[0].type must be one of compute, storage");
}

TEST_CASE("strings and arrays are bounded") {
  const std::string at_limit(max_string_bytes, 'x');
  CHECK(std::holds_alternative<json>(run("datacenter", {{"name", at_limit}, {"number", 1}})));
  const auto too_long = run("datacenter", {{"name", at_limit + "x"}, {"number", 1}});
  REQUIRE(std::holds_alternative<violation>(too_long));
  CHECK(std::get<violation>(too_long).field == "/name");
  CHECK(std::get<violation>(too_long).message == "name must be a non-empty string of at most 1024 bytes");

  json delegates = json::array();
  for (std::size_t i = 0; i < max_array_items; ++i) delegates.push_back("d" + std::to_string(i));
  CHECK(std::holds_alternative<json>(run("tenant", {{"owner", "a"}, {"delegates", delegates}})));
  delegates.push_back("one-too-many");
  const auto too_many = run("tenant", {{"owner", "a"}, {"delegates", delegates}});
  REQUIRE(std::holds_alternative<violation>(too_many));
  CHECK(std::get<violation>(too_many).field == "/delegates");
  CHECK(std::get<violation>(too_many).message == "delegates must have at most 1024 items");

  json ports = json::array();
  for (std::size_t i = 0; i <= max_array_items; ++i) ports.push_back({{"name", "p"}});
  const auto too_many_ports = run("switch", {{"cabinet", "cab1"}, {"ports", ports}});
  REQUIRE(std::holds_alternative<violation>(too_many_ports));
  CHECK(std::get<violation>(too_many_ports).field == "/ports");
}

TEST_CASE("values built in-process that JSON text cannot carry are refused, not thrown") {
  // Invalid UTF-8 would make the stored body, or the error about it, fail to serialise.
  const auto bad_utf8 = run("datacenter", {{"name", std::string("a\xff") + "b"}, {"number", 1}});
  REQUIRE(std::holds_alternative<violation>(bad_utf8));
  CHECK(std::get<violation>(bad_utf8).field == "/name");
  CHECK_NOTHROW(
      json{{"m", std::get<violation>(bad_utf8).message}, {"f", std::get<violation>(bad_utf8).field}}.dump());

  const auto bad_key = run("datacenter", {{"name", "a"}, {"number", 1}, {std::string("k\xc3"), 1}});
  REQUIRE(std::holds_alternative<violation>(bad_key));
  CHECK_NOTHROW(
      json{{"m", std::get<violation>(bad_key).message}, {"f", std::get<violation>(bad_key).field}}.dump());

  for (double d : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    const auto r = run("disk", {{"machine", "server/s1"}, {"capacity_tb", d}});
    REQUIRE(std::holds_alternative<violation>(r));
    CHECK(std::get<violation>(r).field == "/capacity_tb");
  }
}

TEST_CASE("of several unknown members, the one with the smallest name is reported, whatever their order") {
  const kind_info& server = *find_kind("server");
  for (const char* text :
       {R"({"cabinet": "cab1", "zz": 1, "aa": 2})", R"({"aa": 2, "cabinet": "cab1", "zz": 1})"}) {
    const auto tape = horao::crdt::json_tape::parse(std::string_view(text), 64);
    const auto r = validate(server, "x1", std::get<horao::crdt::json_tape>(tape), 0, world());
    REQUIRE(std::holds_alternative<violation>(r));
    CHECK(std::get<violation>(r).field == "/aa");
  }
}

TEST_CASE("the id is checked") {
  const auto r = run("datacenter", json::parse(R"({"name": "a", "number": 1})"), "-bad");
  REQUIRE(std::holds_alternative<violation>(r));
  CHECK(std::get<violation>(r).status == 400);
  CHECK(std::get<violation>(r).code == "invalid_id");
}

TEST_CASE("times are normalised to UTC and kept within what can be read back") {
  auto start_of = [](const char* start) {
    json body = {
        {"start", start}, {"end", "9999-12-31T23:59:59Z"}, {"reason", "r"}, {"targets", {"server/s1"}}};
    return run("maintenance", body);
  };
  const auto offset = start_of("2026-12-01T08:00:00.123+02:00");
  REQUIRE(std::holds_alternative<json>(offset));
  CHECK(std::get<json>(offset)["start"] == "2026-12-01T06:00:00.123000Z");
  // 9999-12-31T23:00:00-05:00 is in year 10000 UTC: refused rather than stored unreadable.
  const auto beyond = start_of("9999-12-31T23:00:00-05:00");
  REQUIRE(std::holds_alternative<violation>(beyond));
  CHECK(std::get<violation>(beyond).field == "/start");
}
