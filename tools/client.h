// Connecting the tools to nodes: endpoints, TLS or plaintext, and trying each endpoint in turn.
//
// Flags in the style of etcdctl: --endpoints a:1,b:2, --cacert, --cert, --key for TLS (the
// certificate's CN carries the role, e.g. "agency:samr"), or --insecure with --role for a
// plaintext development cluster. Each of --endpoints, --cacert, --cert and --key that is not
// given is read from its environment variable (CREDLEDGER_ENDPOINTS, CREDLEDGER_CACERT,
// CREDLEDGER_CERT, CREDLEDGER_KEY): a flag always wins over the variable. --insecure ignores
// the TLS variables.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace tools {

constexpr const char* kEndpointsEnv = "CREDLEDGER_ENDPOINTS";
constexpr const char* kCacertEnv = "CREDLEDGER_CACERT";
constexpr const char* kCertEnv = "CREDLEDGER_CERT";
constexpr const char* kKeyEnv = "CREDLEDGER_KEY";

struct ClientOptions {
  std::string endpoints;          // comma-separated host:port; empty: $CREDLEDGER_ENDPOINTS
  std::string cacert, cert, key;  // empty: $CREDLEDGER_CACERT, $CREDLEDGER_CERT, $CREDLEDGER_KEY
  bool insecure = false;
  std::string role;        // plaintext mode: "<role>:<name>", sent as x-credledger-role
  uint64_t timeout_ms = 15000;
};

class Client {
 public:
  static base::Result<Client> connect(const ClientOptions& options);

  // Runs call(channel, context) against each endpoint until one answers with something other
  // than UNAVAILABLE; returns the last status.
  grpc::Status call(const std::function<grpc::Status(std::shared_ptr<grpc::Channel>,
                                                     grpc::ClientContext&)>& fn) const;
  // A fresh context with deadline and role header.
  void prepare(grpc::ClientContext& context, bool streaming = false) const;
  const std::vector<std::shared_ptr<grpc::Channel>>& channels() const { return channels_; }
  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  ClientOptions options_;
  std::vector<std::string> endpoints_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

// "UNAVAILABLE: no leader elected yet" -> exit code for scripts.
int grpc_exit_code(const grpc::Status& status);
std::string grpc_code_name(grpc::StatusCode code);

}  // namespace tools
