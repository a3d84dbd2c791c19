#include "tools/client.h"

#include <cstdlib>
#include <sstream>

#include "tools/cli_util.h"

namespace tools {
namespace {

// A TLS file named by a flag or, when the flag is not given, by its environment variable; the
// source says which, for error messages.
struct TlsFile {
  std::string path;
  std::string source;
};

TlsFile tls_file(const std::string& flag_value, const char* flag, const char* env_name) {
  if (!flag_value.empty()) return {flag_value, flag};
  const char* env = std::getenv(env_name);
  if (env != nullptr && *env != '\0') return {env, "$" + std::string(env_name)};
  return {};
}

}  // namespace

base::Result<Client> Client::connect(const ClientOptions& options) {
  Client c;
  c.options_ = options;
  std::string list = options.endpoints;
  if (list.empty()) {
    const char* env = std::getenv(kEndpointsEnv);
    list = env ? env : "127.0.0.1:7001";
  }
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) c.endpoints_.push_back(item);
  }
  if (c.endpoints_.empty()) return base::Status::invalid_argument("no endpoints given");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    const TlsFile cacert = tls_file(options.cacert, "--cacert", kCacertEnv);
    const TlsFile cert = tls_file(options.cert, "--cert", kCertEnv);
    const TlsFile key = tls_file(options.key, "--key", kKeyEnv);
    if (cacert.path.empty()) {
      return base::Status::invalid_argument(
          "TLS needs --cacert or $" + std::string(kCacertEnv) + " (and --cert/--key or $" +
          std::string(kCertEnv) + "/$" + std::string(kKeyEnv) +
          " for a role); use --insecure for a plaintext development cluster");
    }
    auto read = [](const TlsFile& f) -> base::Result<std::string> {
      auto text = read_file(f.path);
      if (!text.is_ok()) return text.status().with_context(f.source);
      return text;
    };
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, read(cacert));
    if (!cert.path.empty() || !key.path.empty()) {
      if (cert.path.empty() || key.path.empty()) {
        const TlsFile& given = cert.path.empty() ? key : cert;
        return base::Status::invalid_argument(
            "--cert and --key go together: " + given.source + " is " + given.path + " but no " +
            (cert.path.empty() ? "--cert or $" + std::string(kCertEnv)
                               : "--key or $" + std::string(kKeyEnv)) +
            " was given");
      }
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, read(cert));
      ASSIGN_OR_RETURN(ssl.pem_private_key, read(key));
    }
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  for (const std::string& e : c.endpoints_) {
    c.channels_.push_back(grpc::CreateCustomChannel(e, creds, args));
  }
  return c;
}

void Client::prepare(grpc::ClientContext& context, bool streaming) const {
  if (!streaming) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(options_.timeout_ms));
  }
  if (options_.insecure && !options_.role.empty()) {
    context.AddMetadata("x-credledger-role", options_.role);
  }
}

grpc::Status Client::call(const std::function<grpc::Status(std::shared_ptr<grpc::Channel>,
                                                           grpc::ClientContext&)>& fn) const {
  grpc::Status last;
  for (const auto& channel : channels_) {
    grpc::ClientContext context;
    prepare(context);
    last = fn(channel, context);
    if (last.error_code() != grpc::StatusCode::UNAVAILABLE) return last;
  }
  return last;
}

std::string grpc_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    default: return "code " + std::to_string(static_cast<int>(code));
  }
}

int grpc_exit_code(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::OK: return kExitOk;
    case grpc::INVALID_ARGUMENT:
    case grpc::ALREADY_EXISTS:
    case grpc::NOT_FOUND:
    case grpc::PERMISSION_DENIED:
    case grpc::RESOURCE_EXHAUSTED:
    case grpc::OUT_OF_RANGE:
      return kExitFailure;
    default:
      return kExitError;
  }
}

}  // namespace tools
