#pragma once
// The parts of a write that PUT, PATCH and POST /v1/batch share: checking
// and removing the members the daemon sets, validation, turning a normalised
// body into field writes, and answering only once the write is durable.
//
// Invariants: nothing here changes the store; a body that passes
// prepare_body() is exactly what validate() normalised; put_writes() has one
// write per top-level member (compact JSON, nlohmann's dump); patch_writes()
// has only the members whose stored text differs, and an empty value for
// each visible member the new body no longer has; answer_when_durable()
// replies `ok` only after durability said true for `seq`, otherwise 503.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "horao/api/context.hpp"
#include "horao/api/errors.hpp"
#include "horao/api/http.hpp"
#include "horao/crdt/json_tape.hpp"
#include "horao/crdt/record.hpp"
#include "horao/domain/kinds.hpp"
#include "horao/domain/validate.hpp"

namespace horao::api {

// Live references as the store holds them.
class store_references final : public domain::reference_lookup {
 public:
  explicit store_references(const store::record_store& store) : store_(store) {}
  bool alive(std::string_view key) const override { return store_.find_alive(key) != nullptr; }

 private:
  const store::record_store& store_;
};

// `kind` and `id` may be given if equal to the path's (a mismatched id is 400
// invalid_id, a mismatched kind 422), `meta` if an object (a client may echo
// a GET back); all three are removed. `pointer` prefixes reported fields
// (batch: "/operations/3/body").
std::optional<api_error> strip_daemon_members(const domain::kind_info& kind, std::string_view id,
                                              nlohmann::json& body, std::string_view pointer = {});
// The same for the object at `body` of a tape: the members are erased from it.
std::optional<api_error> strip_daemon_members(const domain::kind_info& kind, std::string_view id,
                                              crdt::json_tape& tape, std::uint32_t body);

// strip_daemon_members() then domain::validate(); the normalised body.
std::variant<nlohmann::json, api_error> prepare_body(const domain::kind_info& kind, std::string_view id,
                                                     nlohmann::json body,
                                                     const domain::reference_lookup& references,
                                                     std::string_view pointer = {});
// The same for the object at the root of a tape (PUT's hot path): the
// normalised fields, with no tree built.
std::variant<domain::normalised_body, api_error> prepare_body(const domain::kind_info& kind,
                                                              std::string_view id, crdt::json_tape& tape,
                                                              const domain::reference_lookup& references);

std::vector<crdt::field_write> put_writes(const nlohmann::json& normalised);
std::vector<crdt::field_write> patch_writes(const crdt::record& current, const nlohmann::json& normalised);

// 503 unavailable when the daemon cannot persist a write now (durability
// refuses, or recovery is still running), with the reason.
std::optional<api_error> writes_refused(const router_context& ctx);

// 415 unless the content type is JSON (or, with merge_patch, a merge patch).
std::optional<api_error> require_json(const request& req, bool merge_patch = false);

// Replies `ok` once everything up to `seq` is durable, 503 if it cannot be.
void answer_when_durable(router_context& ctx, std::uint64_t seq, response ok, responder reply);

// The compact JSON text of a body's `tenant` member, "" when it has none.
std::string tenant_json_of(const nlohmann::json& body);
std::string tenant_json_of(const crdt::json_tape& tape, std::uint32_t body);

}  // namespace horao::api
