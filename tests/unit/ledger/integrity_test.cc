// Finding and repairing damaged storage (issue #7): two ledgers apply the same blocks; bytes of
// one are changed behind its back (an event, a block record, a Merkle leaf and an inner node),
// verify_stored() names each damaged height and why, and repair() restores it from the other's
// blocks, accepting a copy only if it is the one the damaged ledger's own chain commits to.
#include <catch2/catch.hpp>

#include "ledger/block.h"
#include "ledger/internal/keys.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
namespace internal = ledger::internal;

// Nine blocks of three or four events: 34 leaves, Merkle nodes up to level 5.
void fill(TestLedger& l) {
  for (int n = 1; n <= 9; ++n) {
    std::vector<v1::SignedEvent> events;
    for (int i = 0; i < 3 + n % 2; ++i) {
      events.push_back(sign(penalty("p" + std::to_string(n) + "-" + std::to_string(i), kSamr,
                                    enterprise(9000 + n * 10 + i), v1::GENERAL, v1::MINOR,
                                    kT0, 100)));
    }
    l.apply(std::move(events), kT0 + n * 1000);
  }
}

void put(ledger::Database& db, const std::string& cf, const std::string& key,
         const std::string& value) {
  REQUIRE(db.db()->Put(rocksdb::WriteOptions(), db.cf(cf), key, value).ok());
}

std::map<uint64_t, v1::Block> copies_of(TestLedger& from, const std::vector<ledger::Damage>& d) {
  std::map<uint64_t, v1::Block> out;
  for (const auto& damage : d) {
    auto b = from->block(damage.height);
    REQUIRE(b.is_ok());
    out[damage.height] = *b;
  }
  return out;
}

}  // namespace

TEST_CASE("an intact ledger verifies", "[ledger][integrity]") {
  TestLedger l;
  fill(l);
  auto damages = l->verify_stored(0, UINT64_MAX);
  REQUIRE(damages.is_ok());
  CHECK(damages->empty());
}

TEST_CASE("a changed event is found at its height and repaired from a peer's copy",
          "[ledger][integrity]") {
  TestLedger good, bad;
  fill(good);
  fill(bad);
  // Another valid event put in place of event 1 of block 4.
  const v1::SignedEvent other = sign(penalty("forged", kSamr, enterprise(9999), v1::GENERAL,
                                             v1::MINOR, kT0, 100));
  put(bad.db(), "events", internal::event_key(4, 1), other.SerializeAsString());
  auto damages = bad->verify_stored(0, UINT64_MAX);
  REQUIRE(damages.is_ok());
  REQUIRE(damages->size() == 1);
  CHECK(damages->front().height == 4);
  CHECK(damages->front().block);
  CHECK(damages->front().reason.find("block 4") != std::string::npos);
  CHECK(bad->block(4).status().code() == base::Code::kCorruption);

  // A copy that is not the chain's block 4 is refused, and nothing is written.
  std::map<uint64_t, v1::Block> wrong = copies_of(good, *damages);
  *wrong[4].mutable_events(1) = other;
  auto refused = bad->repair(*damages, wrong);
  CHECK(refused.code() == base::Code::kCorruption);
  CHECK(bad->block(4).status().code() == base::Code::kCorruption);
  std::map<uint64_t, v1::Block> forged_header = copies_of(good, *damages);
  forged_header[4].mutable_header()->set_timestamp_ms(1);
  CHECK(bad->repair(*damages, forged_header).code() == base::Code::kCorruption);

  REQUIRE(bad->repair(*damages, copies_of(good, *damages)).is_ok());
  CHECK(bad->verify_stored(0, UINT64_MAX)->empty());
  CHECK(bad->block(4)->SerializeAsString() == good->block(4)->SerializeAsString());
}

TEST_CASE("a damaged block record and damaged Merkle nodes are found and repaired",
          "[ledger][integrity]") {
  TestLedger good, bad;
  fill(good);
  fill(bad);
  // Block 2's record does not parse; leaf 20 (block 6 holds leaves 18..20) is wrong; the inner
  // node (2, 7) covering leaves 28..31 (completed by block 9, which holds leaves 28..31) is wrong.
  put(bad.db(), "blocks", internal::block_key(2), "\x0a\xff garbage");
  put(bad.db(), "merkle", internal::merkle_key(0, 20), std::string(32, 'x'));
  put(bad.db(), "merkle", internal::merkle_key(2, 7), std::string(32, 'y'));
  auto damages = bad->verify_stored(0, UINT64_MAX);
  REQUIRE(damages.is_ok());
  std::map<uint64_t, bool> found;
  for (const auto& d : *damages) {
    INFO(d.reason);
    found[d.height] = d.block;
  }
  // Block 3 links to block 2, so it is reported too; the Merkle damage shows where the nodes
  // were made (and in every later root that reads them).
  REQUIRE(found.count(2));
  CHECK(found[2]);
  REQUIRE(found.count(6));
  CHECK_FALSE(found[6]);
  REQUIRE(found.count(9));
  CHECK_FALSE(found[9]);
  CHECK(damages->front().height == 2);

  REQUIRE(bad->repair(*damages, copies_of(good, *damages)).is_ok());
  auto after = bad->verify_stored(0, UINT64_MAX);
  REQUIRE(after.is_ok());
  CHECK(after->empty());
  for (uint64_t size = 1; size <= good->head().tree_size(); ++size) {
    INFO("tree size " << size);
    CHECK(*ledger::merkle_root(bad->merkle(), size) == *ledger::merkle_root(good->merkle(), size));
  }
}

TEST_CASE("a repair without a copy of a damaged block fails", "[ledger][integrity]") {
  TestLedger l;
  fill(l);
  put(l.db(), "events", internal::event_key(7, 0), "\x0a\x01x");
  auto damages = l->verify_stored(0, UINT64_MAX);
  REQUIRE(damages.is_ok());
  REQUIRE(!damages->empty());
  CHECK(damages->front().height == 7);
  CHECK(l->repair(*damages, {}).code() == base::Code::kCorruption);
}
