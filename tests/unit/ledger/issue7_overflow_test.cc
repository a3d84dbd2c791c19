// Issue #7 (bad input everywhere): what the fuzzers found in the rules and the checkpoint
// reader. First, integer overflows: Times come
// from events, blocks and client queries, scoring numbers from the genesis; each used to reach
// signed int64 overflow (undefined behaviour, seen by UBSan in tests/fuzz). These cases pin the
// answers the rules now give at the edges of the int64 range.
#include <catch2/catch.hpp>
#include <limits>

#include "ledger/checkpoint.h"
#include "ledger/scoring.h"
#include "ledger/validation.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST_CASE("issue 7: a genesis with out-of-range scoring values is refused", "[ledger]") {
  v1::ConsortiumConfig config = test_config();
  config.mutable_scoring()->set_blacklist_deduction(std::numeric_limits<int64_t>::min());
  auto genesis = ledger::Consortium::to_genesis(config);
  REQUIRE(genesis.is_ok());
  auto consortium = ledger::Consortium::from_genesis(*genesis);
  REQUIRE_FALSE(consortium.is_ok());
  CHECK(consortium.status().message().find("scoring values") != std::string::npos);

  config = test_config();
  config.mutable_scoring()->mutable_penalty_deductions(0)->set_points(kMax);
  genesis = ledger::Consortium::to_genesis(config);
  REQUIRE(genesis.is_ok());
  CHECK_FALSE(ledger::Consortium::from_genesis(*genesis).is_ok());
}

TEST_CASE("issue 7: a far-future commendation is scored without overflow", "[ledger]") {
  auto consortium = test_consortium();
  const v1::CreditEvent e =
      make_event("far", kSamr, enterprise(1), v1::COMMENDATION, v1::GENERAL, kMax - 1);
  v1::ViewEntry entry;
  entry.set_event_id(e.event_id());
  entry.set_kind(e.kind());
  entry.set_sector(e.sector());
  entry.set_effective_at_ms(e.effective_at_ms());
  *entry.mutable_subject() = e.subject();
  const auto& rules = consortium->config().scoring();
  // Active at the end of time; its bonus window ends there too, so it no longer counts.
  v1::SubjectStatus status = ledger::evaluate_subject(*consortium, e.subject(), {entry}, kMax);
  CHECK(status.score() == rules.base_score());
  CHECK(status.commendations_size() == 1);
  // At its effective instant it counts.
  status = ledger::evaluate_subject(*consortium, e.subject(), {entry}, kMax - 1);
  CHECK(status.score() == rules.base_score() + rules.commendation_bonus());
}

TEST_CASE("issue 7: a block time near the end of time does not overflow the skew rule",
          "[ledger]") {
  auto consortium = test_consortium();
  v1::CreditEvent e =
      make_event("late-block", kSamr, enterprise(1), v1::COMMENDATION, v1::GENERAL, kT0);
  ledger::LedgerLookup lookup;
  lookup.exists = [](const std::string&) { return false; };
  lookup.find = [](const std::string&) { return std::optional<v1::ViewEntry>(); };
  CHECK_FALSE(ledger::check_event_stateful(*consortium, e, kMax - 1, lookup).has_value());
  e.set_issued_at_ms(kMax);
  auto rejection = ledger::check_event_stateful(*consortium, e, kT0, lookup);
  REQUIRE(rejection.has_value());
  CHECK(rejection->reason == v1::ISSUED_IN_FUTURE);
}

TEST_CASE("issue 7: a cp.json cosigner with a non-string name is refused, not thrown",
          "[ledger]") {
  v1::Checkpoint c;
  c.set_tree_size(1);
  c.set_root_hash(std::string(32, 'r'));
  c.set_height(1);
  c.set_block_hash(std::string(32, 'b'));
  c.set_state_root(std::string(32, 's'));
  c.set_timestamp_ms(kT0);
  ledger::CosignedCheckpoint cp =
      ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), c);
  ledger::KeyFile key{std::string(kSamr), key_id_of(kSamr), keys_of(kSamr)};
  REQUIRE(ledger::cosign(cp, key, 1767225600).is_ok());
  const std::string json = ledger::checkpoint_to_json(cp);
  REQUIRE(ledger::checkpoint_from_json(json).is_ok());
  const std::string name = "\"name\": \"" + key_id_of(kSamr) + "\"";
  const size_t at = json.find(name);
  REQUIRE(at != std::string::npos);
  std::string bad = json;
  bad.replace(at, name.size(), "\"name\": 5");
  auto parsed = ledger::checkpoint_from_json(bad);
  REQUIRE_FALSE(parsed.is_ok());
  CHECK(parsed.status().code() == base::Code::kInvalidArgument);
}

}  // namespace
