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
// Writes atomically (temp file + rename). Refuses to replace an existing file unless overwrite.
base::Status write_file(const std::string& path, std::string_view data, bool overwrite);

// Protobuf JSON with the proto field names, pretty-printed.
std::string to_json(const google::protobuf::Message& message);
base::Status from_json(std::string_view json, google::protobuf::Message& message);

// Prints "credctl: <message>" to stderr and returns the exit code for the status.
int report_error(std::string_view tool, const base::Status& status);

}  // namespace tools
