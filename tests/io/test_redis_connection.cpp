#include <hiredis/async.h>

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include "horao/app/metrics.hpp"
#include "horao/persist/redis_asio.hpp"
#include "horao/persist/redis_connection.hpp"
#include "horao/persist/redis_metrics.hpp"
#include "redis_server_fixture.hpp"
#include "redis_test_support.hpp"

using namespace horao;
using namespace std::chrono_literals;
using persist::redis_connection;
using persist::redis_result;
using persist::redis_status;

namespace {

persist::redis_connection_options options_for(const std::string& url,
                                              std::chrono::milliseconds timeout = 2000ms) {
  persist::redis_connection_options o;
  o.endpoint = *persist::parse_redis_url(url);
  o.command_timeout = timeout;
  o.backoff_initial = 20ms;
  o.backoff_max = 200ms;
  return o;
}

// Runs one pipeline to completion and returns its result.
redis_result run(test::io_harness& h, redis_connection& c, std::vector<redis_connection::command> cmds) {
  std::optional<redis_result> out;
  c.execute(std::move(cmds), [&](redis_result r) { out = std::move(r); });
  REQUIRE(h.run_until([&] { return out.has_value(); }));
  return std::move(*out);
}

}  // namespace

TEST_CASE("redis_asio: raw hiredis commands run on the io_context") {
  test::redis_server server;
  test::io_harness h;
  redisAsyncContext* ac = redisAsyncConnect("127.0.0.1", server.port());
  REQUIRE(ac);
  REQUIRE(ac->err == 0);
  int freed = 0;
  auto adapter = persist::redis_asio::attach(h.io, ac, [&](redisAsyncContext* gone) {
    CHECK(gone == ac);
    ++freed;
  });
  REQUIRE(adapter);
  CHECK(adapter->attached());
  // A second event library on the same context is refused.
  CHECK_FALSE(persist::redis_asio::attach(h.io, ac, {}));

  std::string pong;
  redisAsyncCommand(
      ac,
      [](redisAsyncContext*, void* reply, void* data) {
        if (reply) *static_cast<std::string*>(data) = static_cast<redisReply*>(reply)->str;
      },
      &pong, "PING");
  REQUIRE(h.run_until([&] { return !pong.empty(); }));
  CHECK(pong == "PONG");

  // Freeing from outside a callback: cleanup releases the descriptor once;
  // the pending wait ends with operation_aborted and does nothing.
  redisAsyncFree(ac);
  CHECK(freed == 1);
  CHECK_FALSE(adapter->attached());
  h.run_for(50ms);
  CHECK(freed == 1);
}

TEST_CASE("redis_asio: the server closing the connection frees the context once") {
  test::redis_server server;
  test::io_harness h;
  redisAsyncContext* ac = redisAsyncConnect("127.0.0.1", server.port());
  REQUIRE((ac && ac->err == 0));
  int freed = 0;
  auto adapter = persist::redis_asio::attach(h.io, ac, [&](redisAsyncContext*) { ++freed; });
  REQUIRE(adapter);
  bool got_null = false;
  redisAsyncCommand(
      ac, [](redisAsyncContext*, void* reply, void* data) { *static_cast<bool*>(data) = reply == nullptr; },
      &got_null, "BLPOP %s 0", "nothing-will-come");
  h.run_for(100ms);
  // Kill the connection from the server side.
  server.command({"CLIENT", "KILL", "TYPE", "normal"});
  REQUIRE(h.run_until([&] { return freed == 1; }));
  CHECK(got_null);  // the pending command was answered with no reply
  CHECK_FALSE(adapter->attached());
}

TEST_CASE("redis_connection: PING and binary-safe SET/GET") {
  test::redis_server server;
  test::io_harness h;
  app::metric_registry metrics;
  auto c = redis_connection::create(h.io, options_for(server.url()), &metrics);
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  CHECK(metrics.value(persist::metric_connected) == 1);

  const std::string key("bin\0key \r\n*3", 12);
  std::string value;
  for (int i = 0; i < 256; ++i) value += static_cast<char>(i);
  auto r = run(h, *c, {{"PING"}, {"SET", key, value}, {"GET", key}, {"GET", "absent"}, {"NOSUCHCOMMAND"}});
  REQUIRE(r.ok());
  REQUIRE(r.replies.size() == 5);
  CHECK(r.replies[0].is_status("PONG"));
  CHECK(r.replies[1].is_status("OK"));
  CHECK(r.replies[2].is_string());
  CHECK(r.replies[2].str == value);
  CHECK(r.replies[3].is_nil());
  CHECK(r.replies[4].is_error());  // an error reply is a reply, not a transport failure
  CHECK(server.command({"GET", key}).str == value);
  CHECK(c->connections() == 1);
}

TEST_CASE(
    "redis_connection: a pipeline reaches Redis inside execute() and not after the handlers queued before "
    "it") {
  test::redis_server server;
  test::io_harness h;
  auto c = redis_connection::create(h.io, options_for(server.url()));
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));

  // Handlers queued before the pipeline (a pass of requests in the daemon):
  // the loop does not run again until Redis has the command, so a write
  // that waited behind them would never be seen below.
  bool queued_ran = false;
  boost::asio::post(h.io, [&] { queued_ran = true; });
  std::optional<redis_result> out;
  c->execute({{"SET", "written-now", "yes"}}, [&](redis_result r) { out = std::move(r); });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string seen;
  while (seen != "yes" && std::chrono::steady_clock::now() < deadline) {
    const auto reply = server.command({"GET", "written-now"});
    seen = reply.is_string() ? reply.str : "";
  }
  CHECK(seen == "yes");
  CHECK_FALSE(queued_ran);
  REQUIRE(h.run_until([&] { return out.has_value(); }));
  CHECK(out->ok());
  CHECK(queued_ran);
}

TEST_CASE(
    "redis_connection: a pipeline with an empty command is refused whole, and the connection stays usable") {
  test::redis_server server;
  test::io_harness h;
  auto c = redis_connection::create(h.io, options_for(server.url()));
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));

  auto refused = run(h, *c, {{"SET", "k", "v"}, {}});
  CHECK(refused.status == redis_status::connection_lost);
  CHECK(refused.message.find("empty command") != std::string::npos);
  CHECK(server.command({"EXISTS", "k"}).integer == 0);  // nothing of it was sent

  std::optional<redis_result> alone;
  c->execute(redis_connection::command{}, [&](redis_result r) { alone = std::move(r); });
  REQUIRE(h.run_until([&] { return alone.has_value(); }));
  CHECK(alone->status == redis_status::connection_lost);

  persist::resp_pipeline incomplete;
  incomplete.add({"SET", "k", "v"});
  incomplete.begin(2);
  incomplete.arg("GET");  // its key never comes
  std::optional<redis_result> cut;
  c->execute(incomplete, [&](redis_result r) { cut = std::move(r); });
  REQUIRE(h.run_until([&] { return cut.has_value(); }));
  CHECK(cut->status == redis_status::connection_lost);
  CHECK(cut->message.find("incomplete") != std::string::npos);
  CHECK(server.command({"EXISTS", "k"}).integer == 0);

  auto after = run(h, *c, {{"SET", "k", "v"}, {"GET", "k"}});
  REQUIRE(after.ok());
  CHECK(after.replies[1].str == "v");
  CHECK(c->connections() == 1);
}

TEST_CASE(
    "redis_connection: a command timeout answers each pending pipeline once, then the connection recovers") {
  test::redis_server server;
  test::io_harness h;
  app::metric_registry metrics;
  auto c = redis_connection::create(h.io, options_for(server.url(), 300ms), &metrics);
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));

  server.pause();  // SIGSTOP: the socket stays open, nothing answers
  int first_calls = 0, second_calls = 0;
  redis_status first{}, second{};
  const auto sent = std::chrono::steady_clock::now();
  c->execute(redis_connection::command{"PING"}, [&](redis_result r) {
    ++first_calls;
    first = r.status;
  });
  c->execute(redis_connection::command{"PING"}, [&](redis_result r) {
    ++second_calls;
    second = r.status;
  });
  REQUIRE(h.run_until([&] { return first_calls + second_calls == 2; }));
  CHECK(std::chrono::steady_clock::now() - sent >= 300ms);
  CHECK(first == redis_status::timeout);
  CHECK(second == redis_status::connection_lost);
  CHECK_FALSE(c->ready());
  CHECK(metrics.value(persist::metric_errors, {{"kind", "timeout"}}) >= 1);

  // While Redis is paused, reconnects time out in the login; nothing is
  // answered twice.
  h.run_for(400ms);
  CHECK(first_calls == 1);
  CHECK(second_calls == 1);
  CHECK_FALSE(c->ready());

  server.resume();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  auto r = run(h, *c, {{"PING"}});
  REQUIRE(r.ok());
  CHECK(r.replies[0].is_status("PONG"));
  CHECK(metrics.value(persist::metric_reconnects) >= 1);
  CHECK(metrics.value(persist::metric_connected) == 1);
}

TEST_CASE("redis_connection: reconnects after redis-server is killed and restarted on the same port") {
  test::redis_server server;
  test::io_harness h;
  app::metric_registry metrics;
  auto c = redis_connection::create(h.io, options_for(server.url()), &metrics);
  std::vector<bool> states;
  c->on_state_change([&](bool up) { states.push_back(up); });
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  REQUIRE(run(h, *c, {{"SET", "k", "before"}}).ok());

  int answered = 0;
  redis_status status{};
  c->execute(redis_connection::command{"BLPOP", "never", "0"}, [&](redis_result r) {
    ++answered;
    status = r.status;
  });
  h.run_for(50ms);
  server.kill();
  REQUIRE(h.run_until([&] { return answered == 1; }));
  CHECK(status == redis_status::connection_lost);
  CHECK_FALSE(c->ready());

  // Down: refused at once, not queued.
  auto refused = run(h, *c, {{"PING"}});
  CHECK(refused.status == redis_status::not_connected);
  CHECK_FALSE(c->last_error().empty());
  h.run_for(300ms);  // a few failed attempts with backoff

  server.start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  auto r = run(h, *c, {{"GET", "k"}});
  REQUIRE(r.ok());
  CHECK(r.replies[0].str == "before");  // the AOF survived kill -9
  CHECK(c->connections() == 2);
  CHECK(answered == 1);
  CHECK(metrics.value(persist::metric_reconnects) >= 2);
  REQUIRE(h.run_until([&] { return states.size() >= 3; }));
  CHECK(states == std::vector<bool>{true, false, true});
}

TEST_CASE("redis_connection: waits for a server that is not there yet") {
  test::redis_server server({.start = false});
  test::io_harness h;
  auto c = redis_connection::create(h.io, options_for(server.url()));
  c->start();
  h.run_for(150ms);
  CHECK_FALSE(c->ready());
  CHECK(c->last_error().find("refused") != std::string::npos);
  server.start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
}

TEST_CASE("redis_connection: AUTH and SELECT after connect; the password never reaches the log") {
  test::redis_server server({.password = "hunter2-secret"});
  test::io_harness h;
  test::log_capture logs;
  {
    auto c = redis_connection::create(h.io, options_for(server.url() + "/3"));
    c->start();
    REQUIRE(h.run_until([&] { return c->ready(); }));
    REQUIRE(run(h, *c, {{"SET", "in-db-3", "yes"}}).ok());
    CHECK(server.command({"GET", "in-db-3"}).is_nil());  // db 0
    CHECK(server.command({"EVAL", "redis.call('SELECT', 3) return redis.call('GET', 'in-db-3')", "0"}).str ==
          "yes");
    c->stop();
  }
  {
    auto bad = options_for("redis://:wrong-password@127.0.0.1:" + std::to_string(server.port()));
    auto c = redis_connection::create(h.io, bad);
    c->start();
    REQUIRE(h.run_until([&] { return c->last_error().find("login refused") != std::string::npos; }));
    CHECK_FALSE(c->ready());
    c->stop();
  }
  CHECK(logs.contains("redis: connected to redis://:***@127.0.0.1"));
  for (const auto& line : logs.lines()) {
    CHECK(line.find("hunter2-secret") == std::string::npos);
    CHECK(line.find("wrong-password") == std::string::npos);
  }
}

TEST_CASE("redis_connection: unix socket") {
  test::redis_server server;
  test::io_harness h;
  auto c = redis_connection::create(h.io, options_for("unix://" + server.socket_path()));
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  auto r = run(h, *c, {{"PING"}});
  REQUIRE(r.ok());
  CHECK(r.replies[0].is_status("PONG"));
}

TEST_CASE("redis_connection: stop answers pending pipelines once and refuses new ones") {
  test::redis_server server;
  test::io_harness h;
  auto c = redis_connection::create(h.io, options_for(server.url()));
  c->start();
  REQUIRE(h.run_until([&] { return c->ready(); }));
  int calls = 0;
  redis_status status{};
  c->execute(redis_connection::command{"BLPOP", "never", "0"}, [&](redis_result r) {
    ++calls;
    status = r.status;
  });
  h.run_for(30ms);
  c->stop();
  c->stop();
  REQUIRE(h.run_until([&] { return calls == 1; }));
  CHECK(status == redis_status::stopped);
  auto after = run(h, *c, {{"PING"}});
  CHECK(after.status == redis_status::stopped);
  h.run_for(100ms);
  CHECK(calls == 1);
  CHECK_FALSE(c->ready());
}

TEST_CASE("redis_connection: destroying it with commands in flight answers them and frees hiredis once") {
  test::redis_server server;
  test::io_harness h;
  int calls = 0;
  {
    auto c = redis_connection::create(h.io, options_for(server.url()));
    c->start();
    REQUIRE(h.run_until([&] { return c->ready(); }));
    c->execute(redis_connection::command{"BLPOP", "never", "0"}, [&](redis_result r) {
      ++calls;
      CHECK(r.status == redis_status::stopped);
    });
    h.run_for(30ms);
  }
  REQUIRE(h.run_until([&] { return calls == 1; }));
}
