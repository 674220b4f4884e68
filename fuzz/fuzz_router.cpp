// libFuzzer target for the router (issue 3 item 8): the fuzzer's bytes become
// one request, answered by a router over an in-memory store pre-filled with a
// small datacenter. The router must never crash, never answer twice or not at
// all, always answer a known status, and never leave the state changed after
// an error. Run with fuzz/CMakeLists.txt (clang, -fsanitize=fuzzer,address,undefined).
//
// Input layout (every part optional; missing parts are empty):
//   byte 0      method: GET PUT PATCH DELETE POST HEAD BREW (mod 7)
//   byte 1      content type: JSON, JSON+charset, merge-patch, text/plain, none (mod 5)
//   byte 2      flags: 1 = API_TOKENS_FILE set, 2 = durability refuses writes,
//               4 = durability fails after applying
//   line        target ("/v1/servers?limit=3")
//   line        Authorization header
//   line        If-Match header
//   rest        body

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "horao/api/router.hpp"
#include "horao/api/sha256.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/relations.hpp"

namespace {

using namespace horao;

struct fixed_time final : crdt::time_source {
  std::int64_t now_us() const override { return 1'780'000'000'000'000; }
};

struct fuzz_durability final : store::durability {
  bool accepting = true;
  bool confirm = true;
  void when_durable(std::uint64_t, std::function<void(bool)> done) override { done(confirm); }
  bool accepting_writes(std::string* reason) const override {
    if (!accepting && reason) *reason = "redis down";
    return accepting;
  }
};

std::string_view take_line(std::string_view& in) {
  const auto nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

void seed(api::router& r) {
  const std::pair<const char*, const char*> resources[] = {
      {"/v1/datacenters/dc1", R"({"name":"A","number":1})"},
      {"/v1/cabinets/cab1", R"({"datacenter":"dc1","row":1,"position":1})"},
      {"/v1/chassis/ch1", R"({"cabinet":"cab1","position":1})"},
      {"/v1/blades/b1", R"({"chassis":"ch1","position":1})"},
      {"/v1/nodes/n1", R"({"blade":"b1","cpus":[{"cores":8}]})"},
      {"/v1/servers/s1", R"({"cabinet":"cab1","ram":[{"size_gb":64}],"status":"down"})"},
      {"/v1/disks/d1", R"({"machine":"server/s1","capacity_tb":2.5})"},
      {"/v1/networks/net1", R"({"datacenter":"dc1","network_type":"data","hsn":true})"},
      {"/v1/tenants/t1", R"({"owner":"alice","constraints":{"cpu":64}})"},
      {"/v1/vms/vm1", R"({"host":"server/s1","cpu":2,"ram_gb":4,"tenant":"t1"})"},
      {"/v1/reservations/r1", R"({"tenant":"t1","resources":[{"type":"compute","cpu":2,"ram_gb":4}]})"},
  };
  for (const auto& [target, body] : resources) {
    api::request req;
    req.method = "PUT";
    req.target = target;
    req.body = body;
    req.content_type = "application/json";
    req.authorization = "Bearer admin";  // ignored when the API is open
    int status = 0;
    r.handle(req, [&](api::response res) { status = res.status; });
    if (status != 201) std::abort();  // the seed itself must be valid
  }
}

bool known_status(int s) {
  switch (s) {
    case 200:
    case 201:
    case 202:
    case 204:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 409:
    case 412:
    case 413:
    case 415:
    case 422:
    case 503:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const char* const methods[] = {"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "BREW"};
  static const char* const types[] = {"application/json", "application/json; charset=utf-8",
                                      "application/merge-patch+json", "text/plain", ""};
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto byte = [&](std::size_t i) { return i < size ? data[i] : std::uint8_t{0}; };
  const std::uint8_t flags = byte(2);
  in.remove_prefix(std::min<std::size_t>(3, in.size()));

  // A fresh daemon per input: runs stay independent and reproducible.
  fixed_time time;
  crdt::hybrid_clock clock(*crdt::node_names().intern("dc-fuzz"), time);
  store::record_store store(clock);
  domain::relation_index relations(store);
  fuzz_durability durability;
  app::metric_registry metrics;
  app::config config;
  config.max_body_bytes = 64 * 1024;
  api::router_context ctx{store, durability, metrics, config, relations};
  if (flags & 1)
    ctx.tokens = std::make_shared<api::token_table>(api::token_table::parse(
        api::to_hex(api::sha256("admin")) + " admin\n" + api::to_hex(api::sha256("reader")) + " reader\n" +
        api::to_hex(api::sha256("t1")) + " tenant t1\n"));
  api::router router(std::move(ctx));
  seed(router);
  durability.accepting = !(flags & 2);
  durability.confirm = !(flags & 4);

  api::request req;
  req.method = methods[byte(0) % 7];
  req.content_type = types[byte(1) % 5];
  req.target = std::string(take_line(in));
  req.authorization = std::string(take_line(in));
  req.if_match = std::string(take_line(in));
  req.body = std::string(in);

  const auto seq = store.seq();
  const auto digest = store.digest();
  int answers = 0;
  std::optional<api::response> answer;
  router.handle(req, [&](api::response r) {
    ++answers;
    answer = std::move(r);
  });
  if (answers != 1 || !known_status(answer->status)) std::abort();
  // A refusal changes nothing (a 503 after durability failed is the one
  // answer that follows an applied write).
  const bool refused = answer->status >= 400 && !(answer->status == 503 && (flags & 4) && !(flags & 2));
  if (refused && (store.seq() != seq || store.digest() != digest)) std::abort();
  return 0;
}
