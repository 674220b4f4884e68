#include "horao/api/access.hpp"

namespace horao::api {
namespace {

// `"t1"` == JSON text of the string t1 (tenant ids need no escaping).
bool is_quoted(std::string_view json_text, std::string_view id) {
  return json_text.size() == id.size() + 2 && json_text.front() == '"' && json_text.back() == '"' &&
         json_text.substr(1, id.size()) == id;
}

}  // namespace

bool tenant_owned_kind(std::string_view kind) {
  return kind == "reservation" || kind == "vm";
}

bool may_read_kind(const principal& who, std::string_view kind) {
  switch (who.role) {
    case role::admin:
      return true;
    case role::reader:
      return !tenant_owned_kind(kind);
    case role::tenant:
      return true;
  }
  return false;
}

std::string_view tenant_json_of(const crdt::record& state) {
  const crdt::field_entry* f = state.find("tenant");
  return f ? std::string_view(f->value) : std::string_view();
}

bool may_read(const principal& who, std::string_view kind, std::string_view id, const crdt::record& state) {
  switch (who.role) {
    case role::admin:
      return true;
    case role::reader:
      return !tenant_owned_kind(kind);
    case role::tenant:
      if (kind == "tenant") return id == who.tenant;
      if (tenant_owned_kind(kind)) return is_quoted(tenant_json_of(state), who.tenant);
      return true;
  }
  return false;
}

bool may_write_kind(const principal& who, std::string_view kind) {
  switch (who.role) {
    case role::admin:
      return true;
    case role::reader:
      return false;
    case role::tenant:
      return tenant_owned_kind(kind);
  }
  return false;
}

bool may_write(const principal& who, std::string_view kind, std::string_view tenant_json) {
  if (who.role == role::admin) return true;
  return who.role == role::tenant && tenant_owned_kind(kind) && is_quoted(tenant_json, who.tenant);
}

}  // namespace horao::api
