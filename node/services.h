// The gRPC services of a node: LedgerService, QueryService, AuditService, AdminService and the
// internal PeerService. Handlers authorize the caller, translate errors into precise status
// codes, and either read the ledger directly or hand work to the node's loop.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <vector>

#include "base/status.h"

namespace node {

// The one mapping of a base::Status to the gRPC status a caller sees (kBusy is
// RESOURCE_EXHAUSTED, kNotLeader UNAVAILABLE, kCorruption DATA_LOSS, kIOError INTERNAL).
grpc::Status to_grpc(const base::Status& status);

class Node;

std::vector<std::unique_ptr<grpc::Service>> make_services(Node& node);

// What every call's final status passes through, on every service (health included):
// - a request that does not parse as its protobuf type answers INVALID_ARGUMENT naming the
//   method and type (gRPC itself would answer UNIMPLEMENTED or INTERNAL with no message, which
//   tells the caller the method does not exist or the node broke);
// - a status message longer than kStatusMessageBytesMax is cut there: messages quote what the
//   caller sent (ids, keys), and an echoed multi-megabyte id would overflow the caller's
//   trailer limit and turn a precise refusal into a transport error.
constexpr size_t kStatusMessageBytesMax = 1024;
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
make_status_interceptors();

}  // namespace node
