// Issue #12: with [tls] insecure_plaintext = true a node takes each caller's role from a request
// header, so anyone who reaches one of its ports can claim "operator" or an agency. Such a config
// is refused unless every address the node listens on (listen, metrics_listen) is a loopback
// address; each case parses a small TOML text with node::parse_config.
#include <catch2/catch.hpp>
#include <string>

#include "node/config.h"

namespace {

std::string config_text(const std::string& listen, const std::string& metrics_listen,
                        bool insecure) {
  std::string text = "node_id = 1\ndata_dir = \"/tmp/n1\"\ngenesis = \"/tmp/genesis.json\"\n";
  text += "listen = \"" + listen + "\"\n";
  if (!metrics_listen.empty()) text += "metrics_listen = \"" + metrics_listen + "\"\n";
  text += "[peers]\n1 = \"" + listen + "\"\n";
  if (insecure) {
    text += "[tls]\ninsecure_plaintext = true\n";
  } else {
    text += "[tls]\nca = \"/tls/ca.crt\"\ncert = \"/tls/n1.crt\"\nkey = \"/tls/n1.key\"\n";
  }
  return text;
}

base::Status parse(const std::string& listen, const std::string& metrics_listen, bool insecure) {
  return node::parse_config(config_text(listen, metrics_listen, insecure), "node.toml").status();
}

TEST_CASE("issue 12: insecure_plaintext on loopback addresses is accepted", "[node][config]") {
  for (const std::string address :
       {"127.0.0.1:7001", "127.8.9.10:7001", "localhost:7001", "[::1]:7001"}) {
    INFO(address);
    const base::Status s = parse(address, "127.0.0.1:9101", true);
    INFO(s.to_string());
    CHECK(s.is_ok());
  }
  CHECK(parse("127.0.0.1:7001", "", true).is_ok());  // no metrics listener
}

TEST_CASE("issue 12: insecure_plaintext on a non-loopback listen address is refused",
          "[node][config]") {
  for (const std::string address :
       {"0.0.0.0:7001", "10.1.2.3:7001", "[::]:7001", "node1.example.org:7001", "128.0.0.1:7001",
        "localhost.example.org:7001", "[::ffff:10.0.0.1]:7001"}) {
    INFO(address);
    const base::Status s = parse(address, "", true);
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.code() == base::Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("listen '" + address + "'"));
    CHECK_THAT(s.message(), Catch::Contains("not a loopback address"));
    CHECK_THAT(s.message(), Catch::Contains("x-credledger-role"));
  }
  // The same addresses are fine with TLS, where roles come from client certificates.
  CHECK(parse("0.0.0.0:7001", "0.0.0.0:9101", false).is_ok());
}

TEST_CASE("issue 12: insecure_plaintext with a non-loopback metrics address is refused",
          "[node][config]") {
  const base::Status s = parse("127.0.0.1:7001", "0.0.0.0:9101", true);
  REQUIRE_FALSE(s.is_ok());
  CHECK_THAT(s.message(), Catch::Contains("metrics_listen '0.0.0.0:9101'"));
  CHECK_THAT(s.message(), Catch::Contains("not a loopback address"));
}

}  // namespace
