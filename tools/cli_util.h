// Small helpers shared by the command-line tools: times, files, JSON output, exit codes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "base/status.h"

namespace tools {

// Exit codes scripts can rely on.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;     // the command ran and the answer is "no" (invalid, rejected)
constexpr int kExitUsage = 2;       // bad flags or arguments
constexpr int kExitError = 3;       // could not do the work (I/O, unreachable node, corruption)

// Accepts "2026-03-21", "2026-03-21T08:30:00Z" (UTC) or Unix milliseconds ("1774080000000").
base::Result<int64_t> parse_time_ms(std::string_view text);
// "2026-03-21T08:30:00Z"; 0 prints as "-".
std::string format_time_ms(int64_t ms);
int64_t now_ms();

base::Result<std::string> read_file(const std::string& path);
// The one rule of every verb that writes a file: an existing file is replaced only with
// --force. kInvalidArgument "<path> exists; pass --force to replace it" otherwise.
base::Status check_overwrite(const std::string& path, bool force);
// Writes atomically (temp file + rename). Refuses to replace an existing file unless overwrite
// (check_overwrite).
base::Status write_file(const std::string& path, std::string_view data, bool overwrite);
// Moves a finished "<path>.tmp" into place (the last step of write_file, for verbs that stream).
base::Status rename_into_place(const std::string& tmp, const std::string& path);

// Keeps the libraries' own log lines (protobuf's "[libprotobuf ERROR ...]", gRPC's "E0000 ...")
// out of the tools' output: what went wrong reaches the user as the tool's one error message.
// With CREDLEDGER_LIBRARY_LOGS=1 they go to stderr, prefixed with the tool's name, for
// debugging. Call first thing in main(), before any other thread starts.
void route_library_logs(std::string_view tool);

// Protobuf JSON with the proto field names, pretty-printed.
std::string to_json(const google::protobuf::Message& message);
base::Status from_json(std::string_view json, google::protobuf::Message& message);

// Prints "credctl: <message>" to stderr and returns the exit code for the status.
int report_error(std::string_view tool, const base::Status& status);

}  // namespace tools
