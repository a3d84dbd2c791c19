// Crash consistency and corruption detection of the chain store (DESIGN.md decision 5): a block
// whose write batch never reached the disk leaves no trace, reopening resumes at the recorded
// height, and bytes flipped in stored Merkle nodes, blocks, events or the head record are
// reported as kCorruption rather than served.
#include <rocksdb/utilities/checkpoint.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "ledger/internal/keys.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
namespace internal = ledger::internal;

const v1::Subject kFirm = enterprise(8001);

v1::BlockBody block_body(int n, int64_t ts) {
  std::vector<v1::SignedEvent> events;
  events.push_back(sign(penalty("p" + std::to_string(n), kSamr, kFirm, v1::GENERAL, v1::MINOR,
                                kT0 + n * kDayMs, 100)));
  events.push_back(sign(make_event("c" + std::to_string(n), kSamr, enterprise(8100 + n),
                                   v1::COMMENDATION, v1::GENERAL, kT0)));
  if (n > 1) {
    events.push_back(sign(referring("r" + std::to_string(n), kSamr, kFirm, v1::RESTORATION,
                                    "p" + std::to_string(n - 1), kT0 + n * kDayMs)));
  }
  return body(std::move(events), ts);
}

void put(ledger::Database& db, const std::string& cf, const std::string& key,
         const std::string& value) {
  REQUIRE(db.db()->Put(rocksdb::WriteOptions(), db.cf(cf), key, value).ok());
}

std::string get(ledger::Database& db, const std::string& cf, const std::string& key) {
  std::string value;
  REQUIRE(db.db()->Get(rocksdb::ReadOptions(), db.cf(cf), key, &value).ok());
  return value;
}

// A ledger whose disk state is a copy of another's at one moment.
struct CopiedLedger {
  TempDir dir;
  std::unique_ptr<ledger::Database> db;
  std::unique_ptr<ledger::Ledger> ledger;
  void open() {
    auto d = ledger::Database::open(dir.path() + "/copy", {});
    REQUIRE(d.is_ok());
    db = std::move(d).value();
    auto l = ledger::Ledger::open(*db, test_consortium(), {.sync_writes = false});
    INFO(l.status().to_string());
    REQUIRE(l.is_ok());
    ledger = std::move(l).value();
  }
};

}  // namespace

TEST_CASE("reopening resumes at the recorded height with the same view", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 6; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  const v1::BlockHeader head = l->head();
  const ledger::Hash head_hash = l->head_hash();
  const v1::SubjectStatus status = l.status(kFirm, kT0 + 3 * kDayMs);
  l.close();
  l.reopen();
  CHECK(l->head().SerializeAsString() == head.SerializeAsString());
  CHECK(l->head_hash() == head_hash);
  CHECK(l.status(kFirm, kT0 + 3 * kDayMs).SerializeAsString() == status.SerializeAsString());
  CHECK(*ledger::merkle_root(l->merkle(), head.tree_size()) ==
        *ledger::hash_from_bytes(head.merkle_root()));
  // And the chain continues from there.
  auto next = l->apply(block_body(7, kT0 + 7000));
  REQUIRE(next.is_ok());
  CHECK(next->header().height() == 7);
  CHECK(next->header().prev_hash() == ledger::to_string(head_hash));
}

TEST_CASE("a block whose batch was never written leaves no trace", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 4; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  // The disk as it was after block 4: a crash before block 5's write batch.
  CopiedLedger crashed;
  {
    rocksdb::Checkpoint* raw = nullptr;
    REQUIRE(rocksdb::Checkpoint::Create(l.db().db(), &raw).ok());
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    REQUIRE(checkpoint->CreateCheckpoint(crashed.dir.path() + "/copy").ok());
  }
  const v1::SubjectStatus status4 = l.status(kFirm, kT0 + 10 * kDayMs);
  auto block5 = l->apply(block_body(5, kT0 + 5000));
  REQUIRE(block5.is_ok());

  crashed.open();
  ledger::Ledger& c = *crashed.ledger;
  CHECK(c.head().height() == 4);
  CHECK(c.block(5).status().code() == base::Code::kNotFound);
  CHECK(c.event("p5").status().code() == base::Code::kNotFound);
  CHECK(c.event("r5").status().code() == base::Code::kNotFound);
  CHECK(c.event_at_sequence(block5->header().first_sequence()).status().code() ==
        base::Code::kNotFound);
  auto s = c.status(kFirm, kT0 + 10 * kDayMs);
  REQUIRE(s.is_ok());
  CHECK(s->SerializeAsString() == status4.SerializeAsString());
  // The restoration in block 5 did not happen.
  auto p4 = c.event("p4");
  REQUIRE(p4.is_ok());
  CHECK(p4->entry->ended_at_ms() == 0);
  // Applying block 5 again gives exactly the block the ledger made before the crash.
  auto again = c.apply(block_body(5, kT0 + 5000));
  REQUIRE(again.is_ok());
  CHECK(again->SerializeAsString() == block5->SerializeAsString());
}

TEST_CASE("a failed apply leaves the ledger unchanged", "[ledger][crash]") {
  // A block referring to an event whose index entry is corrupt fails with a storage error; the
  // events before it in the same block must not be written either.
  TestLedger l;
  REQUIRE(l->apply(block_body(1, kT0 + 1000)).is_ok());
  const v1::BlockHeader head = l->head();
  put(l.db(), "index", internal::accepted_id_key("p1"), "\xff\xff garbage");
  auto failed = l->apply(block_body(2, kT0 + 2000));
  CHECK(failed.status().code() == base::Code::kCorruption);
  CHECK(l->head().SerializeAsString() == head.SerializeAsString());
  CHECK(l->block(2).status().code() == base::Code::kNotFound);
  CHECK(l->event("c2").status().code() == base::Code::kNotFound);
  CHECK(l.status(enterprise(8102), kT0).event_count() == 0);
}

TEST_CASE("a Merkle node of the wrong size is kCorruption", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 3; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  put(l.db(), "merkle", internal::merkle_key(0, 1), std::string(31, 'x'));
  auto root = ledger::merkle_root(l->merkle(), 3);  // node(1, 0) is stored: reads no leaf
  CHECK(root.is_ok());
  auto proof = ledger::merkle_inclusion_proof(l->merkle(), 0, l->head().tree_size());
  CHECK(proof.status().code() == base::Code::kCorruption);
}

TEST_CASE("a changed frontier Merkle node is kCorruption on open", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 3; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  const uint64_t size = l->head().tree_size();  // 2 + 3 + 3 = 8 leaves: the frontier is (3, 0)
  REQUIRE(size == 8);
  std::string node = get(l.db(), "merkle", internal::merkle_key(3, 0));
  node[0] ^= 1;
  put(l.db(), "merkle", internal::merkle_key(3, 0), node);
  const base::Status s = l.try_reopen(test_consortium());
  CHECK(s.code() == base::Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("merkle"));
}

TEST_CASE("a changed interior Merkle node makes proofs fail to verify", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 3; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  const v1::BlockHeader head = l->head();
  std::string node = get(l.db(), "merkle", internal::merkle_key(0, 1));  // not on the frontier
  node[7] ^= 1;
  put(l.db(), "merkle", internal::merkle_key(0, 1), node);
  auto proof = ledger::merkle_inclusion_proof(l->merkle(), 0, head.tree_size());
  REQUIRE(proof.is_ok());
  auto leaf = l->event_at_sequence(0);
  REQUIRE(leaf.is_ok());
  CHECK_FALSE(ledger::verify_inclusion(ledger::event_hash(*leaf), 0, head.tree_size(), *proof,
                                       *ledger::hash_from_bytes(head.merkle_root())));
}

TEST_CASE("a block record that does not parse is kCorruption", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 3; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  put(l.db(), "blocks", internal::block_key(2), "\xff\xff\xff\xff not a block");
  CHECK(l->block(2).status().code() == base::Code::kCorruption);
  CHECK(l->header(2).status().code() == base::Code::kCorruption);
  CHECK(l->block(3).status().code() == base::Code::kCorruption);  // its parent is unreadable
  CHECK(l->block(1).is_ok());
}

TEST_CASE("a block record with a changed header is kCorruption", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 3; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  v1::Block stored;
  REQUIRE(stored.ParseFromString(get(l.db(), "blocks", internal::block_key(2))));

  SECTION("events root") {
    (*stored.mutable_header()->mutable_events_root())[0] ^= 1;
    put(l.db(), "blocks", internal::block_key(2), stored.SerializeAsString());
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
  SECTION("event count") {
    stored.mutable_header()->set_event_count(stored.header().event_count() + 1);
    put(l.db(), "blocks", internal::block_key(2), stored.SerializeAsString());
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
  SECTION("height") {
    stored.mutable_header()->set_height(5);
    put(l.db(), "blocks", internal::block_key(2), stored.SerializeAsString());
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
  SECTION("state root, caught by the child's hash link") {
    (*stored.mutable_header()->mutable_state_root())[9] ^= 1;
    put(l.db(), "blocks", internal::block_key(2), stored.SerializeAsString());
    const auto child = l->block(3);
    CHECK(child.status().code() == base::Code::kCorruption);
    CHECK_THAT(child.status().message(), Catch::Contains("prev_hash"));
  }
  SECTION("prev hash") {
    (*stored.mutable_header()->mutable_prev_hash())[0] ^= 1;
    put(l.db(), "blocks", internal::block_key(2), stored.SerializeAsString());
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
}

TEST_CASE("a changed or missing stored event is kCorruption", "[ledger][crash]") {
  TestLedger l;
  for (int n = 1; n <= 3; ++n) REQUIRE(l->apply(block_body(n, kT0 + n * 1000)).is_ok());
  auto rec = l->event("c2");
  REQUIRE(rec.is_ok());
  const std::string key = internal::event_key(rec->location.height(), rec->location.index());

  SECTION("changed payload byte") {
    v1::SignedEvent e = rec->signed_event;
    e.mutable_payload()->back() ^= 1;
    put(l.db(), "events", key, e.SerializeAsString());
    CHECK(l->event("c2").status().code() == base::Code::kCorruption);
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
  SECTION("bytes that do not parse") {
    put(l.db(), "events", key, "\xff\xff\xff");
    CHECK(l->event("c2").status().code() == base::Code::kCorruption);
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
  SECTION("deleted") {
    REQUIRE(l.db().db()->Delete(rocksdb::WriteOptions(), l.db().cf("events"), key).ok());
    CHECK(l->block(2).status().code() == base::Code::kCorruption);
  }
}

TEST_CASE("a head record that does not parse is kCorruption on open", "[ledger][crash]") {
  TestLedger l;
  REQUIRE(l->apply(block_body(1, kT0 + 1000)).is_ok());
  put(l.db(), "meta", std::string(internal::kMetaHead), "\xff\xff\xff");
  CHECK(l.try_reopen(test_consortium()).code() == base::Code::kCorruption);
}

TEST_CASE("a view entry that does not parse is kCorruption", "[ledger][crash]") {
  TestLedger l;
  REQUIRE(l->apply(block_body(1, kT0 + 1000)).is_ok());
  auto rec = l->event("p1");
  REQUIRE(rec.is_ok());
  put(l.db(), "view", internal::view_key(kFirm, rec->location.receipt().sequence()), "\xff\xff");
  CHECK(l->status(kFirm, kT0).status().code() == base::Code::kCorruption);
  CHECK(l->event("p1").status().code() == base::Code::kCorruption);
}
