// The RESP text HORAO writes for Redis (persist/resp.hpp): exact bytes for
// known commands, any arguments (binary, empty, large) read back by a RESP
// parser written here from the protocol's description, and refusal of a
// command whose argument count does not match what it announced.

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "horao/persist/resp.hpp"

using horao::persist::resp_pipeline;

namespace {

// Reads one command ("*<n>\r\n" then n times "$<len>\r\n<bytes>\r\n") from
// the front of `text`; empty when the text is not exactly that.
std::vector<std::string> parse_command(std::string_view& text) {
  auto number = [&](char type) -> long {
    if (text.empty() || text.front() != type) return -1;
    const auto end = text.find("\r\n");
    if (end == std::string_view::npos || end == 1) return -1;
    long n = 0;
    for (char c : text.substr(1, end - 1)) {
      if (c < '0' || c > '9') return -1;
      n = n * 10 + (c - '0');
    }
    if (end > 2 && text[1] == '0') return -1;  // Redis refuses leading zeros
    text.remove_prefix(end + 2);
    return n;
  };
  std::vector<std::string> argv;
  const long count = number('*');
  if (count < 1) return {};
  for (long i = 0; i < count; ++i) {
    const long size = number('$');
    if (size < 0 || text.size() < static_cast<std::size_t>(size) + 2) return {};
    argv.emplace_back(text.substr(0, static_cast<std::size_t>(size)));
    if (text.substr(static_cast<std::size_t>(size), 2) != "\r\n") return {};
    text.remove_prefix(static_cast<std::size_t>(size) + 2);
  }
  return argv;
}

}  // namespace

TEST_CASE("resp: the exact text of a pipeline, each command a slice of it") {
  resp_pipeline p;
  p.add({"MULTI"});
  p.add({"SET", "k", ""});
  p.begin(3);
  p.arg("MSET");
  p.arg("horao:r:", "server/a");
  std::memcpy(p.arg_space(3), "x\0y", 3);
  p.add({"EXEC"});
  REQUIRE(p.size() == 4);
  CHECK(p.complete());
  CHECK(p.command(0) == "*1\r\n$5\r\nMULTI\r\n");
  CHECK(p.command(1) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
  CHECK(p.command(2) ==
        std::string_view("*3\r\n$4\r\nMSET\r\n$16\r\nhorao:r:server/a\r\n$3\r\nx\0y\r\n", 46));
  CHECK(p.command(3) == "*1\r\n$4\r\nEXEC\r\n");
  std::string joined;
  for (std::size_t i = 0; i < p.size(); ++i) joined += p.command(i);
  CHECK(joined == p.text());

  p.clear();
  CHECK(p.empty());
  CHECK(p.text().empty());
}

TEST_CASE("resp: any arguments are read back as they were given") {
  std::mt19937 rng(20261204);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::vector<std::string>> commands(1 + rng() % 5);
    for (auto& argv : commands) {
      argv.resize(1 + rng() % 6);
      for (auto& a : argv) {
        const std::size_t size = rng() % 8 == 0 ? 1000 + rng() % 70000 : rng() % 40;
        for (std::size_t i = 0; i < size; ++i) a.push_back(static_cast<char>(rng()));
      }
    }
    resp_pipeline p;
    for (const auto& argv : commands) {
      if (rng() % 2) {
        p.add(argv);
      } else {  // the incremental form, with arguments written in place
        p.begin(argv.size());
        for (const auto& a : argv) std::memcpy(p.arg_space(a.size()), a.data(), a.size());
      }
    }
    REQUIRE(p.size() == commands.size());
    std::string_view rest = p.text();
    for (std::size_t i = 0; i < commands.size(); ++i) {
      std::string_view slice = p.command(i);
      CHECK(parse_command(slice) == commands[i]);
      CHECK(slice.empty());
      CHECK(parse_command(rest) == commands[i]);
    }
    CHECK(rest.empty());
  }
}

TEST_CASE("resp: a command's arguments must match the count it announced") {
  resp_pipeline p;
  CHECK_THROWS_AS(p.begin(0), std::logic_error);
  p.begin(2);
  p.arg("GET");
  CHECK_FALSE(p.complete());
  CHECK_THROWS_AS(p.begin(1), std::logic_error);  // the previous one still lacks an argument
  p.arg("k");
  CHECK(p.complete());
  CHECK_THROWS_AS(p.arg("extra"), std::logic_error);
  CHECK(p.command(0) == "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

TEST_CASE("resp: clear keeps a small buffer and gives a big one back") {
  resp_pipeline p;
  p.add({"SET", "k", std::string(4000, 'v')});
  p.clear(1 << 20);
  p.add({"PING"});
  CHECK(p.command(0) == "*1\r\n$4\r\nPING\r\n");
  p.add({"SET", "k", std::string(2 << 20, 'v')});
  p.clear(1 << 20);
  CHECK(p.empty());
  p.add({"PING"});
  CHECK(p.text() == "*1\r\n$4\r\nPING\r\n");
}
