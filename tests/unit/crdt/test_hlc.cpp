// Hybrid logical clock: the order of stamps, the clock over an injected time
// source, and the text forms (DESIGN §2 "Clock").

#include <chrono>
#include <cstdio>
#include <limits>
#include <string>

#include <rapidcheck/catch.h>

#include "generators.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/crdt/hlc.hpp"
#include "horao/crdt/record.hpp"

using namespace horao;
using crdt::hlc;
using test::node;

namespace {

// A physical clock the test moves by hand: forwards, not at all, or back.
struct fake_time final : crdt::time_source {
  std::int64_t now = 1'790'000'000'000'000;
  std::int64_t now_us() const override { return now; }
};

constexpr std::int64_t second = 1'000'000;

}  // namespace

TEST_CASE("hlc order is wall then counter then node name and independent of interning order") {
  // Interned in the opposite order of their names: ids must not decide.
  const auto zulu = node("order-zulu");
  const auto alpha = node("order-alpha");
  REQUIRE(alpha > zulu);
  CHECK(hlc{5, 0, alpha} < hlc{5, 0, zulu});
  CHECK(hlc{5, 1, alpha} > hlc{5, 0, zulu});
  CHECK(hlc{6, 0, alpha} > hlc{5, 99, zulu});
  // Numerically, not as text: "10000" sorts before "9999" as a string.
  CHECK(hlc{5, 9999, alpha} < hlc{5, 10000, alpha});
  CHECK(crdt::to_string(hlc{5, 9999, alpha}) > crdt::to_string(hlc{5, 10000, alpha}));
  CHECK(hlc{} < hlc{0, 0, alpha});  // the bottom is below every named stamp
  rc::prop("the order is total and agrees with (wall, counter, name)", [] {
    const hlc a = *test::gen_stamp_or_bottom();
    const hlc b = *test::gen_stamp_or_bottom();
    const auto key = [](const hlc& t) { return std::tuple(t.wall_us, t.counter, crdt::node_name(t)); };
    RC_ASSERT((a < b) == (key(a) < key(b)));
    RC_ASSERT((a == b) == (key(a) == key(b)));
  });
}

TEST_CASE("hybrid_clock ticks are strictly increasing whatever the physical clock does") {
  rc::prop("monotonic under a stalled or backwards physical clock, with observed stamps", [] {
    fake_time time;
    crdt::hybrid_clock clock(node("n1"), time);
    hlc highest{};
    const int steps = *rc::gen::inRange(1, 60);
    for (int i = 0; i < steps; ++i) {
      // The physical clock: stall, step forward, or step back (NTP, VM restore).
      time.now += *rc::gen::element<std::int64_t>(0, 0, 1, 3, -1, -5, -second);
      if (*test::uniform<int>(0, 4) == 0) {
        const hlc remote{time.now + *test::uniform<std::int64_t>(-3, 4), *test::uniform<std::uint32_t>(0, 3),
                         node(*rc::gen::elementOf(test::node_pool()))};
        RC_ASSERT(clock.observe(remote) == crdt::observe_result::advanced);
        highest = std::max(highest, remote);
      } else {
        const hlc t = clock.tick();
        RC_ASSERT(highest < t);
        RC_ASSERT(t.node == node("n1"));
        highest = t;
      }
    }
  });
}

TEST_CASE("hybrid_clock follows the physical clock when it moves forward") {
  fake_time time;
  crdt::hybrid_clock clock(node("n1"), time);
  CHECK(clock.tick() == hlc{time.now, 0, node("n1")});
  CHECK(clock.tick() == hlc{time.now, 1, node("n1")});  // stalled: the counter moves
  time.now += 10;
  CHECK(clock.tick() == hlc{time.now, 0, node("n1")});  // counter resets with a new wall
  time.now -= 100;
  CHECK(clock.tick() == hlc{time.now + 100, 1, node("n1")});  // backwards: keeps the old wall
}

TEST_CASE("observe advances past remote stamps also those whose node sorts after ours") {
  fake_time time;
  // "aaa" sorts before "zzz": an equal (wall, counter) from zzz is larger.
  crdt::hybrid_clock clock(node("aaa"), time);
  const hlc remote{time.now + 5 * second, 7, node("zzz")};
  REQUIRE(clock.observe(remote) == crdt::observe_result::advanced);
  const hlc t = clock.tick();
  CHECK(remote < t);
  CHECK(t.wall_us == remote.wall_us);
  CHECK(t.counter == 8);

  // Observing an older stamp changes nothing.
  REQUIRE(clock.observe(hlc{time.now - second, 0, node("zzz")}) == crdt::observe_result::advanced);
  CHECK(t < clock.tick());
}

TEST_CASE("pitfall: a write is stamped with a fresh tick and never the last reading") {
  fake_time time;
  crdt::hybrid_clock local(node("aaa"), time);
  // A remote write on a node whose name sorts after ours, at exactly the
  // (wall, counter) our clock will show after observing it.
  const hlc remote_stamp{time.now + 3, 4, node("zzz")};
  const crdt::record remote(hlc{1, 0, node("zzz")}, hlc{}, {{remote_stamp, test::field("x"), "\"theirs\""}});
  REQUIRE(local.observe(remote_stamp) == crdt::observe_result::advanced);
  // The last reading carries our node name, which sorts first: stamping a
  // write with it would lose against the write it has already seen.
  CHECK(local.last() < remote_stamp);

  crdt::record mine = remote;
  const std::vector<crdt::field_write> w{{"x", "\"mine\""}};
  mine.patch(local.tick(), w);
  REQUIRE(mine.find("x") != nullptr);
  CHECK(test::value_of(mine, "x") == "\"mine\"");
  auto elsewhere = remote;
  elsewhere.merge(mine);
  CHECK(elsewhere == mine);  // the later write wins on every replica
  CHECK_FALSE(mine.merge(remote));
}

TEST_CASE("CLOCK_OFFSET refuses stamps too far ahead and accepts those within") {
  fake_time time;
  crdt::hybrid_clock clock(node("n1"), time, 2 * second);
  const hlc within{time.now + 2 * second, 0, node("n2")};
  const hlc beyond{time.now + 2 * second + 1, 0, node("n2")};
  CHECK(clock.acceptable(within));
  CHECK_FALSE(clock.acceptable(beyond));
  CHECK(clock.acceptable(hlc{time.now - 100 * second, 0, node("n2")}));  // the past is always fine

  REQUIRE(clock.observe(beyond) == crdt::observe_result::too_far_ahead);
  CHECK(clock.tick() < beyond);  // a refused stamp does not move the clock
  REQUIRE(clock.observe(within) == crdt::observe_result::advanced);
  CHECK(within < clock.tick());

  // The limit follows the physical clock: what was too far ahead becomes acceptable.
  time.now += 1;
  CHECK(clock.acceptable(beyond));

  // 0 means no limit.
  crdt::hybrid_clock unlimited(node("n1"), time, 0);
  CHECK(unlimited.acceptable(hlc{time.now + 10'000 * second, 0, node("n2")}));
}

TEST_CASE("counter overflow borrows the next microsecond") {
  fake_time time;
  crdt::hybrid_clock clock(node("n1"), time);
  const auto max = std::numeric_limits<std::uint32_t>::max();
  clock.advance_to(hlc{time.now, max - 1, node("n2")});
  CHECK(clock.tick() == hlc{time.now, max, node("n1")});
  const hlc next = clock.tick();
  CHECK(next == hlc{time.now + 1, 0, node("n1")});
  // The physical clock catching up to the borrowed microsecond moves on.
  time.now += 1;
  CHECK(next < clock.tick());
}

TEST_CASE("advance_to moves the clock without the skew check") {
  fake_time time;
  crdt::hybrid_clock clock(node("n1"), time, second);
  const hlc recovered{time.now + 60 * second, 3, node("n2")};
  CHECK_FALSE(clock.acceptable(recovered));
  clock.advance_to(recovered);
  CHECK(recovered < clock.tick());
}

TEST_CASE("hlc text form round-trips") {
  const hlc t{1'795'591'862'123'456, 3, node("dc-ams")};
  CHECK(crdt::to_string(t) == "2026-11-25T07:31:02.123456Z/0003@dc-ams");
  CHECK(crdt::parse_hlc("2026-11-25T07:31:02.123456Z/0003@dc-ams") == t);
  CHECK(crdt::parse_hlc("2026-11-25T07:31:02.123456Z/3@dc-ams") == t);
  CHECK(crdt::parse_hlc("2026-11-25T08:31:02.123456+01:00/0003@dc-ams") == t);
  CHECK(crdt::to_string(hlc{0, 4294967295u, node("n1")}) == "1970-01-01T00:00:00.000000Z/4294967295@n1");

  for (const char* bad : {"", "2026-11-25T07:31:02.123456Z", "2026-11-25T07:31:02.123456Z/0003",
                          "2026-11-25T07:31:02.123456Z0003@dc-ams", "2026-11-25T07:31:02Z/@n1",
                          "2026-11-25T07:31:02Z/-1@n1", "2026-11-25T07:31:02Z/+1@n1", "2026-11-25T07:31:02Z/1x@n1",
                          "2026-11-25T07:31:02Z/4294967296@n1", "2026-13-25T07:31:02Z/1@n1", "garbage/1@n1"}) {
    INFO(bad);
    CHECK_FALSE(crdt::parse_hlc(bad).has_value());
  }
  const std::string long_node(300, 'n');
  CHECK_FALSE(crdt::parse_hlc("2026-11-25T07:31:02Z/1@" + long_node).has_value());

  rc::prop("parse_hlc(to_string(t)) == t", [] {
    const hlc t{*test::uniform<std::int64_t>(0, crdt::max_wall_us + 1), *rc::gen::arbitrary<std::uint32_t>(),
                node(*rc::gen::elementOf(test::node_pool()))};
    RC_ASSERT(crdt::parse_hlc(crdt::to_string(t)) == t);
  });
}

namespace {

// format_time_us and the counter part of to_string as they were written with
// snprintf, before the hand-rolled digits: the reference for their output.
std::string format_time_us_printf(std::int64_t unix_us) {
  using namespace std::chrono;
  constexpr std::int64_t us_per_day = 86'400 * second;
  std::int64_t days = unix_us / us_per_day;
  std::int64_t rest = unix_us % us_per_day;
  if (rest < 0) {
    rest += us_per_day;
    --days;
  }
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  const std::int64_t secs = rest / second;
  const std::int64_t micros = rest % second;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                static_cast<int>(micros));
  return buf;
}

std::string counter_printf(std::uint32_t counter) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "/%04u@", counter);
  return buf;
}

}  // namespace

TEST_CASE("format_time_us and to_string write what the snprintf versions wrote") {
  for (std::int64_t t :
       {std::int64_t{0}, std::int64_t{-1}, std::int64_t{951'782'400'000'000}, crdt::max_wall_us,
        std::int64_t{-62'135'596'800'000'000}, std::int64_t{-62'135'596'800'000'001}}) {
    INFO(t);
    CHECK(crdt::format_time_us(t) == format_time_us_printf(t));
  }
  rc::prop("the same text for every wall from year 0 to 9999", [] {
    const std::int64_t t = *test::uniform<std::int64_t>(-62'167'219'200'000'000, crdt::max_wall_us + 1);
    RC_ASSERT(crdt::format_time_us(t) == format_time_us_printf(t));
  });
  rc::prop("the same text for walls in this century, where every stamp is", [] {
    const std::int64_t t = *test::uniform<std::int64_t>(946'684'800'000'000, 4'102'444'800'000'000);
    RC_ASSERT(crdt::format_time_us(t) == format_time_us_printf(t));
  });
  rc::prop("the counter is written with at least four digits", [] {
    const auto counter = *rc::gen::arbitrary<std::uint32_t>();
    const hlc t{1'790'000'000'000'000, counter, node("n1")};
    const std::string text = crdt::to_string(t);
    RC_ASSERT(text == format_time_us_printf(t.wall_us) + counter_printf(counter) + "n1");
  });
}

TEST_CASE("RFC 3339 format and parse") {
  using crdt::format_time_us;
  using crdt::parse_time_us;
  CHECK(format_time_us(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_time_us(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_time_us(951'782'400'000'000) == "2000-02-29T00:00:00.000000Z");  // leap day

  CHECK(parse_time_us("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_time_us("1970-01-01T00:00:00.000001Z") == 1);
  CHECK(parse_time_us("1970-01-01T00:00:00.5Z") == 500'000);                 // short fraction
  CHECK(parse_time_us("1970-01-01T00:00:00.123456789Z") == 123'456);         // nanoseconds truncated
  CHECK(parse_time_us("1970-01-01t00:00:00z") == 0);                         // lower case
  CHECK(parse_time_us("1970-01-01 00:00:00Z") == 0);                         // RFC 3339 allows a space
  CHECK(parse_time_us("1970-01-01T01:00:00+01:00") == 0);                    // positive offset
  CHECK(parse_time_us("1969-12-31T18:30:00-05:30") == 0);                    // negative offset with minutes
  CHECK(parse_time_us("2026-12-01T08:00:00Z") == 1'796'112'000'000'000);
  CHECK(parse_time_us("2024-02-29T12:00:00Z") == 1'709'208'000'000'000);     // leap day
  CHECK(parse_time_us("2000-02-29T00:00:00Z") == 951'782'400'000'000);       // divisible by 400
  CHECK(parse_time_us("1969-12-31T23:59:59Z") == -1'000'000);                // before the epoch
  CHECK(parse_time_us("9999-12-31T23:59:59.999999Z") == crdt::max_wall_us);

  for (const char* bad : {"", "2026-12-01", "2026-12-01T08:00:00", "2026-12-01T08:00Z", "2026-12-01T08:00:00.Z",
                          "2026-12-01T08:00:00.1234567890Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-12-32T00:00:00Z",
                          "2026-12-01T24:00:00Z", "2026-12-01T08:60:00Z", "2026-12-01T08:00:61Z",
                          "2026-12-01T08:00:00+2:00", "2026-12-01T08:00:00+24:00", "2026-12-01T08:00:00+01:60",
                          "2026-12-01T08:00:00+0100", "2026-12-01T08:00:00Zjunk", "26-12-01T08:00:00Z",
                          "2026/12/01T08:00:00Z", "2026-12-01X08:00:00Z", "+2026-12-01T08:00:00Z",
                          "2026-1a-01T08:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_time_us(bad).has_value());
  }

  rc::prop("parse_time_us(format_time_us(t)) == t for every representable wall", [] {
    const std::int64_t t = *test::uniform<std::int64_t>(-62'135'596'800'000'000, crdt::max_wall_us + 1);
    RC_ASSERT(parse_time_us(format_time_us(t)) == t);
  });
}
