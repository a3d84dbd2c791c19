// Fuzzes credd's TOML configuration (node/config.h): parse_config on any text, as load_config
// does with the file's contents. A config that loads must validate, and its addresses must be
// host:port.
//
// Oracles: bad text is a kInvalidArgument naming the file, never an exception or a crash; a
// loaded config passes validate() again (parse_config validated it) and every peer address
// passes check_host_port.
#include <string>

#include "node/config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = node::parse_config(text, "fuzz.toml");
  if (!config.is_ok()) {
    FUZZ_CHECK(config.status().code() == base::Code::kInvalidArgument,
               "a bad config is an invalid argument");
    FUZZ_CHECK(config.status().message().find("fuzz.toml") != std::string::npos,
               "a config error names the file");
    return 0;
  }
  FUZZ_CHECK(config->validate().is_ok(), "a loaded config validates");
  FUZZ_CHECK(node::check_host_port(config->listen, "listen").is_ok(), "listen is host:port");
  for (const auto& [id, address] : config->peers) {
    FUZZ_CHECK(id != 0, "peer ids are positive");
    FUZZ_CHECK(node::check_host_port(address, "peer").is_ok(), "peers are host:port");
  }
  return 0;
}
