#include "horao/crdt/codec.hpp"

#include <limits>

namespace horao::crdt {
namespace {

using nlohmann::json;

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool read_hlc_parts(const json& j, std::size_t expected_size, hlc& out, std::string* error) {
  if (!j.is_array() || j.size() != expected_size)
    return fail(error, "a timestamp must be [wall_us, counter, node]");
  if (!j[0].is_number_integer() || j[0].get<std::int64_t>() < 0)
    return fail(error, "timestamp wall_us must be a non-negative integer");
  if (!j[1].is_number_unsigned() || j[1].get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
    return fail(error, "timestamp counter must be a 32-bit unsigned integer");
  if (!j[2].is_string()) return fail(error, "timestamp node must be a string");
  auto node = node_names().intern(j[2].get_ref<const std::string&>());
  if (!node) return fail(error, "timestamp node name too long or too many nodes");
  out = hlc{j[0].get<std::int64_t>(), static_cast<std::uint32_t>(j[1].get<std::uint64_t>()), *node};
  return true;
}

}  // namespace

std::optional<record> decode_record_unchecked(const json& j, std::string* error);

json encode_hlc(const hlc& t) { return json::array({t.wall_us, t.counter, node_name(t)}); }

std::optional<hlc> decode_hlc(const json& j, std::string* error) {
  hlc t;
  if (!read_hlc_parts(j, 3, t, error)) return std::nullopt;
  return t;
}

json encode_record(const record& r) {
  json fields = json::object();
  for (const auto& entry : r.fields()) {
    json item = json::array({entry.stamp.wall_us, entry.stamp.counter, node_name(entry.stamp)});
    if (!entry.absent()) item.push_back(json::parse(entry.value));
    fields[entry.name_text()] = std::move(item);
  }
  return json{{"c", encode_hlc(r.created())}, {"d", encode_hlc(r.deleted())}, {"f", std::move(fields)}};
}

std::optional<record> decode_record_unchecked(const json& j, std::string* error) {
  if (!j.is_object()) {
    fail(error, "a record must be an object");
    return std::nullopt;
  }
  const auto c = j.find("c");
  const auto d = j.find("d");
  const auto f = j.find("f");
  if (c == j.end() || d == j.end() || f == j.end() || j.size() != 3) {
    fail(error, "a record must have exactly the members c, d and f");
    return std::nullopt;
  }
  hlc created, deleted;
  if (!read_hlc_parts(*c, 3, created, error) || !read_hlc_parts(*d, 3, deleted, error)) return std::nullopt;
  if (!f->is_object()) {
    fail(error, "record member f must be an object");
    return std::nullopt;
  }
  if (f->size() > max_fields_per_record) {
    fail(error, "record has more than " + std::to_string(max_fields_per_record) + " fields");
    return std::nullopt;
  }
  std::vector<field_entry> fields;
  fields.reserve(f->size());
  for (const auto& [name, item] : f->items()) {
    if (name.empty()) {
      fail(error, "field names must not be empty");
      return std::nullopt;
    }
    if (!item.is_array() || (item.size() != 3 && item.size() != 4)) {
      fail(error, "field '" + name + "' must be [wall_us, counter, node] or [wall_us, counter, node, value]");
      return std::nullopt;
    }
    hlc stamp;
    const json parts = json::array({item[0], item[1], item[2]});
    if (!read_hlc_parts(parts, 3, stamp, error)) return std::nullopt;
    auto id = field_names().intern(name);
    if (!id) {
      fail(error, "field name too long or too many distinct field names");
      return std::nullopt;
    }
    fields.push_back({stamp, *id, item.size() == 4 ? item[3].dump() : std::string{}});
  }
  return record(created, deleted, std::move(fields));
}

std::optional<record> decode_record(const json& j, std::string* error) {
  try {
    return decode_record_unchecked(j, error);
  } catch (const json::exception& e) {  // e.g. a CBOR string that is not UTF-8
    fail(error, std::string("bad record value: ") + e.what());
    return std::nullopt;
  }
}

}  // namespace horao::crdt
