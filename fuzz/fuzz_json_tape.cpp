// Differential libFuzzer target for crdt/json_tape against nlohmann's parser,
// the reference: any bytes go to both. The tape must never crash; whatever it
// accepts, nlohmann accepts too and prints the same canonical text; whatever
// nlohmann accepts and the tape refuses must repeat an object member (which
// the API refuses on purpose) or nest deeper than the limit. A raw NUL byte
// is refused outright. Run with fuzz/CMakeLists.txt (clang,
// -fsanitize=fuzzer,address,undefined).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "horao/crdt/json_tape.hpp"

namespace {

constexpr std::size_t max_depth = 64;

std::size_t members_kept(const nlohmann::json& j) {
  std::size_t n = 0;
  if (j.is_object()) {
    n += j.size();
    for (const auto& [k, v] : j.items()) n += members_kept(v);
  } else if (j.is_array()) {
    for (const auto& v : j) n += members_kept(v);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto tape = horao::crdt::json_tape::parse(std::string_view(text), max_depth);
  // JSON has no place for a raw NUL byte; nlohmann takes one as the end of
  // its input, so it is no reference for such texts.
  if (text.find('\0') != std::string::npos) {
    if (std::holds_alternative<horao::crdt::json_tape>(tape)) std::abort();
    return 0;
  }
  const nlohmann::json reference = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (const auto* t = std::get_if<horao::crdt::json_tape>(&tape)) {
    if (reference.is_discarded()) std::abort();  // the tape took what JSON does not allow
    std::string canonical;
    horao::crdt::append_canonical(*t, horao::crdt::json_tape::root, canonical);
    if (canonical != reference.dump()) std::abort();
    return 0;
  }
  if (reference.is_discarded()) return 0;  // both refuse
  // nlohmann accepted what the tape refused: only a repeated member or depth.
  using event_t = nlohmann::json::parse_event_t;
  std::size_t keys = 0, nesting = 0;
  (void)nlohmann::json::parse(text, [&](int depth, event_t event, nlohmann::json&) {
    keys += event == event_t::key;
    // A container's start comes with the number of containers around it.
    if (event == event_t::object_start || event == event_t::array_start)
      nesting = std::max(nesting, static_cast<std::size_t>(depth) + 1);
    return true;
  });
  if (nesting <= max_depth && members_kept(reference) == keys) std::abort();
  return 0;
}
