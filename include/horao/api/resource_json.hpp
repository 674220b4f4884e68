#pragma once
// A resource as read back (API.md "Resources"):
//   {"kind", "id", visible fields by name, computed members, "meta": {"created", "updated", "seq"}}
//
// Invariants: the JSON is spliced from the stored compact value texts, never
// re-parsed (GET of one resource is the hottest path); stored fields named
// like a member the daemon sets ("kind", "id", "meta", or a computed member)
// are left out, so the output never has a duplicate member whatever a peer
// stored; meta.created/updated are the HLC texts of the record, meta.seq its
// local sequence, which is also its ETag.

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "horao/api/context.hpp"
#include "horao/store/record_store.hpp"

namespace horao::api {

// A member the daemon computes at read time, as compact JSON text.
struct computed_member {
  std::string name;
  std::string json;
};

void append_resource(std::string& out, std::string_view kind, std::string_view id,
                     const store::stored_record& entry, std::span<const computed_member> computed = {});

// What the daemon adds to a live record of `kind` on reads: a reservation's
// status (and conflict reason) from the scheduler hook; nothing otherwise.
std::vector<computed_member> computed_members(const router_context& ctx, std::string_view kind,
                                              std::string_view id, const crdt::record& state);

// append_resource() with the computed members: what every read answers.
void append_view(std::string& out, const router_context& ctx, std::string_view kind, std::string_view id,
                 const store::stored_record& entry);
std::string render_view(const router_context& ctx, std::string_view kind, std::string_view id,
                        const store::stored_record& entry);

// The visible fields as a JSON object (parsed): what a merge patch applies
// to. A stored value that is not valid JSON (only a faulty peer can store
// one) is left out rather than failing the request.
nlohmann::json visible_fields(const crdt::record& state);

// The strong ETag of a record: its local sequence, quoted ("\"17\"").
std::string etag_of(std::uint64_t seq);
// If-Match (RFC 9110 §13.1.1): true when `header` is empty, is "*" and a
// live record exists, or lists the live record's ETag. Weak tags never
// match (strong comparison).
bool if_match_satisfied(std::string_view header, const store::stored_record* live);

}  // namespace horao::api
