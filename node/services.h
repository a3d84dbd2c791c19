// The gRPC services of a node: LedgerService, QueryService, AuditService, AdminService and the
// internal PeerService. Handlers authorize the caller, translate errors into precise status
// codes, and either read the ledger directly or hand work to the node's loop.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

namespace node {

class Node;

std::vector<std::unique_ptr<grpc::Service>> make_services(Node& node);

}  // namespace node
