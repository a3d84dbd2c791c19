// credd: the credledger agency node.
//   credd --config node.toml
// Stops gracefully on SIGTERM or SIGINT. Exit codes: 0 after a graceful stop, 2 for a bad
// command line or configuration, 3 if the node cannot start, 70 on a fatal storage error.
#include <signal.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "base/absl_runtime.h"
#include "ledger/crypto.h"
#include "node/config.h"
#include "node/node.h"

namespace {

// %* : the log message as the body of a JSON string (quotes, backslashes and control characters
// escaped), so that log_format = "json" lines always parse.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const char esc[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
            dest.append(esc, esc + sizeof esc);
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

void configure_logging(const node::NodeConfig& config) {
  const std::string node = std::to_string(config.node_id);
  if (config.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        "{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%l\",\"node\":" + node +
        ",\"msg\":\"%*\"}");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [node " + node + "] %v",
                        spdlog::pattern_time_type::utc);
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  // Protobuf writes its own "[libprotobuf ERROR ...]" lines to stderr (e.g. a hostile client's
  // invalid UTF-8, which gRPC then refuses): they go through the node's log instead, so every
  // line has the node's format (and log_format = "json" lines always parse).
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char* file, int line,
                                     const std::string& message) {
    const spdlog::level::level_enum to = level == google::protobuf::LOGLEVEL_FATAL
                                             ? spdlog::level::critical
                                         : level >= google::protobuf::LOGLEVEL_WARNING
                                             ? spdlog::level::warn
                                             : spdlog::level::debug;
    spdlog::log(to, "protobuf {}:{}: {}", file, line, message);
  });
}

}  // namespace

int main(int argc, char** argv) {
  base::disable_absl_deadlock_detection();
  CLI::App app{"credd: a credledger agency node"};
  std::string config_path;
  app.add_option("-c,--config", config_path, "node configuration (TOML)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ledger::crypto_init();
  auto config = node::load_config(config_path);
  if (!config.is_ok()) {
    std::cerr << "credd: " << config.status().message() << "\n";
    return 2;
  }
  configure_logging(*config);

  auto node = node::Node::create(*config);
  if (!node.is_ok()) {
    spdlog::critical("cannot start: {}", node.status().message());
    return 3;
  }
  if (auto s = (*node)->start(); !s.is_ok()) {
    spdlog::critical("cannot start: {}", s.message());
    return 3;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    (*node)->stop();
  });
  (*node)->wait();
  // A stop that came from elsewhere leaves the signal thread waiting: wake it.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  spdlog::info("stopped");
  return 0;
}
