// Configuration parsing: every key's good and bad forms, the three layers and
// their precedence, the .env syntax, the cross-key rules and describe().
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "horao/app/config.hpp"

using namespace horao::app;
namespace fs = std::filesystem;

namespace {

using env_map = std::map<std::string, std::string>;

// A fresh directory per test, removed afterwards.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("horao-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

// Parses with an explicit, empty .env file so that no ./.env of the test's
// working directory leaks in.
struct parser {
  temp_dir dir;
  std::string empty_env = dir.write("empty.env", "");

  config parse(const env_map& env, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--env-file", empty_env});
    return parse_config(args, env);
  }
  // The config_error message of a parse that must fail.
  std::string error(const env_map& env, std::vector<std::string> args = {}) {
    try {
      parse(env, std::move(args));
    } catch (const config_error& e) {
      return e.what();
    }
    FAIL("expected config_error");
    return {};
  }
  config with(const std::string& key, const std::string& value) { return parse({{key, value}}); }
  std::string error_with(const std::string& key, const std::string& value) { return error({{key, value}}); }
};

std::string describe_value(const config& c, const std::string& key) {
  for (auto& [k, v] : describe(c))
    if (k == key) return v;
  FAIL("no key " << key << " in describe()");
  return {};
}

// Runs `fn` with the working directory set to `dir`.
template <class Fn>
void in_directory(const fs::path& dir, Fn fn) {
  const fs::path before = fs::current_path();
  fs::current_path(dir);
  try {
    fn();
  } catch (...) {
    fs::current_path(before);
    throw;
  }
  fs::current_path(before);
}

}  // namespace

TEST_CASE("config: defaults") {
  parser p;
  const config c = p.parse({});
  CHECK(c.listen == "127.0.0.1");
  CHECK(c.port == 8080);
  CHECK(c.peers.empty());
  CHECK(c.peer_secret.empty());
  CHECK(c.redis_url.empty());
  CHECK(c.redis_prefix == "horao:");
  CHECK(c.redis_timeout_ms == 2000);
  CHECK(c.persist == persist_mode::sync);
  CHECK(c.sync_delta_s == 180);
  CHECK(c.sync_max == 1000);
  CHECK(c.clock_offset_s == 0.0);
  CHECK(c.tombstone_ttl_s == 7 * 86400);
  CHECK(c.planning_window_days == 30);
  CHECK(c.planning_interval_hours == 1);
  CHECK(c.log_level == "info");
  CHECK(c.log_fmt == log_format::text);
  CHECK(c.max_body_bytes == 1048576);
  CHECK(c.tls_cert.empty());
  CHECK(c.tls_key.empty());
  CHECK(c.api_tokens_file.empty());
  CHECK_FALSE(c.allow_open);
  CHECK_FALSE(c.help);
  CHECK_FALSE(c.check_only);

  char host[256] = {};
  REQUIRE(::gethostname(host, sizeof host - 1) == 0);
  CHECK(c.node_id == sanitize_node_id(host));
  CHECK(is_valid_node_id(c.node_id));
}

TEST_CASE("config: NODE_ID") {
  parser p;
  CHECK(p.with("NODE_ID", "dc-ams").node_id == "dc-ams");
  CHECK(p.with("NODE_ID", "A.b_c-9").node_id == "A.b_c-9");
  CHECK(p.with("NODE_ID", std::string(128, 'n')).node_id.size() == 128);
  CHECK(is_valid_node_id(p.with("NODE_ID", "").node_id));  // empty: the host name
  for (std::string bad :
       std::vector<std::string>{"-dc", ".dc", "dc ams", "dc/ams", "dc@ams", "é", std::string(129, 'n')}) {
    INFO(bad);
    const std::string e = p.error_with("NODE_ID", bad);
    CHECK_THAT(e, Catch::StartsWith("NODE_ID: expected an id"));
  }
}

TEST_CASE("config: sanitize_node_id") {
  CHECK(sanitize_node_id("web-01.example.org") == "web-01.example.org");
  CHECK(sanitize_node_id("-_.host name") == "host-name");
  CHECK(sanitize_node_id("") == "horao");
  CHECK(sanitize_node_id("!!!") == "horao");
  CHECK(sanitize_node_id(std::string(300, 'h')).size() == 128);
  CHECK(is_valid_node_id(sanitize_node_id("ünï cødé")));
}

TEST_CASE("config: LISTEN") {
  parser p;
  for (std::string good : {"127.0.0.1", "::1", "localhost", "127.1.2.3"})
    CHECK(p.with("LISTEN", good).listen == good);
  // Non-loopback addresses need ALLOW_OPEN or tokens; the form itself is fine.
  CHECK(p.parse({{"LISTEN", "0.0.0.0"}, {"ALLOW_OPEN", "true"}}).listen == "0.0.0.0");
  CHECK(p.parse({{"LISTEN", "::"}, {"ALLOW_OPEN", "true"}}).listen == "::");
  CHECK(p.parse({{"LISTEN", "fe80::1"}, {"ALLOW_OPEN", "true"}}).listen == "fe80::1");
  for (std::string bad :
       {"", "example.org", "256.0.0.1", "1.2.3", "[::1]", "127.0.0.1:80", " 127.0.0.1", "::g"}) {
    INFO(bad);
    CHECK_THAT(p.error_with("LISTEN", bad),
               Catch::StartsWith("LISTEN: expected an IPv4 or IPv6 address literal") &&
                   Catch::Contains("or localhost"));
  }
}

TEST_CASE("config: is_loopback_listen") {
  CHECK(is_loopback_listen("127.0.0.1"));
  CHECK(is_loopback_listen("127.255.0.9"));
  CHECK(is_loopback_listen("::1"));
  CHECK(is_loopback_listen("::ffff:127.0.0.1"));
  CHECK(is_loopback_listen("localhost"));
  CHECK_FALSE(is_loopback_listen("0.0.0.0"));
  CHECK_FALSE(is_loopback_listen("::"));
  CHECK_FALSE(is_loopback_listen("10.0.0.1"));
  CHECK_FALSE(is_loopback_listen("::ffff:10.0.0.1"));
  CHECK_FALSE(is_loopback_listen("128.0.0.1"));
}

TEST_CASE("config: PORT") {
  parser p;
  CHECK(p.with("PORT", "1").port == 1);
  CHECK(p.with("PORT", "65535").port == 65535);
  CHECK(p.with("PORT", "9000").port == 9000);
  for (std::string bad :
       {"0", "65536", "-1", "80a", "a80", "", " 80", "8.0", "+80", "99999999999999999999"}) {
    INFO(bad);
    CHECK_THAT(p.error_with("PORT", bad),
               Catch::StartsWith("PORT: expected a port number from 1 to 65535, got"));
  }
}

TEST_CASE("config: PEERS and PEER_SECRET") {
  parser p;
  auto c =
      p.parse({{"PEERS", "ws://dc-b:8080, wss://10.0.0.2:443,ws://[::1]:9000/"}, {"PEER_SECRET", "s3cret"}});
  CHECK(c.peers == std::vector<std::string>{"ws://dc-b:8080", "wss://10.0.0.2:443", "ws://[::1]:9000/"});
  CHECK(c.peer_secret == "s3cret");
  CHECK(p.parse({{"PEERS", ""}}).peers.empty());
  CHECK(p.parse({{"PEERS", "ws://a"}, {"PEER_SECRET", "x"}}).peers.size() == 1);
  // A secret alone is fine: this daemon may only accept inbound peers.
  CHECK(p.with("PEER_SECRET", "x").peers.empty());

  for (std::string bad :
       {"http://a:1", "ws://", "ws://a:0", "ws://a:65536", "ws://a:x", "ws://a/path", "ws://u@a",
        "ws://a?x=1", "a:8080", "ws://a,", ",ws://a", "ws://a b", "ws://[::1", "ws://-a"}) {
    INFO(bad);
    CHECK_THAT(p.error({{"PEERS", bad}, {"PEER_SECRET", "x"}}),
               Catch::StartsWith("PEERS: expected comma-separated ws:// or wss:// URLs"));
  }
  CHECK_THAT(p.error({{"PEERS", "ws://a:1,ws://a:1"}, {"PEER_SECRET", "x"}}),
             Catch::StartsWith("PEERS: expected each peer listed once"));

  // Cross-key: peers without a secret.
  const std::string e = p.error_with("PEERS", "ws://dc-b:8080");
  CHECK_THAT(
      e, Catch::StartsWith("PEER_SECRET: required when PEERS is set") && Catch::Contains("authenticated"));

  // A secret never appears in an error message.
  const std::string long_secret = "TOPSECRET" + std::string(5000, 'x');
  const std::string too_long = p.error_with("PEER_SECRET", long_secret);
  CHECK_THAT(too_long, Catch::StartsWith("PEER_SECRET: expected at most 4096 bytes"));
  CHECK(too_long.find("TOPSECRET") == std::string::npos);
}

TEST_CASE("config: parse_peer_url") {
  auto a = parse_peer_url("ws://dc-b.example.org:8080");
  REQUIRE(a);
  CHECK_FALSE(a->tls);
  CHECK(a->host == "dc-b.example.org");
  CHECK(a->port == 8080);
  auto b = parse_peer_url("wss://[2001:db8::1]");
  REQUIRE(b);
  CHECK(b->tls);
  CHECK(b->host == "2001:db8::1");
  CHECK(b->port == 443);
  CHECK(parse_peer_url("ws://h")->port == 80);
  CHECK_FALSE(parse_peer_url("ws://2001:db8::1"));  // IPv6 needs brackets
  CHECK_FALSE(parse_peer_url("wss://h:1/x"));
}

TEST_CASE("config: REDIS_URL") {
  parser p;
  for (std::string good : {"", "redis://localhost", "redis://127.0.0.1:6380/2", "redis://:pw@h:1/0",
                           "redis://user:p%40ss@h", "redis://u:p@ss@h", "redis://[::1]:6379", "redis://h/",
                           "unix:///run/redis.sock", "unix://:pw@/run/redis.sock?db=3"})
    CHECK(p.with("REDIS_URL", good).redis_url == good);
  for (std::string bad : {"localhost:6379", "http://h", "redis://", "redis://h:0", "redis://h:",
                          "redis://h:6379/x", "redis://h/-1", "redis://h/1000001", "unix://relative",
                          "unix://", "unix:///s?db=x", "unix:///s?x=1", "rediss://h", "redis://h?x",
                          "redis://:pw@", "redis://u:%zz@h", "redis://user@h", "redis://user:@h"}) {
    INFO(bad);
    CHECK_THAT(
        p.error_with("REDIS_URL", bad),
        Catch::StartsWith("REDIS_URL: expected empty, redis://[user:password@]host[:port][/db] or unix:///"));
  }
  // A URL may hold a password: a bad one is not echoed.
  CHECK(p.error_with("REDIS_URL", "redis://u:hunter2@h:bad").find("hunter2") == std::string::npos);
}

TEST_CASE("config: REDIS_PREFIX and REDIS_TIMEOUT_MS") {
  parser p;
  CHECK(p.with("REDIS_PREFIX", "dc1:").redis_prefix == "dc1:");
  for (std::string bad : std::vector<std::string>{"", "a b", std::string(65, 'p'), "tab\there"}) {
    INFO(bad);
    CHECK_THAT(p.error_with("REDIS_PREFIX", bad),
               Catch::StartsWith("REDIS_PREFIX: expected 1 to 64 printable"));
  }
  CHECK(p.with("REDIS_TIMEOUT_MS", "10").redis_timeout_ms == 10);
  CHECK(p.with("REDIS_TIMEOUT_MS", "60000").redis_timeout_ms == 60000);
  for (std::string bad : {"9", "60001", "1s", "", "-5"}) {
    INFO(bad);
    CHECK_THAT(
        p.error_with("REDIS_TIMEOUT_MS", bad),
        Catch::StartsWith("REDIS_TIMEOUT_MS: expected a whole number of milliseconds from 10 to 60000"));
  }
}

TEST_CASE("config: PERSIST, LOG_LEVEL, LOG_FORMAT") {
  parser p;
  CHECK(p.with("PERSIST", "async").persist == persist_mode::async);
  CHECK(p.with("PERSIST", "sync").persist == persist_mode::sync);
  for (std::string bad : {"", "SYNC", "asynchronous", "sync "}) {
    INFO(bad);
    CHECK_THAT(p.error_with("PERSIST", bad), Catch::StartsWith("PERSIST: expected sync or async"));
  }
  for (std::string level : {"trace", "debug", "info", "warn", "error", "critical", "off"})
    CHECK(p.with("LOG_LEVEL", level).log_level == level);
  for (std::string bad : {"", "verbose", "INFO", "warning"}) {
    INFO(bad);
    CHECK_THAT(
        p.error_with("LOG_LEVEL", bad),
        Catch::StartsWith("LOG_LEVEL: expected one of trace, debug, info, warn, error, critical, off"));
  }
  CHECK(p.with("LOG_FORMAT", "json").log_fmt == log_format::json);
  CHECK(p.with("LOG_FORMAT", "text").log_fmt == log_format::text);
  CHECK_THAT(p.error_with("LOG_FORMAT", "xml"),
             Catch::StartsWith("LOG_FORMAT: expected text or json, got \"xml\""));
}

TEST_CASE("config: whole-number keys and their ranges") {
  struct range_case {
    std::string key;
    std::string accepted;
    std::vector<std::pair<std::string, std::int64_t>> good;
    std::vector<std::string> bad;
    std::int64_t config::*member;
  };
  const std::vector<range_case> cases = {
      {"SYNC_DELTA",
       "a whole number of seconds >= 0",
       {{"0", 0}, {"60", 60}, {"31536000", 31536000}},
       {"-1", "abc", "60s", "1.5", "", "31536001"},
       &config::sync_delta_s},
      {"SYNC_MAX",
       "a whole number of changes >= 0",
       {{"0", 0}, {"1", 1}, {"1000000000", 1000000000}},
       {"-1", "1e3", "10 ", "1000000001"},
       &config::sync_max},
      {"TOMBSTONE_TTL",
       "a whole number of seconds >= 1",
       {{"1", 1}, {"60", 60}, {"604800", 604800}},
       {"0", "-60", "1w", "1.5", "315360001"},
       &config::tombstone_ttl_s},
      {"PLANNING_WINDOW",
       "a whole number of days from 1 to 3650",
       {{"1", 1}, {"3650", 3650}},
       {"0", "3651", "30d", "-3"},
       &config::planning_window_days},
      {"PLANNING_INTERVAL",
       "a whole number of hours from 1 to 8760",
       {{"1", 1}, {"8760", 8760}},
       {"0", "8761", "1h", "0.5"},
       &config::planning_interval_hours},
  };
  parser p;
  for (const auto& rc : cases) {
    for (const auto& [text, value] : rc.good) {
      INFO(rc.key << "=" << text);
      CHECK(p.with(rc.key, text).*(rc.member) == value);
    }
    for (const auto& text : rc.bad) {
      INFO(rc.key << "=" << text);
      CHECK_THAT(p.error_with(rc.key, text), Catch::StartsWith(rc.key + ": expected " + rc.accepted) &&
                                                 Catch::Contains("got \"" + text + "\""));
    }
  }
  // The example from the design, verbatim.
  CHECK_THAT(p.error_with("SYNC_DELTA", "abc"),
             Catch::StartsWith("SYNC_DELTA: expected a whole number of seconds >= 0") &&
                 Catch::Contains("got \"abc\""));
}

TEST_CASE("config: MAX_BODY_BYTES") {
  parser p;
  CHECK(p.with("MAX_BODY_BYTES", "1024").max_body_bytes == 1024);
  CHECK(p.with("MAX_BODY_BYTES", "1073741824").max_body_bytes == 1073741824);
  for (std::string bad : {"1023", "1073741825", "1M", "", "-1"}) {
    INFO(bad);
    CHECK_THAT(p.error_with("MAX_BODY_BYTES", bad),
               Catch::StartsWith("MAX_BODY_BYTES: expected a whole number of bytes from 1024 to 1073741824"));
  }
}

TEST_CASE("config: CLOCK_OFFSET") {
  parser p;
  CHECK(p.with("CLOCK_OFFSET", "0").clock_offset_s == 0.0);
  CHECK(p.with("CLOCK_OFFSET", "0.0").clock_offset_s == 0.0);
  CHECK(p.with("CLOCK_OFFSET", "0.25").clock_offset_s == 0.25);
  CHECK(p.with("CLOCK_OFFSET", "5").clock_offset_s == 5.0);
  for (std::string bad : {"-0.1", "abc", "1s", "nan", "inf", "", "1e2", "86401", "0.5.1"}) {
    INFO(bad);
    CHECK_THAT(p.error_with("CLOCK_OFFSET", bad),
               Catch::StartsWith("CLOCK_OFFSET: expected a number of seconds >= 0"));
  }
}

TEST_CASE("config: ALLOW_OPEN") {
  parser p;
  for (std::string yes : {"true", "1", "yes", "TRUE", "Yes"}) CHECK(p.with("ALLOW_OPEN", yes).allow_open);
  for (std::string no : {"false", "0", "no", "False"}) CHECK_FALSE(p.with("ALLOW_OPEN", no).allow_open);
  for (std::string bad : {"", "y", "2", "truee", "true1", "on"}) {
    INFO(bad);
    CHECK_THAT(p.error_with("ALLOW_OPEN", bad),
               Catch::StartsWith("ALLOW_OPEN: expected true, false, 1, 0, yes or no"));
  }
}

TEST_CASE("config: listening on a non-loopback address needs tokens or ALLOW_OPEN") {
  parser p;
  const std::string e = p.error_with("LISTEN", "0.0.0.0");
  CHECK_THAT(e, Catch::StartsWith("LISTEN: refusing to listen on 0.0.0.0 without API_TOKENS_FILE") &&
                    Catch::Contains("ALLOW_OPEN=true"));
  CHECK_THAT(p.error_with("LISTEN", "::"), Catch::StartsWith("LISTEN: refusing"));
  CHECK(p.parse({{"LISTEN", "0.0.0.0"}, {"ALLOW_OPEN", "yes"}}).allow_open);
  const std::string tokens = p.dir.write("tokens", "");
  CHECK(p.parse({{"LISTEN", "0.0.0.0"}, {"API_TOKENS_FILE", tokens}}).api_tokens_file == tokens);
}

TEST_CASE("config: TLS_CERT, TLS_KEY and API_TOKENS_FILE must name readable files") {
  parser p;
  const std::string cert = p.dir.write("cert.pem", "cert");
  const std::string key = p.dir.write("key.pem", "key");
  auto c = p.parse({{"TLS_CERT", cert}, {"TLS_KEY", key}});
  CHECK(c.tls_cert == cert);
  CHECK(c.tls_key == key);

  CHECK_THAT(p.error_with("TLS_CERT", cert), Catch::StartsWith("TLS_KEY: TLS_CERT and TLS_KEY go together"));
  CHECK_THAT(p.error_with("TLS_KEY", key), Catch::StartsWith("TLS_CERT: TLS_CERT and TLS_KEY go together"));
  const std::string missing = (p.dir.path / "nope.pem").string();
  CHECK_THAT(p.error({{"TLS_CERT", missing}, {"TLS_KEY", key}}),
             Catch::StartsWith("TLS_CERT: cannot read") && Catch::Contains("no such file"));
  CHECK_THAT(p.error({{"TLS_CERT", cert}, {"TLS_KEY", p.dir.path.string()}}),
             Catch::StartsWith("TLS_KEY: cannot read") && Catch::Contains("not a regular file"));

  const std::string tokens = p.dir.write("tokens.txt", "");
  CHECK(p.with("API_TOKENS_FILE", tokens).api_tokens_file == tokens);
  CHECK_THAT(p.error_with("API_TOKENS_FILE", missing), Catch::StartsWith("API_TOKENS_FILE: cannot read"));
}

TEST_CASE("config: flags") {
  parser p;
  CHECK(p.parse({}, {"--sync-delta=60"}).sync_delta_s == 60);
  CHECK(p.parse({}, {"--sync-delta", "61"}).sync_delta_s == 61);
  CHECK(p.parse({}, {"--peer-secret=a=b"}).peer_secret == "a=b");  // only the first '=' splits
  CHECK(p.parse({}, {"--log-format", "json", "--port=9"}).port == 9);
  CHECK(p.parse({}, {"--port=9", "--port=10"}).port == 10);  // the last one wins
  CHECK(p.parse({}, {"--check-config"}).check_only);

  CHECK_THAT(p.error({}, {"--sync-detla=60"}),
             Catch::StartsWith("unknown flag --sync-detla") && Catch::Contains("did you mean --sync-delta?"));
  CHECK_THAT(p.error({}, {"--SYNC_DELTA=60"}), Catch::StartsWith("unknown flag --SYNC_DELTA"));
  CHECK_THAT(p.error({}, {"--port"}), Catch::StartsWith("--port: expects a value"));
  CHECK_THAT(p.error({}, {"--port", "--log-level=info"}), Catch::StartsWith("--port: expects a value"));
  CHECK_THAT(p.error({}, {"serve"}), Catch::StartsWith("unexpected argument \"serve\""));
  CHECK_THAT(p.error({}, {"-p", "80"}), Catch::StartsWith("unexpected argument \"-p\""));
  CHECK_THAT(p.error({}, {"--port=0"}),
             Catch::StartsWith("PORT: expected") && Catch::Contains("(from --port)"));
}

TEST_CASE("config: --help skips validation") {
  const config c = parse_config({"--port=nonsense", "--help"}, {{"SYNC_DELTA", "bad"}});
  CHECK(c.help);
  CHECK(parse_config({"--no-such-flag", "-h"}, {}).help);
  const std::string help = help_text();
  for (const auto& [key, value] : describe(config{})) {
    INFO(key);
    CHECK(help.find(key) != std::string::npos);
    std::string flag = "--";
    for (char ch : key)
      flag += ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    CHECK(help.find(flag) != std::string::npos);
  }
  CHECK(help.find("--env-file") != std::string::npos);
}

TEST_CASE("config: precedence flags > environment > .env > defaults") {
  temp_dir dir;
  const std::string env_file = dir.write("x.env", "SYNC_DELTA=10\nSYNC_MAX=11\nPLANNING_WINDOW=12\n");
  const env_map env = {{"SYNC_MAX", "21"}, {"PLANNING_WINDOW", "22"}};
  const config c = parse_config({"--env-file", env_file, "--planning-window=32"}, env);
  CHECK(c.sync_delta_s == 10);            // .env over the default
  CHECK(c.sync_max == 21);                // environment over .env
  CHECK(c.planning_window_days == 32);    // flag over environment
  CHECK(c.planning_interval_hours == 1);  // default
  CHECK(c.env_file == env_file);

  // Only the effective value is validated: a bad value that a higher layer
  // overrides does no harm; the message says where an effective bad value came from.
  const std::string shadowed = dir.write("bad.env", "PORT=junk\n");
  CHECK(parse_config({"--env-file", shadowed}, {{"PORT", "9000"}}).port == 9000);
  try {
    parse_config({"--env-file", shadowed}, {});
    FAIL("expected config_error");
  } catch (const config_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("PORT: expected a port number") &&
                                          Catch::Contains("(from " + shadowed + " line 1)"));
  }
}

TEST_CASE("config: unknown environment variables are ignored") {
  parser p;
  const config c = p.parse({{"HOME", "/root"}, {"SYNC_DETLA", "x"}, {"sync_delta", "x"}, {"PATH", "/bin"}});
  CHECK(c.sync_delta_s == 180);
}

TEST_CASE("config: .env syntax") {
  temp_dir dir;
  auto parse_file = [&](const std::string& text, env_map env = {}) {
    return parse_config({"--env-file", dir.write("t.env", text)}, env);
  };
  auto error_of = [&](const std::string& text) -> std::string {
    try {
      parse_file(text);
    } catch (const config_error& e) {
      return e.what();
    }
    FAIL("expected config_error for " << text);
    return {};
  };

  const config c = parse_file(
      "# a comment\n"
      "\n"
      "   \n"
      "NODE_ID=dc-ams\n"
      "export PORT=9001\n"
      "  export\tSYNC_MAX = 7  \n"
      "PEER_SECRET=\"with spaces # and a hash \\\" quote\"\n"
      "REDIS_PREFIX=dc#1:   # a '#' after a space starts a comment, one inside a word does not\n"
      "LOG_LEVEL=debug # inline comment\r\n"
      "  # indented comment\n"
      "SYNC_DELTA=\"5\"\n"
      "LOG_FORMAT=text\n"
      "LOG_FORMAT=json\n");  // the last line for a key wins
  CHECK(c.node_id == "dc-ams");
  CHECK(c.port == 9001);
  CHECK(c.sync_max == 7);
  CHECK(c.peer_secret == "with spaces # and a hash \" quote");
  CHECK(c.redis_prefix == "dc#1:");
  CHECK(c.log_level == "debug");
  CHECK(c.sync_delta_s == 5);
  CHECK(c.log_fmt == log_format::json);

  CHECK(parse_file("REDIS_PREFIX='lit\\eral#x'  # comment\n").redis_prefix == "lit\\eral#x");
  CHECK(parse_file("PEER_SECRET=\"a\\nb\"\n").peer_secret == "a\nb");
  CHECK(parse_file("PEER_SECRET=''\n").peer_secret.empty());
  CHECK(parse_file("PEER_SECRET=\n").peer_secret.empty());
  CHECK(parse_file("").port == 8080);

  CHECK_THAT(error_of("SYNC_DETLA=60\n"), Catch::StartsWith("SYNC_DETLA: unknown key in") &&
                                              Catch::Contains("t.env line 1") &&
                                              Catch::Contains("did you mean SYNC_DELTA?"));
  CHECK_THAT(error_of("sync_delta=60\n"), Catch::StartsWith("sync_delta: unknown key"));
  CHECK_THAT(error_of("\n\nPORT\n"), Catch::Contains("t.env line 3: no '='"));
  CHECK_THAT(error_of("PEER_SECRET=\"open\n"), Catch::Contains("line 1: unterminated double quote"));
  CHECK_THAT(error_of("PEER_SECRET='open\n"), Catch::Contains("line 1: unterminated single quote"));
  CHECK_THAT(error_of("PEER_SECRET=\"a\" b\n"), Catch::Contains("line 1: text after the closing quote"));
  CHECK_THAT(error_of("=value\n"), Catch::Contains("line 1: bad key"));
  CHECK_THAT(error_of("MY KEY=1\n"), Catch::Contains("line 1: bad key"));
  CHECK_THAT(error_of("PORT=80 80\n"), Catch::StartsWith("PORT: expected a port number"));
  CHECK_THAT(error_of(std::string(1 << 20, '#') + "\n"), Catch::Contains("larger than 1 MiB"));
  CHECK_THAT(error_of(std::string("LISTEN=127.0.0.1\0junk\n", 22)), Catch::Contains("contains a NUL byte"));
}

TEST_CASE("config: the PEERS line with an in-value hash") {
  temp_dir dir;
  const std::string f = dir.write("p.env", "PEERS=ws://a:1 # comment\nPEER_SECRET=x\n");
  const config c = parse_config({"--env-file", f}, {});
  CHECK(c.peers == std::vector<std::string>{"ws://a:1"});
}

TEST_CASE("config: the .env file location") {
  temp_dir dir;
  // An explicit file that does not exist is an error...
  try {
    parse_config({"--env-file", (dir.path / "missing.env").string()}, {});
    FAIL("expected config_error");
  } catch (const config_error& e) {
    CHECK_THAT(std::string(e.what()),
               Catch::StartsWith("--env-file: cannot read") && Catch::Contains("missing.env"));
  }
  // ...a missing ./.env is fine, and an existing ./.env is read.
  in_directory(dir.path, [&] {
    CHECK(parse_config({}, {}).port == 8080);
    dir.write(".env", "PORT=9002\n");
    CHECK(parse_config({}, {}).port == 9002);
    CHECK(parse_config({}, {}).env_file == ".env");
  });
}

TEST_CASE("config: describe lists every key once, secrets masked") {
  parser p;
  const config c = p.parse({{"PEER_SECRET", "hunter2"},
                            {"PEERS", "ws://b:1"},
                            {"REDIS_URL", "redis://admin:pa55@redis:6379/1"},
                            {"SYNC_DELTA", "42"},
                            {"CLOCK_OFFSET", "0.5"}});
  const auto d = describe(c);
  std::set<std::string> names;
  for (const auto& [k, v] : d) {
    CHECK(names.insert(k).second);
    CHECK(v.find("hunter2") == std::string::npos);
    CHECK(v.find("pa55") == std::string::npos);
  }
  const std::set<std::string> expected = {"NODE_ID",       "LISTEN",           "PORT",
                                          "PEERS",         "PEER_SECRET",      "REDIS_URL",
                                          "REDIS_PREFIX",  "REDIS_TIMEOUT_MS", "PERSIST",
                                          "SYNC_DELTA",    "SYNC_MAX",         "CLOCK_OFFSET",
                                          "TOMBSTONE_TTL", "PLANNING_WINDOW",  "PLANNING_INTERVAL",
                                          "LOG_LEVEL",     "LOG_FORMAT",       "MAX_BODY_BYTES",
                                          "TLS_CERT",      "TLS_KEY",          "API_TOKENS_FILE",
                                          "ALLOW_OPEN"};
  CHECK(names == expected);
  CHECK(describe_value(c, "PEER_SECRET") == "********");
  CHECK(describe_value(c, "REDIS_URL") == "redis://admin:********@redis:6379/1");
  CHECK(describe_value(c, "SYNC_DELTA") == "42");
  CHECK(describe_value(c, "CLOCK_OFFSET") == "0.5");
  CHECK(describe_value(c, "PEERS") == "ws://b:1");
  CHECK(describe_value(p.parse({}), "PEER_SECRET").empty());
  CHECK(describe_value(p.with("REDIS_URL", "redis://h:1"), "REDIS_URL") == "redis://h:1");
  CHECK(describe_value(p.with("REDIS_URL", "redis://u:p@ss@h"), "REDIS_URL") == "redis://u:********@h");
  CHECK(describe_value(p.with("REDIS_URL", "unix://:pw@/r.sock"), "REDIS_URL") == "unix://:********@/r.sock");
}
