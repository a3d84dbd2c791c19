// Shared between credctl's offline verbs (credctl.cc) and node verbs (credctl_node.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "tools/client.h"

namespace credctl {

struct Global {
  std::string output = "table";
  tools::ClientOptions client;
  bool json() const { return output == "json"; }
};

// Registers the verbs that talk to nodes; each sets rc when it runs.
void add_node_commands(CLI::App& app, Global& global, int& rc);

}  // namespace credctl
