// Issue #12: every field credaudit reads from a checkpoint or proof file is checked. A small
// chain (four blocks of commendations) is built with TestLedger; its checkpoints and proofs are
// written to JSON, one field is changed, and reading or verifying must refuse the file with a
// message naming that field. Also: proof files carry their roots and sizes at the top level for
// generic RFC 6962 verifiers (they must agree with the signed notes), a consistency proof from
// the empty tree needs the empty tree's root, and the replay directory's parent is created.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/export.h"
#include "ledger/merkle.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
namespace v1 = credledger::v1;
using nlohmann::json;

constexpr std::string_view kEmptyRootHex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

ledger::KeyFile key_file(std::string_view agency) {
  return ledger::KeyFile{std::string(agency), key_id_of(agency), keys_of(agency)};
}

TestLedger& small_chain() {
  static TestLedger* ledger = [] {
    auto* l = new TestLedger();
    for (int b = 1; b <= 4; ++b) {
      std::vector<v1::SignedEvent> events;
      for (int i = 0; i < 3; ++i) {
        events.push_back(
            sign(make_event("i12-" + std::to_string(b) + "-" + std::to_string(i), kSamr,
                            enterprise(700 + b * 10 + i), v1::COMMENDATION, v1::GENERAL, kT0)));
      }
      l->apply(events, kT0 + b * 60000);
    }
    return l;
  }();
  return *ledger;
}

ledger::CosignedCheckpoint cosigned(const v1::Checkpoint& c) {
  ledger::CosignedCheckpoint out =
      ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), c);
  uint64_t t = 1767225600;
  for (std::string_view a : {kSamr, kSta, kCourt}) {
    REQUIRE(ledger::cosign(out, key_file(a), t++).is_ok());
  }
  return out;
}

ledger::CosignedCheckpoint checkpoint_at(uint64_t height) {
  auto cp = ledger::checkpoint_at(small_chain().get(), height);
  REQUIRE(cp.is_ok());
  return cosigned(*cp);
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST_CASE("issue 12: a cosigner timestamp in cp.json must match the note", "[audit][issue12]") {
  const ledger::CosignedCheckpoint cp = checkpoint_at(2);
  json j = json::parse(ledger::checkpoint_to_json(cp));
  REQUIRE(j["cosigners"][1]["timestamp"] == 1767225601);
  REQUIRE(ledger::checkpoint_from_json(j.dump()).is_ok());

  json wrong = j;
  wrong["cosigners"][1]["timestamp"] = 1767225999;
  auto read = ledger::checkpoint_from_json(wrong.dump());
  REQUIRE_FALSE(read.is_ok());
  CHECK_THAT(read.status().message(), Catch::Contains("timestamp"));
  CHECK_THAT(read.status().message(), Catch::Contains("1767225999"));
  CHECK_THAT(read.status().message(), Catch::Contains("1767225601"));

  wrong = j;
  wrong["cosigners"][0]["timestamp"] = "1767225600";  // a string is not the note's number
  CHECK_FALSE(ledger::checkpoint_from_json(wrong.dump()).is_ok());
}

TEST_CASE("issue 12: an inclusion proof's leaf_hash is hex in either case", "[audit][issue12]") {
  const ledger::CosignedCheckpoint cp = checkpoint_at(4);
  auto made = ledger::make_inclusion_proof(small_chain().get(), 4, cp);
  REQUIRE(made.is_ok());
  json j = json::parse(ledger::inclusion_proof_to_json(*made));
  j["leaf_hash"] = upper(j["leaf_hash"].get<std::string>());
  for (auto& h : j["path"]) h = upper(h.get<std::string>());
  auto read = ledger::inclusion_proof_from_json(j.dump());
  INFO(read.status().to_string());
  REQUIRE(read.is_ok());
  CHECK(ledger::verify_inclusion_proof(*test_consortium(), *read, cp).is_ok());

  std::string other = j["leaf_hash"].get<std::string>();
  other[0] = other[0] == 'A' ? 'B' : 'A';
  j["leaf_hash"] = other;
  read = ledger::inclusion_proof_from_json(j.dump());
  REQUIRE_FALSE(read.is_ok());
  CHECK_THAT(read.status().message(), Catch::Contains("leaf_hash"));
}

TEST_CASE("issue 12: an inclusion proof file gives root and tree_size at the top level",
          "[audit][issue12]") {
  const ledger::CosignedCheckpoint cp = checkpoint_at(3);
  auto made = ledger::make_inclusion_proof(small_chain().get(), 1, cp);
  REQUIRE(made.is_ok());
  const json j = json::parse(ledger::inclusion_proof_to_json(*made));
  CHECK(j["root"] == ledger::to_hex(cp.checkpoint.root_hash()));
  CHECK(j["tree_size"] == cp.checkpoint.tree_size());
  // A generic RFC 6962 verifier needs nothing else: leaf hash, index, size, path and root.
  std::vector<ledger::Hash> path;
  auto hash_of = [](const json& hex) {
    return *ledger::hash_from_bytes(*ledger::from_hex(hex.get<std::string>()));
  };
  for (const auto& h : j["path"]) path.push_back(hash_of(h));
  CHECK(ledger::verify_inclusion(hash_of(j["leaf_hash"]), j["leaf_index"].get<uint64_t>(),
                                 j["tree_size"].get<uint64_t>(), path, hash_of(j["root"])));

  json upper_root = j;
  upper_root["root"] = upper(j["root"].get<std::string>());
  CHECK(ledger::inclusion_proof_from_json(upper_root.dump()).is_ok());

  json wrong = j;
  wrong["root"] = ledger::to_hex(ledger::sha256("another root"));
  auto read = ledger::inclusion_proof_from_json(wrong.dump());
  REQUIRE_FALSE(read.is_ok());
  CHECK_THAT(read.status().message(), Catch::Contains("\"root\""));
  CHECK_THAT(read.status().message(), Catch::Contains("note"));

  wrong = j;
  wrong["tree_size"] = cp.checkpoint.tree_size() + 1;
  read = ledger::inclusion_proof_from_json(wrong.dump());
  REQUIRE_FALSE(read.is_ok());
  CHECK_THAT(read.status().message(), Catch::Contains("\"tree_size\""));
}

TEST_CASE("issue 12: a consistency proof file gives both roots and sizes at the top level",
          "[audit][issue12]") {
  const ledger::CosignedCheckpoint older = checkpoint_at(1);
  const ledger::CosignedCheckpoint newer = checkpoint_at(4);
  auto made = ledger::make_consistency_proof(small_chain().get(), older, newer);
  REQUIRE(made.is_ok());
  const json j = json::parse(ledger::consistency_proof_to_json(*made));
  CHECK(j["old_root"] == ledger::to_hex(older.checkpoint.root_hash()));
  CHECK(j["new_root"] == ledger::to_hex(newer.checkpoint.root_hash()));
  CHECK(j["old_size"] == older.checkpoint.tree_size());
  CHECK(j["new_size"] == newer.checkpoint.tree_size());
  REQUIRE(ledger::consistency_proof_from_json(j.dump()).is_ok());

  for (const char* field : {"old_root", "new_root"}) {
    INFO(field);
    json wrong = j;
    wrong[field] = ledger::to_hex(ledger::sha256("another root"));
    auto read = ledger::consistency_proof_from_json(wrong.dump());
    REQUIRE_FALSE(read.is_ok());
    CHECK_THAT(read.status().message(), Catch::Contains(std::string("\"") + field + "\""));
  }
  for (const char* field : {"old_size", "new_size"}) {
    INFO(field);
    json wrong = j;
    wrong[field] = wrong[field].get<uint64_t>() + 1;
    auto read = ledger::consistency_proof_from_json(wrong.dump());
    REQUIRE_FALSE(read.is_ok());
    CHECK_THAT(read.status().message(), Catch::Contains(std::string("\"") + field + "\""));
  }
}

TEST_CASE("issue 12: a consistency proof from size 0 needs the empty tree's root",
          "[audit][issue12]") {
  auto consortium = test_consortium();
  const ledger::CosignedCheckpoint genesis = checkpoint_at(0);
  REQUIRE(genesis.checkpoint.tree_size() == 0);
  REQUIRE(ledger::to_hex(genesis.checkpoint.root_hash()) == kEmptyRootHex);
  const ledger::CosignedCheckpoint newer = checkpoint_at(4);
  auto made = ledger::make_consistency_proof(small_chain().get(), genesis, newer);
  REQUIRE(made.is_ok());
  CHECK(ledger::verify_consistency_proof(*consortium, *made, genesis, newer).is_ok());

  // A quorum cosigned a tree of size 0 whose root is not SHA-256(""): no tree has it.
  v1::Checkpoint forged = genesis.checkpoint;
  forged.set_root_hash(ledger::to_string(ledger::sha256("not empty")));
  const ledger::CosignedCheckpoint bad_old = cosigned(forged);
  ledger::ConsistencyProof proof = *made;
  proof.old_checkpoint = bad_old;
  const base::Status s = ledger::verify_consistency_proof(*consortium, proof, bad_old, newer);
  REQUIRE_FALSE(s.is_ok());
  CHECK(s.code() == base::Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains(std::string(kEmptyRootHex)));
  auto fork = ledger::detect_fork(*consortium, bad_old, newer, &proof);
  CHECK(fork.has_value());

  // The same from a file.
  auto read = ledger::consistency_proof_from_json(ledger::consistency_proof_to_json(proof));
  REQUIRE_FALSE(read.is_ok());
  CHECK_THAT(read.status().message(), Catch::Contains(std::string(kEmptyRootHex)));
}

TEST_CASE("issue 12: verify_chain creates a missing work directory", "[audit][issue12]") {
  std::ostringstream out;
  ledger::ChainWriter writer(out);
  for (uint64_t h = 0; h <= 4; ++h) {
    auto block = small_chain()->block(h);
    REQUIRE(block.is_ok());
    REQUIRE(writer.write(*block).is_ok());
  }
  REQUIRE(writer.finish().is_ok());
  TempDir dir;
  ledger::AuditOptions options;
  options.verify_threads = 1;
  options.work_dir = dir.path() + "/not/yet/there";
  std::istringstream in(out.str());
  const ledger::AuditResult r = ledger::verify_chain(test_consortium(), in, options);
  INFO(r.status.to_string());
  CHECK(r.ok());
  CHECK(std::filesystem::is_directory(options.work_dir));
}

}  // namespace
