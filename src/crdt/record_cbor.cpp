#include "horao/crdt/record_cbor.hpp"

#include <limits>
#include <nlohmann/json.hpp>

#include "horao/crdt/canonical_json.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/crdt/utf8.hpp"

namespace horao::crdt {
namespace {

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

std::size_t stamp_size(const hlc& t) {
  return cbor::head_size(static_cast<std::uint64_t>(t.wall_us)) + cbor::head_size(t.counter) +
         cbor::text_size(node_name(t));
}

std::uint8_t* write_stamp(std::uint8_t* out, const hlc& t) {
  out = cbor::write_head(out, cbor::unsigned_int, static_cast<std::uint64_t>(t.wall_us));
  out = cbor::write_head(out, cbor::unsigned_int, t.counter);
  return cbor::write_text(out, node_name(t));
}

bool read_name(cbor::reader& in, const char* what, symbol_table& table, std::uint32_t& out,
               std::string* error) {
  const auto text = in.text();
  if (!text) return fail(error, std::string(what) + " must be a text string");
  if (text->empty()) return fail(error, std::string(what) + " must not be empty");
  if (text->size() > symbol_table::max_name_length)
    return fail(error, std::string(what) + " longer than " + std::to_string(symbol_table::max_name_length) +
                           " bytes");
  if (!valid_utf8(*text)) return fail(error, std::string(what) + " is not valid UTF-8");
  const auto id = table.intern(*text);
  if (!id) return fail(error, std::string(what) + ": too many distinct names");
  out = *id;
  return true;
}

bool read_stamp(cbor::reader& in, hlc& out, std::string* error) {
  const auto wall = in.unsigned_value();
  if (!wall || *wall > static_cast<std::uint64_t>(max_wall_us))
    return fail(error, "timestamp wall_us must be an integer from 0 to " + std::to_string(max_wall_us));
  const auto counter = in.unsigned_value();
  if (!counter || *counter > std::numeric_limits<std::uint32_t>::max())
    return fail(error, "timestamp counter must be an integer from 0 to 2^32-1");
  // The zero stamp (nothing happened yet) carries the empty node name.
  std::uint32_t node = 0;
  if (in.peek() == 0x60) {
    in.skip_byte();
  } else if (!read_name(in, "timestamp node", node_names(), node, error)) {
    return false;
  }
  out = hlc{static_cast<std::int64_t>(*wall), static_cast<std::uint32_t>(*counter), node};
  return true;
}

// Canonical without parsing: an integer nlohmann would print the same way
// (no leading zero, no sign on zero, short enough to fit int64), or a string
// of printable ASCII with nothing to escape, or a literal.
bool obviously_canonical(std::string_view t) {
  if (t == "true" || t == "false" || t == "null") return true;
  if (t.empty()) return false;
  if (t.front() == '"') {
    if (t.size() < 2 || t.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < t.size(); ++i) {
      const char c = t[i];
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
    }
    return true;
  }
  std::string_view digits = t.front() == '-' ? t.substr(1) : t;
  if (digits.empty() || digits.size() > 18) return false;
  if (digits.size() > 1 && digits.front() == '0') return false;
  if (t.front() == '-' && digits == "0") return false;
  for (const char c : digits)
    if (c < '0' || c > '9') return false;
  return true;
}

// Nesting of arrays and objects, outside strings; stops counting once too deep.
bool nests_within(std::string_view t, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return true;
}

}  // namespace

std::size_t record_cbor_size(const record& r) {
  const auto fields = r.fields();
  std::size_t size = 1 + stamp_size(r.created()) + stamp_size(r.deleted()) + cbor::head_size(fields.size());
  for (const auto& entry : fields) {
    size += 1 + cbor::text_size(entry.name_text()) + stamp_size(entry.stamp);
    if (!entry.absent()) size += cbor::text_size(entry.value);
  }
  return size;
}

std::uint8_t* write_record_cbor(const record& r, std::uint8_t* out) {
  out = cbor::write_head(out, cbor::array, 7);
  out = write_stamp(out, r.created());
  out = write_stamp(out, r.deleted());
  const auto fields = r.fields();
  out = cbor::write_head(out, cbor::array, fields.size());
  for (const auto& entry : fields) {
    out = cbor::write_head(out, cbor::array, entry.absent() ? 4 : 5);
    out = cbor::write_text(out, entry.name_text());
    out = write_stamp(out, entry.stamp);
    if (!entry.absent()) out = cbor::write_text(out, entry.value);
  }
  return out;
}

void append_record_cbor(const record& r, std::vector<std::uint8_t>& out) {
  const std::size_t at = out.size();
  out.resize(at + record_cbor_size(r));
  write_record_cbor(r, out.data() + at);
}

std::optional<record> read_record_cbor(cbor::reader& in, std::string* error) {
  if (in.array_length() != 7u) {
    fail(error, "a record must be [c_wall, c_counter, c_node, d_wall, d_counter, d_node, fields]");
    return std::nullopt;
  }
  hlc created, deleted;
  if (!read_stamp(in, created, error) || !read_stamp(in, deleted, error)) return std::nullopt;
  const auto count = in.array_length();
  if (!count) {
    fail(error, "record fields must be an array");
    return std::nullopt;
  }
  if (*count > max_fields_per_record) {
    fail(error, "record has more than " + std::to_string(max_fields_per_record) + " fields");
    return std::nullopt;
  }
  std::vector<field_entry> fields;
  fields.reserve(*count);
  for (std::uint64_t i = 0; i < *count; ++i) {
    const auto size = in.array_length();
    if (size != 4u && size != 5u) {
      fail(error, "a field must be [name, wall, counter, node] or [name, wall, counter, node, value]");
      return std::nullopt;
    }
    field_entry entry;
    if (!read_name(in, "field name", field_names(), entry.name, error)) return std::nullopt;
    if (!read_stamp(in, entry.stamp, error)) return std::nullopt;
    if (*size == 5) {
      const auto text = in.text();
      if (!text) {
        fail(error, "field '" + field_names().name(entry.name) + "': the value must be JSON text");
        return std::nullopt;
      }
      std::string why;
      auto value = canonical_json_value(*text, &why);
      if (!value) {
        fail(error, "field '" + field_names().name(entry.name) + "': " + why);
        return std::nullopt;
      }
      entry.value = std::move(*value);
    }
    fields.push_back(std::move(entry));
  }
  return record(created, deleted, std::move(fields));
}

std::optional<std::string> canonical_json_value(std::string_view text, std::string* error) {
  // Values written by a HORAO store are canonical already: checked in one
  // pass, they are taken as they are, without a JSON tree (crdt/canonical_json).
  if (obviously_canonical(text) || is_canonical_json(text, max_value_depth)) return std::string(text);
  if (!valid_utf8(text)) {
    fail(error, "the value is not valid UTF-8");
    return std::nullopt;
  }
  if (!nests_within(text, max_value_depth)) {
    fail(error, "the value nests deeper than " + std::to_string(max_value_depth) + " levels");
    return std::nullopt;
  }
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    fail(error, "the value is not one JSON value");
    return std::nullopt;
  }
  std::string canonical = parsed.dump();
  if (canonical.empty()) {  // the empty string: absent, never a value
    fail(error, "the value is empty");
    return std::nullopt;
  }
  return canonical;
}

}  // namespace horao::crdt
