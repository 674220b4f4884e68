#pragma once
// JSON Merge Patch (RFC 7396).
//
// Invariants: pure; objects merge member by member, recursively; a null
// member removes the target's member; any other patch value (array, scalar)
// replaces the target wholesale; a patch that is not an object replaces the
// whole target. Recursion depth is bounded by the patch's depth, which
// parse_json() bounds.

#include <nlohmann/json.hpp>

namespace horao::api {

nlohmann::json merge_patch(nlohmann::json target, const nlohmann::json& patch);

}  // namespace horao::api
