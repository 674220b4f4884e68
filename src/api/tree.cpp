#include "horao/api/tree.hpp"

#include <array>
#include <span>

#include "horao/api/resource_json.hpp"
#include "horao/api/text.hpp"

namespace horao::api {
namespace {

struct level {
  std::string_view kind;
  std::span<const std::string_view> children;  // child kinds, in output order
};

constexpr std::array<std::string_view, 2> datacenter_children{"cabinet", "network"};
constexpr std::array<std::string_view, 5> cabinet_children{"chassis", "server", "switch", "router",
                                                           "firewall"};
constexpr std::array<std::string_view, 1> chassis_children{"blade"};
constexpr std::array<std::string_view, 1> blade_children{"node"};
constexpr std::array<std::string_view, 1> machine_children{"disk"};
constexpr std::array<std::string_view, 0> no_children{};

constexpr std::array<level, 6> levels{{
    {"datacenter", datacenter_children},
    {"cabinet", cabinet_children},
    {"chassis", chassis_children},
    {"blade", blade_children},
    {"node", machine_children},
    {"server", machine_children},
}};

std::span<const std::string_view> children_of(std::string_view kind) {
  for (const auto& l : levels)
    if (l.kind == kind) return l.children;
  return no_children;
}

bool in_tree(std::string_view kind) {
  if (kind == "datacenter") return true;
  for (const auto& l : levels)
    for (auto child : l.children)
      if (child == kind) return true;
  return false;
}

class tree_writer {
 public:
  tree_writer(const router_context& ctx, std::string& out) : ctx_(ctx), out_(out) {}

  // Appends the resource at `key` with its "contains"; the caller counted it.
  void append(std::string_view kind, std::string_view id, const store::stored_record& entry) {
    append_view(out_, ctx_, kind, id, entry);
    const auto children = children_of(kind);
    if (children.empty()) return;
    out_.pop_back();  // the resource's closing '}'
    out_ += ",\"contains\":{";
    const std::string key = domain::make_key(kind, id);
    bool first_group = true;
    for (const auto child_kind : children) {
      if (!first_group) out_ += ',';
      first_group = false;
      append_json_string(out_, domain::find_kind(child_kind)->collection);
      out_ += ":[";
      const auto child_keys = ctx_.relations.children_of_kind(key, child_kind, budget_left());
      bool first = true;
      for (const auto& child_key : child_keys) {
        const store::stored_record* child = ctx_.store.find_alive(child_key);
        if (!child) continue;
        if (!take_one()) break;
        if (!first) out_ += ',';
        first = false;
        append(child_kind, store::split_key(child_key).second, *child);
      }
      out_ += ']';
    }
    out_ += "}}";
  }

  bool take_one() {
    if (shown_ == max_tree_resources) {
      truncated_ = true;
      return false;
    }
    ++shown_;
    return true;
  }
  bool truncated() const { return truncated_; }

 private:
  // One more than what may still be shown, so that truncation is noticed.
  std::size_t budget_left() const { return max_tree_resources - shown_ + 1; }

  const router_context& ctx_;
  std::string& out_;
  std::size_t shown_ = 0;
  bool truncated_ = false;
};

void append_orphans(const router_context& ctx, std::string& out) {
  constexpr std::size_t chunk = 256;
  std::size_t shown = 0;
  std::size_t scanned = 0;
  std::string after;
  out += '[';
  while (shown < max_tree_orphans && scanned < ctx.max_scan) {
    const auto orphans = ctx.relations.orphans(after, chunk);
    for (const auto& o : orphans) {
      ++scanned;
      if (shown == max_tree_orphans || !in_tree(store::split_key(o.key).first)) continue;
      if (shown++) out += ',';
      out += "{\"key\":";
      append_json_string(out, o.key);
      out += ",\"missing\":[";
      for (std::size_t i = 0; i < o.missing.size(); ++i) {
        if (i) out += ',';
        out += "{\"field\":";
        append_json_string(out, o.missing[i].field);
        out += ",\"key\":";
        if (o.missing[i].key.empty())
          out += "null";
        else
          append_json_string(out, o.missing[i].key);
        out += '}';
      }
      out += "]}";
    }
    if (orphans.size() < chunk) break;
    after = orphans.back().key;
  }
  out += ']';
}

}  // namespace

void get_tree(router_context& ctx, exchange& ex) {
  const std::string key = domain::make_key("datacenter", ex.route.id);
  const store::stored_record* dc = ctx.store.find_alive(key);
  if (!dc) return ex.reply(error_response(404, "not_found", "no live resource " + key));

  std::string body = "{\"datacenter\":";
  tree_writer writer(ctx, body);
  writer.take_one();
  writer.append("datacenter", ex.route.id, *dc);
  body += ",\"orphans\":";
  append_orphans(ctx, body);
  body += ",\"truncated\":";
  body += writer.truncated() ? "true" : "false";
  body += '}';
  response r;
  r.body = std::move(body);
  ex.reply(std::move(r));
}

}  // namespace horao::api
