// Conflicts after merges (DESIGN §6): every replica computes the same
// statuses from the same records, whatever the order they arrived in, and
// the kept statuses equal a rebuild and a brute-force run of the rule.
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "horao/domain/hardware.hpp"
#include "horao/domain/reservation.hpp"
#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;
using domain::pool;

namespace {

// Sends every record of `from` to `to`, as replication would (idempotent).
void sync(replica& from, replica& to) {
  std::vector<std::pair<std::string, crdt::record>> all;
  from.store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
    all.emplace_back(std::string(key), e.state);
    return true;
  });
  for (const auto& [key, state] : all) to.store.merge(key, state, from.clock.self());
}

void site(replica& d) {
  d.put("datacenter/dc1", datacenter());
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("network/fabric", network("dc1", "data", true));
  d.put("server/s1", server("c1", 60, 600, 2, {"fabric"}));
  d.put("server/s2", server("c1", 40, 400, 2));
  d.put("disk/d1", disk("server/s1", 6));
  d.put("tenant/t1", tenant());
  d.put("tenant/t2", tenant({{"cpu", 50}}));
}

std::map<std::string, domain::reservation_status> statuses(replica& d) {
  std::map<std::string, domain::reservation_status> out;
  d.store.for_each_alive("reservation", {}, [&](std::string_view id, const store::stored_record&) {
    out[std::string(id)] = *d.scheduler->status_of(id);
    return true;
  });
  return out;
}

bool same(const std::map<std::string, domain::reservation_status>& a,
          const std::map<std::string, domain::reservation_status>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [id, s] : a) {
    auto it = b.find(id);
    if (it == b.end() || it->second.accepted != s.accepted || it->second.reason != s.reason ||
        it->second.short_by != s.short_by)
      return false;
  }
  return true;
}

// ---- the oracle: the rule run naively over every instant ----

std::map<std::string, bool> oracle(replica& d) {
  struct res {
    std::string id;
    crdt::hlc created;
    std::optional<domain::reservation_spec> spec;
    std::int64_t start = 0, end = 0;
  };
  std::vector<res> all;
  std::set<std::int64_t> instants;
  d.store.for_each_alive("reservation", {}, [&](std::string_view id, const store::stored_record& e) {
    res r{std::string(id), e.state.created(), domain::read_reservation(e.state)};
    if (r.spec && !r.spec->start) r.spec.reset();
    if (r.spec) {
      r.start = *r.spec->start;
      r.end = r.spec->end.value_or(domain::time_max);
      instants.insert(r.start);
      instants.insert(r.end);
    }
    all.push_back(std::move(r));
    return true;
  });
  d.store.for_each_alive("maintenance", {}, [&](std::string_view, const store::stored_record& e) {
    if (auto w = domain::read_maintenance(e.state)) {
      instants.insert(w->start);
      instants.insert(w->end);
    }
    return true;
  });
  std::map<std::string, domain::tenant_limits> limits;
  d.store.for_each_alive("tenant", {}, [&](std::string_view id, const store::stored_record& e) {
    limits[std::string(id)] = domain::read_constraints(e.state);
    return true;
  });
  std::sort(all.begin(), all.end(), [](const res& a, const res& b) {
    return a.created != b.created ? a.created < b.created : a.id < b.id;
  });
  std::vector<const res*> admitted;
  std::map<std::string, bool> out;
  for (const res& r : all) {
    bool ok = r.spec.has_value();
    if (ok) {
      std::vector<std::int64_t> points{r.start};
      for (auto t : instants)
        if (t > r.start && t < r.end) points.push_back(t);
      const domain::pools claim = r.spec->claim();
      for (auto t : points) {
        domain::pools load;
        domain::amounts tenant_load;
        for (const res* a : admitted) {
          if (a->start <= t && t < a->end) {
            load += a->spec->claim();
            if (a->spec->tenant == r.spec->tenant) tenant_load += a->spec->demand;
          }
        }
        const domain::pools cap{d.capacity->capacity({{}, false, t}), d.capacity->capacity({{}, true, t})};
        for (dimension dim : domain::all_dimensions) {
          const auto& limit = limits[r.spec->tenant][dim];
          if (limit && r.spec->demand[dim] > 0 && tenant_load[dim] + r.spec->demand[dim] > *limit) ok = false;
          for (pool p : {pool::total, pool::hsn})
            if (claim[p][dim] > 0 && cap[p][dim] - load[p][dim] < claim[p][dim]) ok = false;
        }
      }
    }
    if (ok) admitted.push_back(&r);
    out[r.id] = ok;
  }
  return out;
}

std::map<std::string, bool> accepted_flags(const std::map<std::string, domain::reservation_status>& s) {
  std::map<std::string, bool> out;
  for (const auto& [id, st] : s) out[id] = st.accepted;
  return out;
}

}  // namespace

TEST_CASE("two daemons accept concurrently what together overbooks and agree after the merge") {
  replica a("dc-a");
  replica b("dc-b");
  site(a);
  sync(a, b);
  a.time.now = b.time.now = at_hour(0);
  REQUIRE(a.reserve("ra", reservation("t1", {compute(60)}, 0, 10)).accepted());
  b.time.now += 10;  // b's write is later: ra comes first in creation order
  REQUIRE(b.reserve("rb", reservation("t1", {compute(60)}, 5, 15)).accepted());
  CHECK(a.accepted("ra"));
  CHECK(b.accepted("rb"));

  sync(a, b);
  sync(b, a);
  REQUIRE(a.store.digest() == b.store.digest());
  const auto sa = statuses(a);
  const auto sb = statuses(b);
  CHECK(same(sa, sb));
  CHECK(sa.at("ra").accepted);
  REQUIRE(!sa.at("rb").accepted);
  CHECK(sa.at("rb").reason == "insufficient_capacity: cpu short by 20");
  CHECK(sa.at("rb").short_by[dimension::cpu] == 20);

  SECTION("cancelling the accepted one lets the conflicted one in, on both") {
    a.remove("reservation/ra");
    sync(a, b);
    CHECK(a.accepted("rb"));
    CHECK(b.accepted("rb"));
  }
  SECTION("more capacity resolves the conflict; less brings it back") {
    a.put("server/s3", server("c1", 20));
    sync(a, b);
    CHECK(a.accepted("rb"));
    CHECK(b.accepted("rb"));
    b.patch("server/s3", {{"status", "down"}});
    sync(b, a);
    CHECK(!a.accepted("rb"));
    CHECK(!b.accepted("rb"));
  }
  SECTION("a later local decision sees only accepted claims") {
    // ra (60) is accepted over [0, 10), rb conflicted: 40 cores are free there.
    CHECK(a.reserve("rc", reservation("t1", {compute(40)}, 0, 5)).accepted());
    CHECK(a.reserve("rd", reservation("t1", {compute(1)}, 0, 5)).outcome ==
          domain::verdict::insufficient_capacity);
  }
}

TEST_CASE(
    "concurrent reservations of one tenant over its limits: the later one is conflicted for the constraint") {
  replica a("dc-a");
  replica b("dc-b");
  site(a);
  sync(a, b);
  REQUIRE(a.reserve("x", reservation("t2", {compute(30)}, 0, 10)).accepted());
  b.time.now += 10;
  REQUIRE(b.reserve("y", reservation("t2", {compute(30)}, 0, 10)).accepted());
  sync(a, b);
  sync(b, a);
  const auto s = statuses(b);
  CHECK(same(s, statuses(a)));
  CHECK(s.at("x").accepted);
  CHECK(s.at("y").reason == "constraint_exceeded: cpu limit 50, asked 30 while the tenant holds 30");
  SECTION("raising the limit resolves it") {
    a.patch("tenant/t2", {{"constraints", {{"cpu", 60}}}});
    sync(a, b);
    CHECK(b.accepted("y"));
  }
}

TEST_CASE("a maintenance written after reservations conflicts the newest that no longer fit") {
  replica d;
  site(d);
  REQUIRE(d.reserve("old", reservation("t1", {compute(40)}, 0, 10)).accepted());
  REQUIRE(d.reserve("new", reservation("t1", {compute(40)}, 0, 10)).accepted());
  d.put("maintenance/m", maintenance(5, 6, {"server/s2"}));
  CHECK(d.accepted("old"));
  CHECK(!d.accepted("new"));
  CHECK(d.scheduler->conflicted_count() == 1);
  d.remove("maintenance/m");
  CHECK(d.accepted("new"));
}

TEST_CASE(
    "a PUT over a reservation whose claim kept later ones out is decided on the state after the write") {
  replica a("dc-a");
  replica b("dc-b");
  site(a);
  sync(a, b);
  REQUIRE(a.reserve("first", reservation("t1", {compute(100)}, 0, 10)).accepted());
  b.time.now += 10;
  REQUIRE(b.reserve("second", reservation("t1", {compute(100)}, 0, 10)).accepted());
  sync(b, a);
  REQUIRE(a.accepted("first"));
  REQUIRE(!a.accepted("second"));
  a.time.now += 100;
  // Replacing `first` moves it after `second`, which then fits first: the
  // replace must be refused, not accepted and then shown conflicted.
  const auto replace = a.reserve("first", reservation("t1", {compute(100)}, 0, 10));
  CHECK(replace.outcome == domain::verdict::insufficient_capacity);
  CHECK(a.accepted("first"));
  CHECK(!a.accepted("second"));
  // A PATCH keeps its place in the order: the same claim is accepted.
  CHECK(a.reserve("first", reservation("t1", {compute(100)}, 0, 10), domain::write_mode::patch).accepted());
  CHECK(a.accepted("first"));
  // A PUT that leaves room for `second` is accepted and both then fit.
  const auto smaller = a.reserve("first", reservation("t1", {compute(0 + 1)}, 20, 30));
  CHECK(smaller.accepted());
  CHECK(a.accepted("first"));
  CHECK(a.accepted("second"));
}

TEST_CASE("unreadable replicated reservations are conflicted and hold nothing") {
  replica d;
  site(d);
  d.put("reservation/bad", {{"tenant", "t1"}, {"resources", "nope"}, {"start", time_text(0)}});
  d.put("reservation/nostart", reservation("t1", {compute(1)}, -1));
  const auto s = d.scheduler->status_of("bad");
  REQUIRE(s);
  CHECK(!s->accepted);
  CHECK(s->reason.rfind("invalid", 0) == 0);
  CHECK(!d.accepted("nostart"));
  CHECK(d.reserve("all", reservation("t1", {compute(100)}, 0, 10)).accepted());
}

namespace {

struct res_op {
  int source;  // which replica writes it
  int id;
  int cpu;
  int from_h;
  int len_h;  // 0: open-ended
  bool hsn;
  bool second_tenant;
  bool bypass;  // written without a decision, as a faulty or partitioned peer might
  bool remove;
};

}  // namespace

namespace rc {
template <>
struct Arbitrary<res_op> {
  static Gen<res_op> arbitrary() {
    return gen::build<res_op>(
        gen::set(&res_op::source, gen::inRange(0, 3)), gen::set(&res_op::id, gen::inRange(0, 12)),
        gen::set(&res_op::cpu, gen::inRange(1, 70)), gen::set(&res_op::from_h, gen::inRange(0, 12)),
        gen::set(&res_op::len_h, gen::inRange(0, 8)), gen::set(&res_op::hsn, gen::arbitrary<bool>()),
        gen::set(&res_op::second_tenant, gen::arbitrary<bool>()),
        gen::set(&res_op::bypass, gen::weightedElement<bool>({{1, true}, {3, false}})),
        gen::set(&res_op::remove, gen::weightedElement<bool>({{1, true}, {6, false}})));
  }
};
}  // namespace rc

TEST_CASE("conflict statuses do not depend on the order changes arrive in") {
  rc::prop(
      "same records, any order -> same statuses == rebuild == oracle", [](const std::vector<res_op>& ops) {
        // Three partitioned replicas decide on their own, then everything is
        // merged into two targets in different orders.
        std::vector<std::unique_ptr<replica>> sources;
        for (const char* n : {"dc-a", "dc-b", "dc-c"}) sources.push_back(std::make_unique<replica>(n));
        site(*sources[0]);
        sync(*sources[0], *sources[1]);
        sync(*sources[0], *sources[2]);
        sources[1]->put("maintenance/m", maintenance(3, 5, {"server/s2"}));
        for (const auto& o : ops) {
          replica& r = *sources[static_cast<std::size_t>(o.source)];
          const std::string id = "r" + std::to_string(o.id);
          if (o.remove) {
            r.remove("reservation/" + id);
            continue;
          }
          const json body = reservation(o.second_tenant ? "t2" : "t1", {compute(o.cpu)}, o.from_h,
                                        o.len_h == 0 ? -1 : o.from_h + o.len_h, o.hsn);
          if (o.bypass)
            r.put("reservation/" + id, body);
          else
            r.reserve(id, body);
        }
        std::vector<std::pair<std::string, crdt::record>> changes;
        std::vector<crdt::node_id> origin;
        for (auto& s : sources) {
          s->store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
            changes.emplace_back(std::string(key), e.state);
            origin.push_back(s->clock.self());
            return true;
          });
        }
        replica x("dc-x"), y("dc-y");
        for (std::size_t i = 0; i < changes.size(); ++i) {
          x.store.merge(changes[i].first, changes[i].second, origin[i]);
          if (i % 3 == 0) statuses(x);  // reads in between: the deferred work runs at odd points
        }
        const auto order = *rc::gen::arbitrary<std::vector<std::size_t>>();
        std::vector<std::size_t> perm(changes.size());
        for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
        for (std::size_t i = 0; i < order.size() && perm.size() > 1; ++i)
          std::swap(perm[i % perm.size()], perm[order[i] % perm.size()]);
        for (std::size_t i : perm) y.store.merge(changes[i].first, changes[i].second, origin[i]);
        RC_ASSERT(x.store.digest() == y.store.digest());

        const auto sx = statuses(x);
        const auto sy = statuses(y);
        RC_ASSERT(same(sx, sy));
        domain::capacity_index fresh_capacity(y.store);
        domain::scheduler fresh(y.store, fresh_capacity, domain::scheduler_settings{});
        std::map<std::string, domain::reservation_status> sf;
        for (const auto& [id, s] : sy) sf[id] = *fresh.status_of(id);
        RC_ASSERT(same(sy, sf));
        RC_ASSERT(accepted_flags(sx) == oracle(x));
      });
}

TEST_CASE("kept statuses equal a rebuild and the oracle after any mix of writes") {
  rc::prop("incremental == rebuild == oracle", [](const std::vector<res_op>& ops) {
    replica d;
    site(d);
    for (const auto& o : ops) {
      const std::string id = "r" + std::to_string(o.id);
      // source picks what else happens: hardware, maintenance and limits change too.
      switch ((o.id + o.cpu) % 9) {
        case 0:
          d.patch("server/s2", {{"status", o.hsn ? "up" : "down"}});
          break;
        case 1:
          d.patch("server/s1", {{"cpus", {{{"cores", o.cpu}}}}});
          break;
        case 2:
          d.put("maintenance/m" + std::to_string(o.source),
                maintenance(o.from_h, o.from_h + 1 + o.len_h, {o.hsn ? "server/s1" : "cabinet/c1"}));
          break;
        case 3:
          d.remove("maintenance/m" + std::to_string(o.source));
          break;
        case 4:
          d.patch("tenant/t2", {{"constraints", {{"cpu", o.cpu}}}});
          break;
        case 5:
          d.patch("network/fabric", {{"hsn", o.hsn}});
          break;
        default:
          break;
      }
      if (o.remove) {
        d.remove("reservation/" + id);
      } else {
        const json body = reservation(o.second_tenant ? "t2" : "t1", {compute(o.cpu)}, o.from_h,
                                      o.len_h == 0 ? -1 : o.from_h + o.len_h, o.hsn);
        if (o.bypass) {
          d.put("reservation/" + id, body);
        } else {
          const auto mode = o.source == 0 ? domain::write_mode::patch : domain::write_mode::put;
          const bool existed = d.store.find_alive("reservation/" + id) != nullptr;
          // A decision is the status the write then shows (a PATCH of nothing writes nothing).
          if (d.reserve(id, body, mode).accepted() && (existed || mode == domain::write_mode::put))
            RC_ASSERT(d.accepted(id));
        }
      }
      if (o.source == 1) statuses(d);
    }
    const auto kept = statuses(d);
    domain::capacity_index fresh_capacity(d.store);
    domain::scheduler fresh(d.store, fresh_capacity, domain::scheduler_settings{});
    std::map<std::string, domain::reservation_status> rebuilt;
    for (const auto& [id, s] : kept) rebuilt[id] = *fresh.status_of(id);
    RC_ASSERT(same(kept, rebuilt));
    RC_ASSERT(accepted_flags(kept) == oracle(d));
  });
}
