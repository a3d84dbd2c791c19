// Who is calling, from the client certificate (DESIGN.md "Who uses it").
//
// A certificate's common name is "<role>:<name>": "agency:samr", "auditor:audit-office",
// "relying:bank-of-x", "operator:alice", "node:2". A caller without a certificate is public.
// In insecure plaintext mode (127.0.0.1 development only) the x-credledger-role metadata header
// carries the same "<role>:<name>" text.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

namespace node {

enum class Role { kPublic, kRelyingParty, kAgency, kAuditor, kOperator, kNode };

const char* role_name(Role role);

struct Caller {
  Role role = Role::kPublic;
  std::string name;  // agency id, node id, or a free-form name
  std::string to_string() const;
};

// Parses "<role>:<name>"; unknown text yields a public caller.
Caller parse_caller(const std::string& text);
Caller caller_of(const grpc::ServerContextBase& context, bool insecure_plaintext);

}  // namespace node
