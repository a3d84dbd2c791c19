#include "node/auth.h"

namespace node {

const char* role_name(Role role) {
  switch (role) {
    case Role::kPublic: return "public";
    case Role::kRelyingParty: return "relying";
    case Role::kAgency: return "agency";
    case Role::kAuditor: return "auditor";
    case Role::kOperator: return "operator";
    case Role::kNode: return "node";
  }
  return "public";
}

std::string Caller::to_string() const {
  return name.empty() ? std::string(role_name(role)) : std::string(role_name(role)) + ":" + name;
}

Caller parse_caller(const std::string& text) {
  const size_t colon = text.find(':');
  const std::string role = text.substr(0, colon);
  const std::string name = colon == std::string::npos ? "" : text.substr(colon + 1);
  Caller c;
  c.name = name;
  if (role == "agency") c.role = Role::kAgency;
  else if (role == "auditor") c.role = Role::kAuditor;
  else if (role == "relying") c.role = Role::kRelyingParty;
  else if (role == "operator") c.role = Role::kOperator;
  else if (role == "node") c.role = Role::kNode;
  else c = Caller{};
  // A privileged role needs a name: an anonymous "agency:" is nobody.
  if (c.role != Role::kPublic && c.name.empty()) c = Caller{};
  return c;
}

Caller caller_of(const grpc::ServerContextBase& context, bool insecure_plaintext) {
  if (insecure_plaintext) {
    const auto& md = context.client_metadata();
    auto it = md.find("x-credledger-role");
    if (it == md.end()) return Caller{};
    return parse_caller(std::string(it->second.data(), it->second.size()));
  }
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return Caller{};
  for (const auto& cn : auth->FindPropertyValues("x509_common_name")) {
    return parse_caller(std::string(cn.data(), cn.size()));
  }
  return Caller{};
}

}  // namespace node
