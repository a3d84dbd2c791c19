// Issue #12: a genesis whose key ids cannot be C2SP signed-note key names (a space or "+") used
// to load, and the node failed only later, when it first cosigned a checkpoint with that key.
// The genesis is now refused when it is loaded, with a message naming the agency and the key.
#include <catch2/catch.hpp>

#include "ledger/consortium.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;

base::Status load_with_key_id(const std::string& key_id) {
  v1::ConsortiumConfig config = test_config();
  config.mutable_agencies(0)->mutable_keys(0)->set_key_id(key_id);
  auto genesis = ledger::Consortium::to_genesis(config);
  REQUIRE(genesis.is_ok());
  return ledger::Consortium::from_genesis(*genesis).status();
}

TEST_CASE("issue 12: a genesis key id with a space or '+' is refused at load", "[ledger]") {
  for (const std::string bad : {"samr k1", "samr+k1", " samr", "samr\xE3\x80\x80k1"}) {
    INFO("key id '" << bad << "'");
    const base::Status s = load_with_key_id(bad);
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.code() == base::Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("key '" + bad + "'"));
    CHECK_THAT(s.message(), Catch::Contains("signed-note key name"));
  }
  // Names C2SP allows (dots, dashes, slashes, non-ASCII letters) still load.
  for (const std::string good : {"samr-k2", "samr.k2/2026", "samr_\xE5\xB8\x82"}) {
    INFO("key id '" << good << "'");
    CHECK(load_with_key_id(good).is_ok());
  }
}

}  // namespace
