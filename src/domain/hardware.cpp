#include "horao/domain/hardware.hpp"

#include "horao/domain/kinds.hpp"

namespace horao::domain {
namespace {

using nlohmann::json;

// The characters of a JSON string written without escapes ("abc" -> abc);
// nullopt for anything else, which then needs the parser.
std::optional<std::string_view> unescaped_string(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return std::nullopt;
  const std::string_view inner = text.substr(1, text.size() - 2);
  if (inner.find_first_of("\\\"") != std::string_view::npos) return std::nullopt;
  return inner;
}

// What read_string_field answers, without a copy, when the field is present
// and unescaped; nullopt: ask read_string_field.
std::optional<std::string_view> plain_string_field(const crdt::record& state, std::string_view name) {
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return std::nullopt;
  return unescaped_string(f->value);
}

// "kind/<id>" when the field holds a valid id; empty otherwise.
std::string parent_by_id(const crdt::record& state, std::string_view field, std::string_view parent_kind) {
  if (const auto id = plain_string_field(state, field))
    return valid_id(*id) ? make_key(parent_kind, *id) : std::string();
  const auto id = read_string_field(state, field);
  if (!id || !valid_id(*id)) return {};
  return make_key(parent_kind, *id);
}

// A disk's `machine` is a key; only server and node keys are machines.
std::string machine_parent(const crdt::record& state) {
  auto text = read_string_field(state, "machine");
  if (!text) return {};
  const auto key = parse_key(*text);
  if (!key || !is_machine_kind(key->kind->kind)) return {};
  return std::move(*text);
}

// ---- a scanner for the common shape, so a rebuild builds no JSON tree ----
//
// Stored values are compact JSON text. Machines' `cpus`, `ram` and
// `accelerators` are almost always arrays of flat objects of strings and
// numbers ([{"cores":64,"model":"EPYC"}]); scan_items reads exactly that
// shape and answers nullopt for anything else (whitespace, escapes, non-ASCII
// text, nesting, a duplicated member, a non-integer count), and the callers
// then parse the DOM as before. So the answer is always the DOM's answer.
struct item_scan {
  quantity sum = 0;       // of `member` over the items, each clamped, like sum_of
  std::size_t items = 0;  // array elements
};

class flat_scanner {
 public:
  explicit flat_scanner(std::string_view text) : s_(text) {}

  std::optional<item_scan> items(std::string_view member) {
    item_scan out;
    if (!eat('[')) return std::nullopt;
    if (eat(']')) return end() ? std::optional(out) : std::nullopt;
    do {
      const auto v = object(member);
      if (!v) return std::nullopt;
      out.sum += clamp_to(*v, record_cap);
      ++out.items;
    } while (eat(','));
    if (!eat(']') || !end()) return std::nullopt;
    out.sum = clamp_to(out.sum, record_cap);
    return out;
  }

 private:
  bool end() const { return i_ == s_.size(); }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A string without escapes, control characters or non-ASCII bytes.
  std::optional<std::string_view> string() {
    if (!eat('"')) return std::nullopt;
    const std::size_t from = i_;
    for (; i_ < s_.size(); ++i_) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return s_.substr(from, i_++ - from);
      if (c == '\\' || c < 0x20 || c >= 0x80) return std::nullopt;
    }
    return std::nullopt;
  }
  std::size_t digits() {
    const std::size_t from = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ - from;
  }
  // A JSON number. `count` receives json_count's answer for an integer of at
  // most 18 digits; a fraction, an exponent or a longer integer is valid but
  // leaves `integer` false.
  bool number(quantity& count, bool& integer) {
    const bool negative = eat('-');
    const std::size_t from = i_;
    const std::size_t n = digits();
    if (n == 0 || (n > 1 && s_[from] == '0')) return false;
    integer = n <= 18;
    if (eat('.')) {
      integer = false;
      if (digits() == 0) return false;
    }
    if (eat('e') || eat('E')) {
      integer = false;
      if (!eat('+')) eat('-');
      if (digits() == 0) return false;
    }
    count = 0;
    if (integer && !negative)
      for (std::size_t k = from; k < from + n; ++k) count = count * 10 + (s_[k] - '0');
    return true;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  // A flat object; answers json_count of `member` (0 when absent or not a number).
  std::optional<quantity> object(std::string_view member) {
    if (!eat('{')) return std::nullopt;
    quantity found = 0;
    bool seen = false;
    if (eat('}')) return found;
    do {
      const auto name = string();
      if (!name || !eat(':')) return std::nullopt;
      const bool wanted = *name == member;
      if (wanted && seen) return std::nullopt;  // the DOM keeps one of them: let it decide
      seen = seen || wanted;
      if (i_ >= s_.size()) return std::nullopt;
      const char c = s_[i_];
      if (c == '"') {
        if (!string()) return std::nullopt;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        quantity count = 0;
        bool integer = false;
        if (!number(count, integer)) return std::nullopt;
        if (wanted) {
          if (!integer) return std::nullopt;
          found = count;
        }
      } else if (!literal("true") && !literal("false") && !literal("null")) {
        return std::nullopt;  // nested, or not JSON
      }
    } while (eat(','));
    if (!eat('}')) return std::nullopt;
    return found;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// The stored text of a present field, or nullopt.
std::optional<std::string_view> field_text(const crdt::record& state, std::string_view name) {
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return std::nullopt;
  return std::string_view(f->value);
}

// Sum of `member` over the objects of array field `field`, each item clamped.
quantity sum_of(const crdt::record& state, std::string_view field, std::string_view member) {
  const auto text = field_text(state, field);
  if (!text) return 0;
  if (const auto scan = flat_scanner(*text).items(member)) return scan->sum;
  const json v = json::parse(*text, nullptr, false);
  if (!v.is_array()) return 0;
  quantity sum = 0;
  for (const auto& item : v) {
    if (!item.is_object()) continue;
    const auto it = item.find(member);
    if (it != item.end()) sum += clamp_to(json_count(*it), record_cap);
  }
  return clamp_to(sum, record_cap);
}

quantity count_of(const crdt::record& state, std::string_view field) {
  const auto text = field_text(state, field);
  if (!text) return 0;
  if (const auto scan = flat_scanner(*text).items({})) return static_cast<quantity>(scan->items);
  const json v = json::parse(*text, nullptr, false);
  return v.is_array() ? static_cast<quantity>(v.size()) : 0;
}

bool read_up(const crdt::record& state) {
  if (const auto status = plain_string_field(state, "status")) return *status != "down";
  return read_string_field(state, "status") != "down";
}

}  // namespace

json read_field(const crdt::record& state, std::string_view name) {
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return json(json::value_t::discarded);
  return json::parse(std::string_view(f->value), nullptr, false);
}

std::optional<std::string> read_string_field(const crdt::record& state, std::string_view name) {
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return std::nullopt;
  const std::string_view text = f->value;
  if (const auto plain = unescaped_string(text)) return std::string(*plain);
  const json v = json::parse(text, nullptr, false);
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

bool is_hardware_kind(std::string_view kind) {
  return kind == "datacenter" || kind == "cabinet" || kind == "chassis" || kind == "blade" ||
         is_machine_kind(kind) || kind == "disk";
}

bool is_machine_kind(std::string_view kind) {
  return kind == "server" || kind == "node";
}

hardware_facts read_hardware(std::string_view kind, const crdt::record& state) {
  hardware_facts facts;
  if (kind == "datacenter") return facts;
  if (kind == "cabinet") {
    facts.parent = parent_by_id(state, "datacenter", "datacenter");
  } else if (kind == "chassis") {
    facts.parent = parent_by_id(state, "cabinet", "cabinet");
  } else if (kind == "blade") {
    facts.parent = parent_by_id(state, "chassis", "chassis");
    facts.up = read_up(state);
  } else if (is_machine_kind(kind)) {
    facts.parent =
        kind == "server" ? parent_by_id(state, "cabinet", "cabinet") : parent_by_id(state, "blade", "blade");
    facts.up = read_up(state);
    facts.own[dimension::cpu] = sum_of(state, "cpus", "cores");
    facts.own[dimension::ram_gb] = sum_of(state, "ram", "size_gb");
    facts.own[dimension::accelerators] = count_of(state, "accelerators");
    const auto networks_text = field_text(state, "networks");
    const json networks = networks_text && *networks_text != "[]"
                              ? json::parse(*networks_text, nullptr, false)
                              : json(json::value_t::discarded);
    if (networks.is_array()) {
      for (const auto& n : networks)
        if (n.is_string() && valid_id(n.get_ref<const std::string&>()))
          facts.networks.push_back(n.get<std::string>());
    }
  } else if (kind == "disk") {
    facts.parent = machine_parent(state);
    facts.up = read_up(state);
    const bool object = read_string_field(state, "storage_type") == "object";
    facts.own[object ? dimension::object_tb : dimension::block_tb] =
        json_tb_units(read_field(state, "capacity_tb"), record_cap);
  }
  return facts;
}

bool read_hsn_data_network(const crdt::record& state) {
  const crdt::field_entry* hsn = state.find("hsn");
  return read_string_field(state, "network_type") == "data" && hsn != nullptr &&
         std::string_view(hsn->value) == "true";
}

}  // namespace horao::domain
