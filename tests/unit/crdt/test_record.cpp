// The record lattice (DESIGN §2): the join laws, the write operations and
// garbage collection, over random records.

#include <algorithm>

#include <rapidcheck/catch.h>

#include "generators.hpp"
#include "horao/crdt/digest.hpp"
#include "horao/crdt/record.hpp"

using namespace horao;
using crdt::hlc;
using crdt::record;
using test::field;
using test::node;

namespace {

record joined(record a, const record& b) {
  a.merge(b);
  return a;
}

// Both notions of "the same state" the daemon relies on.
void assert_same_state(const record& a, const record& b) {
  RC_ASSERT(a == b);
  RC_ASSERT(crdt::hash_record("k/x", a) == crdt::hash_record("k/x", b));
}

// The canonical-form invariant of record.hpp.
void assert_canonical(const record& r) {
  const auto fields = r.fields();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    RC_ASSERT(r.deleted() < fields[i].stamp);
    if (i > 0) RC_ASSERT(fields[i - 1].name_text() < fields[i].name_text());
  }
}

// A stamp later than everything the generators make (their walls are 0..3).
hlc later(std::int64_t wall, const char* n = "n1") { return hlc{wall, 0, node(n)}; }

std::vector<crdt::field_write> writes(std::initializer_list<std::pair<const char*, const char*>> items) {
  std::vector<crdt::field_write> out;
  for (const auto& [k, v] : items) out.push_back({k, v});
  return out;
}

}  // namespace

TEST_CASE("record merge is a join: commutative and associative and idempotent") {
  rc::prop("commutative", [] {
    const auto a = *test::gen_record();
    const auto b = *test::gen_record();
    assert_same_state(joined(a, b), joined(b, a));
  });
  rc::prop("associative", [] {
    const auto a = *test::gen_record();
    const auto b = *test::gen_record();
    const auto c = *test::gen_record();
    assert_same_state(joined(joined(a, b), c), joined(a, joined(b, c)));
  });
  rc::prop("idempotent, and merging a state already included changes nothing", [] {
    const auto a = *test::gen_record();
    const auto b = *test::gen_record();
    assert_same_state(joined(a, a), a);
    auto ab = joined(a, b);
    RC_ASSERT_FALSE(ab.merge(a));
    RC_ASSERT_FALSE(ab.merge(b));
    assert_same_state(ab, joined(a, b));
  });
  rc::prop("merge reports a change exactly when the state changed", [] {
    auto a = *test::gen_record();
    const auto b = *test::gen_record();
    const auto before = a;
    const bool changed = a.merge(b);
    RC_ASSERT(changed == (a != before));
  });
  rc::prop("merge keeps the canonical form", [] {
    const auto a = *test::gen_record();
    const auto b = *test::gen_record();
    assert_canonical(a);
    assert_canonical(joined(a, b));
  });
}

TEST_CASE("record constructor canonicalises its input") {
  const auto n1 = node("n1");
  const auto x = field("x");
  const auto y = field("y");
  // Duplicate names are joined (the higher stamp wins), dominated entries
  // dropped, the rest sorted by name.
  record r(hlc{5, 0, n1}, hlc{2, 0, n1},
           {{hlc{3, 0, n1}, y, "1"}, {hlc{4, 0, n1}, x, "\"new\""}, {hlc{3, 0, n1}, x, "\"old\""},
            {hlc{2, 0, n1}, field("gone"), "2"}});
  REQUIRE(r.fields().size() == 2);
  CHECK(r.fields()[0].name_text() == "x");
  CHECK(r.fields()[0].value == "\"new\"");
  CHECK(r.fields()[1].name_text() == "y");
  CHECK(r.find("gone") == nullptr);
  REQUIRE(r.find("y") != nullptr);
  CHECK(test::value_of(r, "y") == "1");
  CHECK(r.alive());
  CHECK(r.updated() == hlc{5, 0, n1});
}

TEST_CASE("record alive and updated") {
  const auto n1 = node("n1");
  record r;
  CHECK_FALSE(r.alive());  // bottom: never created
  CHECK(r.updated() == hlc{});
  const auto body = writes({{"a", "1"}});
  r.put(hlc{10, 0, n1}, hlc{10, 1, n1}, body);
  CHECK(r.alive());
  CHECK(r.updated() == hlc{10, 1, n1});
  r.patch(hlc{12, 0, n1}, writes({{"b", "2"}}));
  CHECK(r.updated() == hlc{12, 0, n1});
  r.remove(hlc{13, 0, n1});
  CHECK_FALSE(r.alive());
  CHECK(r.fields().empty());
}

TEST_CASE("a PUT drops every older field") {
  rc::prop("the visible fields after a PUT are exactly its body", [] {
    auto r = *test::gen_record();
    const auto body = *test::gen_writes(false);
    const hlc t1 = later(10), t2 = later(10, "n2");
    r.put(t1, t2, body);
    RC_ASSERT(r.alive());
    std::map<std::string, std::string> expected;
    for (const auto& w : body) expected.emplace(w.name, w.value);
    RC_ASSERT(test::visible(r) == expected);
    for (const auto& e : r.fields()) RC_ASSERT(e.stamp == t2);
    assert_canonical(r);
  });
  rc::prop("the older state merged afterwards changes nothing", [] {
    const auto old = *test::gen_record();
    const auto body = *test::gen_writes(false);
    auto r = old;
    r.put(later(10), later(11), body);
    const auto after_put = r;
    RC_ASSERT_FALSE(r.merge(old));
    RC_ASSERT(r == after_put);
  });
}

TEST_CASE("delete against a concurrent patch") {
  const auto n1 = node("n1");
  const auto n2 = node("n2");
  rc::prop("a patch older than the delete stays invisible; a later PUT comes back clean", [=] {
    record base;
    base.put(hlc{1, 0, n1}, hlc{1, 1, n1}, *test::gen_writes(false));
    const auto patch_body = *test::gen_writes(true);
    const auto put_body = *test::gen_writes(false);
    // n2 patches at 5 (it has not seen the delete), n1 deletes at 6.
    record patched = base;
    patched.patch(hlc{5, 0, n2}, patch_body);
    record deleted = base;
    deleted.remove(hlc{6, 0, n1});

    const auto one = joined(joined(base, patched), deleted);
    const auto two = joined(joined(base, deleted), patched);
    RC_ASSERT(one == two);
    RC_ASSERT_FALSE(one.alive());
    RC_ASSERT(one.fields().empty());

    auto revived = one;
    revived.put(hlc{7, 0, n1}, hlc{7, 1, n1}, put_body);
    std::map<std::string, std::string> expected;
    for (const auto& w : put_body) expected.emplace(w.name, w.value);
    RC_ASSERT(test::visible(revived) == expected);
    RC_ASSERT(revived.alive());
  });
  rc::prop("a patch newer than the delete does not revive the resource, and a PUT drops it", [=] {
    record base;
    base.put(hlc{1, 0, n1}, hlc{1, 1, n1}, *test::gen_writes(false));
    const auto patch_body = *test::gen_writes(true);
    record patched = base;
    patched.patch(hlc{6, 0, n2}, patch_body);
    record deleted = base;
    deleted.remove(hlc{5, 0, n1});
    const auto one = joined(patched, deleted);
    const auto two = joined(deleted, patched);
    RC_ASSERT(one == two);
    RC_ASSERT_FALSE(one.alive());
    auto revived = one;
    const auto put_body = writes({{"only", "true"}});
    revived.put(hlc{7, 0, n1}, hlc{7, 1, n1}, put_body);
    RC_ASSERT(test::visible(revived) == (std::map<std::string, std::string>{{"only", "true"}}));
  });
}

TEST_CASE("garbage collection changes neither the visible fields nor the digest") {
  rc::prop("dominated entries given to the constructor are invisible and unhashed", [] {
    const hlc created = *test::gen_stamp_or_bottom();
    const hlc deleted = *test::gen_stamp();
    const auto live = *test::gen_entries();
    // Entries at or below `deleted`: garbage whatever their name.
    auto dominated = *test::gen_entries();
    for (auto& e : dominated) e.stamp = std::min(e.stamp, deleted);
    RC_PRE(!dominated.empty());

    const record canonical(created, deleted, live);
    auto all = live;
    all.insert(all.end(), dominated.begin(), dominated.end());
    const record with_garbage(created, deleted, all);

    RC_ASSERT(with_garbage == canonical);
    RC_ASSERT(test::visible(with_garbage) == test::visible(canonical));
    RC_ASSERT(crdt::hash_record("k/x", with_garbage) == crdt::hash_record("k/x", canonical));
  });
  rc::prop("a delete drops exactly the entries it dominates", [] {
    auto r = *test::gen_record();
    const hlc at = *test::gen_stamp();
    const auto before = r;
    r.remove(at);
    std::vector<crdt::field_entry> kept;
    for (const auto& e : before.fields())
      if (std::max(at, before.deleted()) < e.stamp) kept.push_back(e);
    RC_ASSERT(std::vector<crdt::field_entry>(r.fields().begin(), r.fields().end()) == kept);
    RC_ASSERT(r == record(before.created(), std::max(at, before.deleted()), kept));
  });
}

// ---- The pitfalls of an earlier implementation (DESIGN §2), one case each --------

TEST_CASE("pitfall: swapping the delivery order of a write and an older delete") {
  const auto a = node("dc-a");
  const auto b = node("dc-b");
  record base;
  base.put(hlc{100, 0, a}, hlc{100, 1, a}, writes({{"status", "\"up\""}, {"row", "3"}}));

  SECTION("a PUT after the delete") {
    record del = base;
    del.remove(hlc{200, 0, a});
    record put = base;  // dc-b has not seen the delete
    put.put(hlc{300, 0, b}, hlc{300, 1, b}, writes({{"status", "\"down\""}}));
    const auto one = joined(joined(base, del), put);
    const auto two = joined(joined(base, put), del);
    CHECK(one == two);
    CHECK(one.alive());
    CHECK(test::visible(one) == std::map<std::string, std::string>{{"status", "\"down\""}});
  }
  SECTION("a patch after the delete") {
    record del = base;
    del.remove(hlc{200, 0, a});
    record patch = base;
    patch.patch(hlc{300, 0, b}, writes({{"row", "4"}}));
    const auto one = joined(joined(base, del), patch);
    const auto two = joined(joined(base, patch), del);
    CHECK(one == two);
    CHECK_FALSE(one.alive());  // a patch does not resurrect
  }
  rc::prop("for random states, every delivery order of three states agrees", [] {
    const auto x = *test::gen_record();
    const auto y = *test::gen_record();
    const auto z = *test::gen_record();
    std::vector<const record*> order{&x, &y, &z};
    std::sort(order.begin(), order.end());
    const auto first = joined(joined(*order[0], *order[1]), *order[2]);
    while (std::next_permutation(order.begin(), order.end())) {
      record r;
      for (const auto* s : order) r.merge(*s);
      RC_ASSERT(r == first);
    }
  });
}

TEST_CASE("pitfall: an add and a remove with the same timestamp") {
  const auto a = node("dc-a");
  const hlc t{500, 7, a};
  SECTION("a field written and removed at one stamp") {
    const record added(hlc{1, 0, a}, hlc{}, {{t, field("x"), "42"}});
    const record removed(hlc{1, 0, a}, hlc{}, {{t, field("x"), ""}});
    const auto one = joined(added, removed);
    const auto two = joined(removed, added);
    CHECK(one == two);
    CHECK(crdt::hash_record("k/x", one) == crdt::hash_record("k/x", two));
    REQUIRE(one.find("x") != nullptr);
    CHECK(test::value_of(one, "x") == "42");  // the rule: the larger value text, absent is the smallest
  }
  SECTION("a record created and deleted at one stamp") {
    const record created(t, hlc{}, {});
    const record deleted(hlc{}, t, {});
    const auto one = joined(created, deleted);
    const auto two = joined(deleted, created);
    CHECK(one == two);
    CHECK_FALSE(one.alive());  // alive needs created > deleted
  }
}

TEST_CASE("pitfall: timestamps within the clock offset are ordered and not concurrent") {
  // Three updates of one field, each within a second of the others, from three
  // nodes: a rule that called them concurrent and broke the tie otherwise
  // (e.g. by value) would not be transitive. Every order must give the winner
  // by (wall, counter, node).
  const std::vector<record> updates{
      record(hlc{1, 0, node("n1")}, hlc{}, {{hlc{1'000'000, 0, node("n3")}, field("x"), "\"zzz\""}}),
      record(hlc{1, 0, node("n1")}, hlc{}, {{hlc{1'400'000, 0, node("n1")}, field("x"), "\"aaa\""}}),
      record(hlc{1, 0, node("n1")}, hlc{}, {{hlc{1'800'000, 0, node("n2")}, field("x"), "\"mmm\""}}),
  };
  std::vector<int> order{0, 1, 2};
  int orders = 0;
  do {
    record r;
    for (int i : order) r.merge(updates[i]);
    REQUIRE(r.find("x") != nullptr);
    CHECK(test::value_of(r, "x") == "\"mmm\"");
    CHECK(r.find("x")->stamp == hlc{1'800'000, 0, node("n2")});
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(orders == 6);
}

TEST_CASE("pitfall: ties with equal stamps but different object values") {
  const hlc t{42, 1, node("n1")};
  const std::vector<std::string> values{R"({"a":1})", R"({"b":[1,2,{"c":null}]})", R"([{"a":1}])", R"("x")", "3",
                                        ""};
  for (const auto& v : values) {
    for (const auto& w : values) {
      const record x(hlc{1, 0, node("n1")}, hlc{}, {{t, field("obj"), v}});
      const record y(hlc{1, 0, node("n1")}, hlc{}, {{t, field("obj"), w}});
      const auto one = joined(x, y);
      const auto two = joined(y, x);
      CHECK(one == two);
      REQUIRE(one.find("obj") != nullptr);
      CHECK(test::value_of(one, "obj") == std::max(v, w));
    }
  }
}
