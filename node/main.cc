// credd: the credledger agency node.
//   credd --config node.toml
// Stops gracefully on SIGTERM or SIGINT. Exit codes: 0 after a graceful stop, 2 for a bad
// command line or configuration, 3 if the node cannot start, 70 on a fatal storage error.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "ledger/crypto.h"
#include "node/config.h"
#include "node/node.h"

int main(int argc, char** argv) {
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
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [node " + std::to_string(config->node_id) +
                      "] %v", spdlog::pattern_time_type::utc);
  spdlog::set_level(spdlog::level::from_str(config->log_level));

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
