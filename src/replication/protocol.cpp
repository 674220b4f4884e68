#include "horao/replication/protocol.hpp"

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "horao/app/config.hpp"
#include "horao/crdt/bounded_json.hpp"
#include "horao/crdt/cbor.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/crdt/record_cbor.hpp"
#include "horao/crdt/utf8.hpp"

namespace horao::replication {
namespace {

using nlohmann::json;

using crdt::valid_utf8;
using crdt::cbor::put_head;
using crdt::cbor::put_text;

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// Member `name` of object `j` as an unsigned integer.
bool get_u64(const json& j, const char* name, std::uint64_t& out, std::string* error) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned())
    return fail(error, std::string("member '") + name + "' must be an unsigned integer");
  out = it->get<std::uint64_t>();
  return true;
}

bool get_text(const json& j, const char* name, std::size_t max, std::string& out, std::string* error) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_string())
    return fail(error, std::string("member '") + name + "' must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) return fail(error, std::string("member '") + name + "' is too long");
  out = s;
  return true;
}

bool get_hash(const json& j, const char* name, crdt::hash128& out, std::string* error) {
  const auto it = j.find(name);
  if (it == j.end() || !it->is_binary() || it->get_binary().size() != 16)
    return fail(error, std::string("member '") + name + "' must be 16 bytes");
  out = read_hash(it->get_binary().data());
  return true;
}

bool exact_members(const json& j, std::size_t n, std::string* error) {
  if (j.size() != n) return fail(error, "unexpected members in message");
  return true;
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > max_key_bytes) return false;
  const auto slash = key.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == key.size()) return false;
  for (unsigned char c : key)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

bool is_power_of_two(std::uint64_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

std::optional<message> decode_hello(const json& j, std::string* error) {
  hello_message h;
  std::uint64_t v = 0;
  if (!get_u64(j, "v", v, error)) return std::nullopt;
  if (!get_text(j, "node", 128, h.node, error)) return std::nullopt;
  if (!app::is_valid_node_id(h.node)) {
    fail(error, "hello: node id '" + h.node + "' is not a valid NODE_ID");
    return std::nullopt;
  }
  if (v > 0xffffffffULL) {
    fail(error, "hello: version out of range");
    return std::nullopt;
  }
  h.version = static_cast<std::uint32_t>(v);
  // Another version: return what identifies the peer, so the caller can say
  // clearly who speaks which version; the rest may have another shape.
  if (h.version != protocol_version) return h;
  if (!exact_members(j, 10, error) || !get_text(j, "proof", 64, h.proof, error) ||
      !get_u64(j, "epoch", h.epoch, error) || !get_hash(j, "digest", h.digest, error) ||
      !get_u64(j, "seq", h.seq, error) || !get_u64(j, "records", h.records, error) ||
      !get_u64(j, "received", h.received, error) || !get_u64(j, "received_epoch", h.received_epoch, error))
    return std::nullopt;
  return h;
}

// Deltas are read by hand, not through a JSON tree: they carry nearly every
// byte replication moves. The map's members may come in any order (the
// builder writes t, records, from, to); records may be a definite or an
// indefinite array.
std::optional<message> decode_deltas(std::span<const std::uint8_t> bytes, std::string* error) {
  crdt::cbor::reader in(bytes);
  auto refuse = [&](std::string why) -> std::optional<message> {
    fail(error, "deltas: " + std::move(why));
    return std::nullopt;
  };
  const auto members = in.head(crdt::cbor::map);
  if (members != 4u) return refuse("a deltas message is a map of exactly t, records, from and to");
  deltas_message d;
  bool have_t = false, have_from = false, have_to = false, have_records = false;
  std::unordered_set<std::string_view> seen;
  for (int m = 0; m < 4; ++m) {
    const auto name = in.text();
    if (!name) return refuse("member names must be text");
    if (*name == "t" && !have_t) {
      have_t = true;
      if (in.text() != std::optional<std::string_view>("deltas")) return refuse("t must be \"deltas\"");
    } else if (*name == "from" && !have_from) {
      have_from = true;
      const auto v = in.unsigned_value();
      if (!v) return refuse("member 'from' must be an unsigned integer");
      d.from_seq = *v;
    } else if (*name == "to" && !have_to) {
      have_to = true;
      const auto v = in.unsigned_value();
      if (!v) return refuse("member 'to' must be an unsigned integer");
      d.to_seq = *v;
    } else if (*name == "records" && !have_records) {
      have_records = true;
      std::optional<std::uint64_t> count;  // nullopt: indefinite, until a break
      if (in.peek() == 0x9f) {
        in.skip_byte();
      } else if (!(count = in.array_length())) {
        return refuse("member 'records' must be an array");
      }
      for (std::uint64_t i = 0; count ? i < *count : in.peek() != crdt::cbor::break_byte; ++i) {
        if (in.array_length() != 2u) return refuse("a record must be [key, state]");
        const auto key = in.text();
        if (!key) return refuse("a record must be [key, state]");
        if (!valid_utf8(*key)) return refuse("a key is not UTF-8");
        if (!valid_key(*key)) return refuse("bad key");
        if (!seen.insert(*key).second) return refuse("duplicate key '" + std::string(*key) + "'");
        std::string why;
        auto state = crdt::read_record_cbor(in, &why);
        if (!state) return refuse("record '" + std::string(*key) + "': " + why);
        d.records.push_back({std::string(*key), std::move(*state)});
      }
      if (!count) in.skip_byte();  // the break
    } else {
      return refuse("unexpected or repeated member '" + std::string(name->substr(0, 32)) + "'");
    }
  }
  if (!in.at_end()) return refuse("bytes after the message");
  if (d.from_seq > d.to_seq) return refuse("from > to");
  if (d.from_seq == d.to_seq && !d.records.empty()) return refuse("records in an empty range");
  return d;
}

// Whether a frame is a deltas message: a map whose member t is "deltas".
// Steps over the other members without reading them.
bool is_deltas_frame(std::span<const std::uint8_t> bytes) {
  crdt::cbor::reader in(bytes);
  const auto members = in.head(crdt::cbor::map);
  if (!members || *members > 16) return false;
  for (std::uint64_t m = 0; m < *members; ++m) {
    const auto name = in.text();
    if (!name) return false;
    if (*name == "t") return in.text() == std::optional<std::string_view>("deltas");
    if (!in.skip(max_frame_depth)) return false;
  }
  return false;
}

std::optional<message> decode_reject(const json& j, std::string* error) {
  reject_message r;
  std::string reason;
  if (!exact_members(j, 4, error) || !get_text(j, "reason", 32, reason, error) ||
      !get_text(j, "message", max_reason_bytes, r.message, error) || !get_u64(j, "to", r.to_seq, error))
    return std::nullopt;
  if (reason == "clock")
    r.reason = reject_reason::clock;
  else if (reason == "unavailable")
    r.reason = reject_reason::unavailable;
  else if (reason == "invalid")
    r.reason = reject_reason::invalid;
  else {
    fail(error, "reject: unknown reason");
    return std::nullopt;
  }
  return r;
}

std::optional<message> decode_root(json& j, std::string* error) {
  if (!j.is_object()) {
    fail(error, "a message must be a map");
    return std::nullopt;
  }
  std::string type;
  if (!get_text(j, "t", 16, type, error)) return std::nullopt;
  if (type == "hello") return decode_hello(j, error);
  if (type == "deltas") {  // only reached when the frame is too malformed to tell
    fail(error, "deltas: malformed message");
    return std::nullopt;
  }
  if (type == "ack") {
    ack_message a;
    if (!exact_members(j, 2, error) || !get_u64(j, "seq", a.seq, error)) return std::nullopt;
    return a;
  }
  if (type == "reject") return decode_reject(j, error);
  if (type == "bucket_req") {
    std::uint64_t n = 0;
    if (!exact_members(j, 2, error) || !get_u64(j, "n", n, error)) return std::nullopt;
    if (n < min_buckets || n > max_buckets || !is_power_of_two(n)) {
      fail(error, "bucket_req: bad bucket count");
      return std::nullopt;
    }
    return bucket_request_message{static_cast<std::uint32_t>(n)};
  }
  if (type == "buckets") {
    std::uint64_t n = 0;
    if (!exact_members(j, 3, error) || !get_u64(j, "n", n, error)) return std::nullopt;
    if (n < min_buckets || n > max_buckets || !is_power_of_two(n)) {
      fail(error, "buckets: bad bucket count");
      return std::nullopt;
    }
    const auto it = j.find("digests");
    if (it == j.end() || !it->is_binary() || it->get_binary().size() != 16 * n) {
      fail(error, "buckets: member 'digests' must be 16 n bytes");
      return std::nullopt;
    }
    buckets_message b;
    b.digests.reserve(n);
    const auto* p = it->get_binary().data();
    for (std::uint64_t i = 0; i < n; ++i) b.digests.push_back(read_hash(p + 16 * i));
    return b;
  }
  if (type == "keys_req") {
    std::uint64_t n = 0;
    if (!exact_members(j, 3, error) || !get_u64(j, "n", n, error)) return std::nullopt;
    if (n < min_buckets || n > max_buckets || !is_power_of_two(n)) {
      fail(error, "keys_req: bad bucket count");
      return std::nullopt;
    }
    const auto it = j.find("buckets");
    if (it == j.end() || !it->is_binary() || it->get_binary().size() % 4 != 0 ||
        it->get_binary().size() / 4 > n) {
      fail(error, "keys_req: member 'buckets' must be at most n 4-byte indices");
      return std::nullopt;
    }
    keys_request_message k;
    k.buckets = static_cast<std::uint32_t>(n);
    const auto& bytes = it->get_binary();
    for (std::size_t i = 0; i < bytes.size(); i += 4) {
      const std::uint32_t b = std::uint32_t{bytes[i]} << 24 | std::uint32_t{bytes[i + 1]} << 16 |
                              std::uint32_t{bytes[i + 2]} << 8 | std::uint32_t{bytes[i + 3]};
      if (b >= n || (!k.wanted.empty() && b <= k.wanted.back())) {
        fail(error, "keys_req: bucket indices must be ascending and below n");
        return std::nullopt;
      }
      k.wanted.push_back(b);
    }
    return k;
  }
  if (type == "keys") {
    std::uint64_t n = 0;
    if (!exact_members(j, 4, error) || !get_u64(j, "n", n, error)) return std::nullopt;
    if (n < min_buckets || n > max_buckets || !is_power_of_two(n)) {
      fail(error, "keys: bad bucket count");
      return std::nullopt;
    }
    const auto c = j.find("complete");
    const auto it = j.find("entries");
    if (c == j.end() || !c->is_boolean() || it == j.end() || !it->is_binary() ||
        it->get_binary().size() % 24 != 0 || it->get_binary().size() / 24 > max_key_entries) {
      fail(error, "keys: members 'complete' (bool) and 'entries' (24-byte entries) expected");
      return std::nullopt;
    }
    keys_message k;
    k.buckets = static_cast<std::uint32_t>(n);
    k.complete = c->get<bool>();
    const auto& bytes = it->get_binary();
    if (!k.complete && !bytes.empty()) {
      fail(error, "keys: an incomplete answer lists nothing");
      return std::nullopt;
    }
    k.entries.reserve(bytes.size() / 24);
    for (std::size_t i = 0; i < bytes.size(); i += 24) {
      key_entry e;
      for (int b = 0; b < 8; ++b) e.key_id = (e.key_id << 8) | bytes[i + b];
      e.hash = read_hash(bytes.data() + i + 8);
      k.entries.push_back(e);
    }
    return k;
  }
  fail(error, "unknown message type '" + type + "'");
  return std::nullopt;
}

json binary_of_hash(const crdt::hash128& h) {
  std::vector<std::uint8_t> bytes;
  append_hash(bytes, h);
  return json::binary(std::move(bytes));
}

}  // namespace

std::string_view to_string(reject_reason r) {
  switch (r) {
    case reject_reason::clock:
      return "clock";
    case reject_reason::unavailable:
      return "unavailable";
    case reject_reason::invalid:
      return "invalid";
  }
  return "invalid";
}

void append_hash(std::vector<std::uint8_t>& out, const crdt::hash128& h) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(h.hi >> (8 * i)));
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(h.lo >> (8 * i)));
}

crdt::hash128 read_hash(const std::uint8_t* p) {
  crdt::hash128 h;
  for (int i = 0; i < 8; ++i) h.hi = (h.hi << 8) | p[i];
  for (int i = 8; i < 16; ++i) h.lo = (h.lo << 8) | p[i];
  return h;
}

// ---- delta_builder ----------------------------------------------------------------

delta_builder::delta_builder(std::uint64_t from_seq) : from_seq_(from_seq) {
  bytes_.reserve(256);
  put_head(bytes_, 5, 4);  // map of 4: t, records, from, to
  put_text(bytes_, "t");
  put_text(bytes_, "deltas");
  put_text(bytes_, "records");
  bytes_.push_back(0x9f);  // indefinite-length array
}

std::size_t delta_builder::add(std::string_view key, const crdt::record& state) {
  const std::size_t before = bytes_.size();
  bytes_.push_back(0x82);  // [key, state]
  put_text(bytes_, key);
  crdt::append_record_cbor(state, bytes_);
  ++count_;
  return bytes_.size() - before;
}

frame delta_builder::finish(std::uint64_t to_seq) {
  bytes_.push_back(0xff);  // end of records
  put_text(bytes_, "from");
  put_head(bytes_, 0, from_seq_);
  put_text(bytes_, "to");
  put_head(bytes_, 0, to_seq);
  return std::move(bytes_);
}

// ---- encode / decode ------------------------------------------------------------------

frame encode(const message& m) {
  try {
    return std::visit(
        [](const auto& msg) -> frame {
          using T = std::decay_t<decltype(msg)>;
          json j;
          if constexpr (std::is_same_v<T, hello_message>) {
            j = {{"t", "hello"},
                 {"v", msg.version},
                 {"node", msg.node},
                 {"epoch", msg.epoch},
                 {"seq", msg.seq},
                 {"records", msg.records},
                 {"received", msg.received},
                 {"received_epoch", msg.received_epoch},
                 {"proof", msg.proof}};
            j["digest"] = binary_of_hash(msg.digest);
          } else if constexpr (std::is_same_v<T, deltas_message>) {
            delta_builder b(msg.from_seq);
            for (const auto& r : msg.records) b.add(r.key, r.state);
            return b.finish(msg.to_seq);
          } else if constexpr (std::is_same_v<T, ack_message>) {
            j = {{"t", "ack"}, {"seq", msg.seq}};
          } else if constexpr (std::is_same_v<T, reject_message>) {
            j = {{"t", "reject"},
                 {"reason", std::string(to_string(msg.reason))},
                 {"message", msg.message.substr(0, max_reason_bytes)},
                 {"to", msg.to_seq}};
          } else if constexpr (std::is_same_v<T, bucket_request_message>) {
            j = {{"t", "bucket_req"}, {"n", msg.buckets}};
          } else if constexpr (std::is_same_v<T, keys_request_message>) {
            std::vector<std::uint8_t> bytes;
            bytes.reserve(4 * msg.wanted.size());
            for (const std::uint32_t b : msg.wanted)
              for (int i = 3; i >= 0; --i) bytes.push_back(static_cast<std::uint8_t>(b >> (8 * i)));
            j = {{"t", "keys_req"}, {"n", msg.buckets}};
            j["buckets"] = json::binary(std::move(bytes));
          } else if constexpr (std::is_same_v<T, keys_message>) {
            std::vector<std::uint8_t> bytes;
            bytes.reserve(24 * msg.entries.size());
            for (const auto& e : msg.entries) {
              for (int i = 7; i >= 0; --i) bytes.push_back(static_cast<std::uint8_t>(e.key_id >> (8 * i)));
              append_hash(bytes, e.hash);
            }
            j = {{"t", "keys"}, {"n", msg.buckets}, {"complete", msg.complete}};
            j["entries"] = json::binary(std::move(bytes));
          } else {
            std::vector<std::uint8_t> bytes;
            bytes.reserve(16 * msg.digests.size());
            for (const auto& d : msg.digests) append_hash(bytes, d);
            j = {{"t", "buckets"}, {"n", msg.digests.size()}};
            j["digests"] = json::binary(std::move(bytes));
          }
          return json::to_cbor(j);
        },
        m);
  } catch (const std::exception&) {
    return {};  // only on allocation failure; an empty frame is refused by every decoder
  }
}

std::optional<message> decode(std::span<const std::uint8_t> bytes, std::string* error) {
  if (bytes.size() > max_frame_bytes) {
    fail(error, "frame larger than " + std::to_string(max_frame_bytes) + " bytes");
    return std::nullopt;
  }
  try {
    if (is_deltas_frame(bytes)) return decode_deltas(bytes, error);
  } catch (const std::exception& e) {  // allocation failure only
    fail(error, std::string("deltas: ") + e.what());
    return std::nullopt;
  }
  crdt::bounded_json_builder builder(
      {.max_depth = max_frame_depth, .check_utf8 = true, .top_level_binary = true});
  try {
    const bool ok = json::sax_parse(bytes.begin(), bytes.end(), &builder, json::input_format_t::cbor, true);
    if (!ok) {
      fail(error,
           "not a CBOR message: " + (builder.error().empty() ? std::string("parse error") : builder.error()));
      return std::nullopt;
    }
    return decode_root(builder.result(), error);
  } catch (const std::exception& e) {
    fail(error, std::string("not a CBOR message: ") + e.what());
    return std::nullopt;
  }
}

std::optional<message> decode(std::string_view bytes, std::string* error) {
  return decode(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
      error);
}

std::string_view type_name(const message& m) {
  static constexpr std::string_view names[] = {"hello",      "deltas",  "ack",      "reject",
                                               "bucket_req", "buckets", "keys_req", "keys"};
  return names[m.index()];
}

}  // namespace horao::replication
