#pragma once
// What each role may do (API.md "Access"), decided per kind and, for the
// kinds that belong to a tenant, per record.
//
//   admin   everything.
//   reader  every GET except reservations and vms (and usage).
//   tenant  reads like reader, plus its own reservations and vms (and usage),
//           which it may also write; nothing of other tenants: not their
//           reservations or vms, and not their tenant record.
//
// Invariants: pure functions of the principal and the data; a record or body
// "belongs" to a tenant exactly when its `tenant` field is that tenant's id
// (for tenant records: when the id is). A record without a tenant belongs to
// no tenant, so a tenant principal can neither read nor write it.

#include <string_view>

#include "horao/api/tokens.hpp"
#include "horao/crdt/record.hpp"

namespace horao::api {

// reservations and vms: records that belong to one tenant.
bool tenant_owned_kind(std::string_view kind);

// Before looking at any record: may this principal read some of `kind`
// (listing, single GET)? A tenant passes for its own records, checked later.
bool may_read_kind(const principal& who, std::string_view kind);
// A live record of `kind`/`id`.
bool may_read(const principal& who, std::string_view kind, std::string_view id, const crdt::record& state);

// Before looking at any body: may this principal write some of `kind`?
bool may_write_kind(const principal& who, std::string_view kind);
// `tenant_json` is the compact JSON text of the `tenant` field of the record
// as it is or as it would be written ("" when it has none). A write needs
// this to hold for both the old and the new state.
bool may_write(const principal& who, std::string_view kind, std::string_view tenant_json);
// The `tenant` field of a record as compact JSON text, "" when absent.
std::string_view tenant_json_of(const crdt::record& state);

}  // namespace horao::api
