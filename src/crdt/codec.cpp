#include "horao/crdt/codec.hpp"

#include <limits>

#include "horao/crdt/utf8.hpp"

namespace horao::crdt {
namespace {

using nlohmann::json;

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool read_name(std::string_view text, const char* what, symbol_table& table, std::uint32_t& out,
               std::string* error) {
  if (text.size() > symbol_table::max_name_length)
    return fail(error, std::string(what) + " longer than " + std::to_string(symbol_table::max_name_length) +
                           " bytes");
  if (!valid_utf8(text)) return fail(error, std::string(what) + " is not valid UTF-8");
  auto id = table.intern(text);
  if (!id) return fail(error, std::string(what) + " too long or too many distinct names");
  out = *id;
  return true;
}

bool read_stamp(const json& wall, const json& counter, const json& node, hlc& out, std::string* error) {
  // Integers may arrive signed or unsigned (JSON text gives unsigned for
  // non-negative numbers, a json built from int64_t gives signed).
  if (!wall.is_number_integer() ||
      (wall.is_number_unsigned() ? wall.get<std::uint64_t>() > max_wall_us
                                 : wall.get<std::int64_t>() < 0 || wall.get<std::int64_t>() > max_wall_us))
    return fail(error, "timestamp wall_us must be an integer from 0 to " + std::to_string(max_wall_us));
  if (!counter.is_number_integer() ||
      (counter.is_number_unsigned()
           ? counter.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()
           : counter.get<std::int64_t>() < 0 ||
                 counter.get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max()))
    return fail(error, "timestamp counter must be an integer from 0 to 2^32-1");
  if (!node.is_string()) return fail(error, "timestamp node must be a string");
  std::uint32_t id = 0;
  if (!read_name(node.get_ref<const std::string&>(), "timestamp node", node_names(), id, error)) return false;
  out = hlc{wall.get<std::int64_t>(), static_cast<std::uint32_t>(counter.get<std::uint64_t>()), id};
  return true;
}

bool read_hlc_parts(const json& j, hlc& out, std::string* error) {
  if (!j.is_array() || j.size() != 3) return fail(error, "a timestamp must be [wall_us, counter, node]");
  return read_stamp(j[0], j[1], j[2], out, error);
}

}  // namespace

std::optional<record> decode_record_unchecked(const json& j, std::string* error);

json encode_hlc(const hlc& t) {
  return json::array({t.wall_us, t.counter, node_name(t)});
}

std::optional<hlc> decode_hlc(const json& j, std::string* error) {
  hlc t;
  if (!read_hlc_parts(j, t, error)) return std::nullopt;
  return t;
}

json encode_record(const record& r) {
  json fields = json::object();
  for (const auto& entry : r.fields()) {
    json item = json::array({entry.stamp.wall_us, entry.stamp.counter, node_name(entry.stamp)});
    if (!entry.absent()) item.push_back(json::parse(entry.value.view()));
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
  if (!read_hlc_parts(*c, created, error) || !read_hlc_parts(*d, deleted, error)) return std::nullopt;
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
    // The name first: the messages below quote it.
    field_id id = 0;
    if (!read_name(name, "field name", field_names(), id, error)) return std::nullopt;
    if (!item.is_array() || (item.size() != 3 && item.size() != 4)) {
      fail(error, "field '" + name + "' must be [wall_us, counter, node] or [wall_us, counter, node, value]");
      return std::nullopt;
    }
    hlc stamp;
    if (!read_stamp(item[0], item[1], item[2], stamp, error)) return std::nullopt;
    fields.push_back({stamp, id, item.size() == 4 ? item[3].dump() : std::string{}});
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
