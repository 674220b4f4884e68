#include "horao/persist/entry_codec.hpp"

#include <nlohmann/json.hpp>

#include "horao/crdt/cbor.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/crdt/record_cbor.hpp"

namespace horao::persist {
namespace {

using nlohmann::json;

// nlohmann's CBOR reader recurses once per nesting level; refusing to open
// a container past the limit stops the parse before the stack is at risk.
class bounded_dom_sax : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using base = nlohmann::detail::json_sax_dom_parser<json>;
  explicit bounded_dom_sax(json& root) : base(root, false) {}

  bool start_object(std::size_t n) { return enter() && base::start_object(n); }
  bool end_object() {
    --depth_;
    return base::end_object();
  }
  bool start_array(std::size_t n) { return enter() && base::start_array(n); }
  bool end_array() {
    --depth_;
    return base::end_array();
  }
  bool too_deep() const { return too_deep_; }

 private:
  bool enter() {
    if (++depth_ > max_entry_depth) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  std::size_t depth_ = 0;
  bool too_deep_ = false;
};

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

}  // namespace

std::size_t entry_size(std::uint64_t seq, const crdt::record& state) {
  return 1 + crdt::cbor::head_size(seq) + crdt::record_cbor_size(state);
}

char* write_entry(std::uint64_t seq, const crdt::record& state, char* out) {
  auto* bytes = reinterpret_cast<std::uint8_t*>(out);
  bytes = crdt::cbor::write_head(bytes, crdt::cbor::array, 2);
  bytes = crdt::cbor::write_head(bytes, crdt::cbor::unsigned_int, seq);
  bytes = crdt::write_record_cbor(state, bytes);
  return reinterpret_cast<char*>(bytes);
}

std::string encode_entry(std::uint64_t seq, const crdt::record& state) {
  std::string out(entry_size(seq, state), '\0');
  write_entry(seq, state, out.data());
  return out;
}

namespace {

// Format 2: [seq, record]. The reader is iterative and bounded by the input;
// record values are text strings checked by read_record_cbor.
std::optional<decoded_entry> decode_entry_v2(std::string_view bytes, std::string* error) {
  crdt::cbor::reader in(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  if (in.array_length() != 2u) {
    fail(error, "not a record entry: expected a CBOR array [seq, record]");
    return std::nullopt;
  }
  const auto seq = in.unsigned_value();
  if (!seq || *seq == 0 || *seq > max_entry_seq) {
    fail(error, "the sequence must be a number 1.." + std::to_string(max_entry_seq));
    return std::nullopt;
  }
  std::string why;
  auto state = crdt::read_record_cbor(in, &why);
  if (!state) {
    fail(error, "bad record state: " + why);
    return std::nullopt;
  }
  if (!in.at_end()) {
    fail(error, "trailing bytes after the record entry");
    return std::nullopt;
  }
  return decoded_entry{*seq, std::move(*state)};
}

}  // namespace

std::optional<decoded_entry> decode_entry(std::string_view bytes, std::string* error) {
  if (bytes.empty()) {
    fail(error, "empty value");
    return std::nullopt;
  }
  if (bytes.size() > max_entry_bytes) {
    fail(error, "value of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                    std::to_string(max_entry_bytes));
    return std::nullopt;
  }
  // 0x82: an array of two items (format 2); format 1 is a map.
  if (static_cast<std::uint8_t>(bytes.front()) == 0x82) return decode_entry_v2(bytes, error);
  try {
    json j;
    bounded_dom_sax sax(j);
    const bool parsed = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::cbor, true);
    if (sax.too_deep()) {
      fail(error, "CBOR nested deeper than " + std::to_string(max_entry_depth) + " levels");
      return std::nullopt;
    }
    if (!parsed || j.is_discarded()) {
      fail(error, "not valid CBOR");
      return std::nullopt;
    }
    if (!j.is_object() || j.size() != 2 || !j.contains("s") || !j.contains("r")) {
      fail(error, "not a record entry: expected a CBOR map with exactly the members s and r");
      return std::nullopt;
    }
    const json& s = j["s"];
    if (!s.is_number_unsigned() || s.get<std::uint64_t>() == 0 || s.get<std::uint64_t>() > max_entry_seq) {
      fail(error, "member s must be a sequence number 1.." + std::to_string(max_entry_seq));
      return std::nullopt;
    }
    std::string why;
    auto state = crdt::decode_record(j["r"], &why);
    if (!state) {
      fail(error, "bad record state: " + why);
      return std::nullopt;
    }
    return decoded_entry{s.get<std::uint64_t>(), std::move(*state)};
  } catch (const std::exception& e) {  // nlohmann refuses absurd sizes by throwing
    fail(error, std::string("undecodable value: ") + e.what());
    return std::nullopt;
  }
}

}  // namespace horao::persist
