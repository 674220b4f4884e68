#pragma once
// GET, PUT, PATCH and DELETE of /v1/{collection}/{id} (API.md "Methods").
//
// Invariants: a refused request changes nothing (every check runs before the
// one store call that applies the write); a write first checks that it can
// be persisted (503), and is answered only once durability confirms it;
// PATCH writes only the top-level fields whose value changed, so concurrent
// patches of different fields on other daemons both survive; DELETE of a
// resource with live children is refused with 409 has_children; every
// success carries the resource's ETag.

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

void get_resource(router_context& ctx, exchange& ex);
void put_resource(router_context& ctx, exchange& ex);
void patch_resource(router_context& ctx, exchange& ex);
void delete_resource(router_context& ctx, exchange& ex);

// The message of a 409 has_children: how many, and up to 10 of their keys.
std::string children_message(std::string_view key, std::size_t count, const std::vector<std::string>& some);

}  // namespace horao::api
