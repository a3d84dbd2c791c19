// An auditor's view of a real 3-node cluster: every node cosigns checkpoints, a checkpoint
// cosigned by a quorum of agencies is served by every node, the whole chain exported over
// GetBlocks verifies from genesis with credaudit's verifier (ledger::verify_chain) against that
// checkpoint, and inclusion and consistency proofs fetched from a node verify offline.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/export.h"
#include "ledger/merkle.h"
#include "tests/integration/events.h"

namespace integration {
namespace {

using ledger_test::kCourt;
using ledger_test::kSamr;
using ledger_test::kSta;

// The latest quorum checkpoint of `node` once it has reached `height`.
ledger::CosignedCheckpoint checkpoint_at_least(Cluster& cluster, uint64_t node, uint64_t height) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    v1::CheckpointResponse response;
    auto context = context_as("", 5s);  // checkpoints are public
    const grpc::Status s =
        cluster.audit(node)->GetCheckpoint(context.get(), v1::GetCheckpointRequest(), &response);
    if (s.ok() && response.quorum() && response.checkpoint().height() >= height) {
      auto parsed = ledger::parse_checkpoint_note(response.note());
      INFO(parsed.status().to_string());
      REQUIRE(parsed.is_ok());
      return std::move(parsed).value();
    }
    INFO("node " << node << ": " << describe(s));
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

TEST_CASE("an export of a live cluster verifies from genesis against a quorum checkpoint",
          "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  const std::string_view agencies[] = {kSamr, kSta, kCourt};
  for (int round = 0; round < 6; ++round) {
    const std::string_view agency = agencies[round % 3];
    std::vector<v1::SignedEvent> batch;
    for (int i = 0; i < 40; ++i) {
      const int n = round * 40 + i;
      batch.push_back(
          signed_event("audit-" + std::to_string(n), agency, ledger_test::enterprise(5000 + n % 17)));
    }
    const SubmitResult r = submit(cluster, 1 + round % 3, agency_role(agency), batch);
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
  }
  const auto statuses = cluster.wait_applied_equal(cluster.ids());
  check_same_head(statuses);
  const uint64_t head = statuses.front().height();

  // Every node serves a checkpoint of the head cosigned by a quorum, and they agree.
  std::vector<ledger::CosignedCheckpoint> checkpoints;
  for (uint64_t id : cluster.ids()) checkpoints.push_back(checkpoint_at_least(cluster, id, head));
  auto consortium = ledger_test::test_consortium();
  for (const auto& cp : checkpoints) {
    const ledger::QuorumReport report = ledger::verify_cosignatures(*consortium, cp);
    INFO(report.status().to_string());
    CHECK(report.trusted());
    CHECK(cp.checkpoint.height() == head);
    CHECK(cp.checkpoint.root_hash() == checkpoints.front().checkpoint.root_hash());
    CHECK(cp.checkpoint.tree_size() == 240);
  }

  // The export, streamed from a follower, verifies from genesis against the checkpoint.
  const std::string path = cluster.dir() + "/chain.bin";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ledger::ChainWriter writer(out);
    auto context = context_as("auditor:harness", 60s);
    auto reader = cluster.audit(2)->GetBlocks(context.get(), v1::GetBlocksRequest());
    v1::Block block;
    while (reader->Read(&block)) REQUIRE(writer.write(block).is_ok());
    REQUIRE(reader->Finish().ok());
    REQUIRE(writer.finish().is_ok());
  }
  std::ifstream in(path, std::ios::binary);
  ledger::AuditOptions options;
  options.work_dir = cluster.dir();
  options.checkpoint = &checkpoints.front();
  const ledger::AuditResult result = ledger::verify_chain(consortium, in, options);
  INFO(result.status.to_string() << (result.failure ? result.failure->to_string() : ""));
  REQUIRE(result.ok());
  CHECK(result.summary.checkpoint_checked);
  CHECK(result.summary.accepted == 240);
  CHECK(result.summary.blocks == head + 1);

  // An inclusion proof by event id, and a size-based consistency proof, verify offline.
  v1::InclusionProofRequest inclusion;
  inclusion.set_event_id("audit-77");
  v1::InclusionProofResponse proof;
  auto context = context_as("auditor:harness");
  REQUIRE(cluster.audit(3)->GetInclusionProof(context.get(), inclusion, &proof).ok());
  std::vector<ledger::Hash> path_hashes;
  for (const auto& h : proof.path()) path_hashes.push_back(*ledger::hash_from_bytes(h));
  const ledger::Hash leaf = ledger::merkle_leaf_hash(proof.leaf_data());
  CHECK(ledger::verify_inclusion(leaf, proof.leaf_index(), proof.tree_size(), path_hashes,
                                 *ledger::hash_from_bytes(checkpoints.front().checkpoint.root_hash())));
  path_hashes.back()[0] ^= 1;
  CHECK_FALSE(ledger::verify_inclusion(
      leaf, proof.leaf_index(), proof.tree_size(), path_hashes,
      *ledger::hash_from_bytes(checkpoints.front().checkpoint.root_hash())));

  v1::ConsistencyProofRequest consistency;
  consistency.set_old_size(100);
  v1::ConsistencyProofResponse cproof;
  auto context2 = context_as("auditor:harness");
  REQUIRE(cluster.audit(1)->GetConsistencyProof(context2.get(), consistency, &cproof).ok());
  std::vector<ledger::Hash> cpath;
  for (const auto& h : cproof.path()) cpath.push_back(*ledger::hash_from_bytes(h));
  CHECK(cproof.new_size() == 240);
  CHECK(cproof.new_root() == checkpoints.front().checkpoint.root_hash());
  CHECK(ledger::verify_consistency(100, 240, *ledger::hash_from_bytes(cproof.old_root()),
                                   *ledger::hash_from_bytes(cproof.new_root()), cpath));
}

}  // namespace integration
