#include "tools/cli_util.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <grpc/support/log.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

namespace tools {

base::Result<int64_t> parse_time_ms(std::string_view text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && ptr == text.data() + text.size()) return v;
  }
  std::tm tm{};
  const std::string s(text);
  const char* end = nullptr;
  if (s.size() == 10) {
    end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  } else {
    end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  if (end == nullptr || *end != '\0') {
    return base::Status::invalid_argument("time '" + s +
                                          "' is not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix ms");
  }
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string format_time_ms(int64_t ms) {
  if (ms == 0) return "-";
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

base::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::Status::not_found("cannot open " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

base::Status check_overwrite(const std::string& path, bool force) {
  if (!force && ::access(path.c_str(), F_OK) == 0) {
    return base::Status::invalid_argument(path + " exists; pass --force to replace it");
  }
  return base::Status::ok();
}

base::Status rename_into_place(const std::string& tmp, const std::string& path) {
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    std::remove(tmp.c_str());
    return base::Status::io_error("cannot rename " + tmp + " to " + path + ": " + error);
  }
  return base::Status::ok();
}

base::Status write_file(const std::string& path, std::string_view data, bool overwrite) {
  RETURN_IF_ERROR(check_overwrite(path, overwrite));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return base::Status::io_error("cannot write " + tmp + ": " + std::strerror(errno));
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return base::Status::io_error("cannot write " + tmp);
  }
  return rename_into_place(tmp, path);
}

namespace {

std::string& log_tool_name() {
  static std::string name;
  return name;
}

void protobuf_log(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  static const bool shown = [] {
    const char* env = std::getenv("CREDLEDGER_LIBRARY_LOGS");
    return env != nullptr && std::string_view(env) == "1";
  }();
  if (!shown && level != google::protobuf::LOGLEVEL_FATAL) return;
  std::cerr << log_tool_name() << ": protobuf " << file << ":" << line << ": " << message << "\n";
}

void grpc_log(gpr_log_func_args* args) {
  std::cerr << log_tool_name() << ": grpc " << args->file << ":" << args->line << ": "
            << args->message << "\n";
}

}  // namespace

void route_library_logs(std::string_view tool) {
  log_tool_name() = std::string(tool);
  google::protobuf::SetLogHandler(&protobuf_log);
  const char* env = std::getenv("CREDLEDGER_LIBRARY_LOGS");
  if (env != nullptr && std::string_view(env) == "1") {
    gpr_set_log_function(&grpc_log);
  } else {
    // gRPC's own lines ("Handshake failed", "failed to connect") repeat what the call's status
    // says, which the tools print.
    gpr_set_log_function([](gpr_log_func_args*) {});
  }
}

std::string to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

base::Status from_json(std::string_view json, google::protobuf::Message& message) {
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &message);
  if (!status.ok()) {
    return base::Status::invalid_argument("not a valid " + message.GetTypeName() + " in JSON: " +
                                          std::string(status.message()));
  }
  return base::Status::ok();
}

int report_error(std::string_view tool, const base::Status& status) {
  std::cerr << tool << ": " << status.message() << "\n";
  switch (status.code()) {
    case base::Code::kOk: return kExitOk;
    case base::Code::kInvalidArgument: return kExitUsage;
    default: return kExitError;
  }
}

}  // namespace tools
