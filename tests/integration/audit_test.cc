// An auditor's view of a real 3-node cluster: every node cosigns checkpoints, a checkpoint
// cosigned by a quorum of agencies is served by every node, the whole chain exported over
// GetBlocks verifies from genesis with credaudit's verifier (ledger::verify_chain) against that
// checkpoint, and inclusion and consistency proofs fetched from a node verify offline. Every node
// keeps the quorum checkpoints any node made (#12): a checkpoint height one node serves, every
// node serves, also for proofs; a restart at an unchanged head keeps the quorum note; peers'
// shared notes that are not trusted or not of the chain are refused.
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

v1::CheckpointResponse get_checkpoint(Cluster& cluster, uint64_t node, uint64_t height,
                                      grpc::Status* status) {
  v1::GetCheckpointRequest request;
  request.set_height(height);
  v1::CheckpointResponse response;
  auto context = context_as("", 5s);
  *status = cluster.audit(node)->GetCheckpoint(context.get(), request, &response);
  return response;
}

}  // namespace

TEST_CASE("every node serves the quorum checkpoints any node made, and proofs against them",
          "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  // Load through every node while sampling each node's latest quorum checkpoint: the others
  // must serve that very height (and a consistency proof from it) within a round trip or two.
  int sampled = 0;
  for (int round = 0; round < 12; ++round) {
    std::vector<v1::SignedEvent> batch;
    for (int i = 0; i < 20; ++i) {
      const int n = round * 20 + i;
      batch.push_back(signed_event("share-" + std::to_string(n), kSamr,
                                   ledger_test::enterprise(7000 + n % 13)));
    }
    const SubmitResult r = submit(cluster, 1 + round % 3, agency_role(kSamr), batch);
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
    const uint64_t maker = 1 + round % 3;
    grpc::Status s;
    const v1::CheckpointResponse latest = get_checkpoint(cluster, maker, 0, &s);
    if (!s.ok()) continue;  // none trusted yet
    REQUIRE(latest.quorum());
    const uint64_t height = latest.checkpoint().height();
    for (uint64_t other : cluster.ids()) {
      if (other == maker) continue;
      INFO("node " << maker << "'s checkpoint at height " << height << " asked of node " << other);
      const auto deadline = std::chrono::steady_clock::now() + 3s;
      v1::CheckpointResponse answer;
      for (;;) {
        answer = get_checkpoint(cluster, other, height, &s);
        if (s.ok()) break;
        INFO(describe(s));
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(20ms);
      }
      CHECK(answer.quorum());
      CHECK(answer.checkpoint().height() == height);
      CHECK(answer.checkpoint().root_hash() == latest.checkpoint().root_hash());
      // A consistency proof from that checkpoint to the latest one, on the other node.
      v1::ConsistencyProofRequest consistency;
      consistency.set_old_height(height);
      v1::ConsistencyProofResponse proof;
      auto context = context_as("", 5s);
      const grpc::Status ps = cluster.audit(other)->GetConsistencyProof(context.get(), consistency,
                                                                        &proof);
      INFO(describe(ps));
      CHECK(ps.ok());
      ++sampled;
    }
  }
  CHECK(sampled >= 10);
  // Once writes stop, the latest trusted checkpoint is the same on every node.
  const uint64_t head = cluster.wait_applied_equal(cluster.ids()).front().height();
  for (uint64_t id : cluster.ids()) {
    const ledger::CosignedCheckpoint cp = checkpoint_at_least(cluster, id, head);
    CHECK(cp.checkpoint.height() == head);
  }
}

TEST_CASE("a node restarted at an unchanged head keeps its quorum checkpoint", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  std::vector<v1::SignedEvent> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(signed_event("same-head-" + std::to_string(i), kSta,
                                 ledger_test::enterprise(7100 + i)));
  }
  REQUIRE(submit(cluster, 1, agency_role(kSta), batch).status.ok());
  const uint64_t head = cluster.wait_applied_equal(cluster.ids()).front().height();
  for (uint64_t id : cluster.ids()) checkpoint_at_least(cluster, id, head);

  // Node 1 alone comes back (its peers stay down): its rounds at the unchanged head may add its
  // own cosignature again, never replace the quorum note it holds.
  for (uint64_t id : {3u, 2u, 1u}) cluster.stop(id);
  cluster.start(1);
  std::this_thread::sleep_for(1s);  // five checkpoint intervals
  grpc::Status s;
  v1::CheckpointResponse latest = get_checkpoint(cluster, 1, 0, &s);
  INFO(describe(s));
  REQUIRE(s.ok());
  CHECK(latest.quorum());
  CHECK(latest.checkpoint().height() == head);
  CHECK(latest.signer_agencies_size() >= 2);
  const v1::CheckpointResponse at_head = get_checkpoint(cluster, 1, head, &s);
  REQUIRE(s.ok());
  CHECK(at_head.quorum());
  CHECK(at_head.note() == latest.note());

  // A peer's note is kept only if a quorum cosigned it and it is of this chain.
  auto parsed = ledger::parse_checkpoint_note(latest.note());
  REQUIRE(parsed.is_ok());
  auto share = [&](const std::string& role, const std::string& note) {
    v1::ShareCheckpointRequest request;
    request.set_note(note);
    v1::ShareCheckpointResponse response;
    auto context = context_as(role, 5s);
    return v1::PeerService::NewStub(cluster.channel(1))
        ->ShareCheckpoint(context.get(), request, &response);
  };
  CHECK(share("node:2", latest.note()).ok());
  CHECK(share("relying:bank", latest.note()).error_code() == grpc::PERMISSION_DENIED);
  ledger::CosignedCheckpoint one = *parsed;
  one.note.signatures.resize(1);
  grpc::Status refused = share("node:2", one.text());
  CHECK(refused.error_code() == grpc::INVALID_ARGUMENT);
  CHECK_THAT(refused.error_message(), Catch::Contains("not trusted"));
  refused = share("node:2", "not a note");
  CHECK(refused.error_code() == grpc::INVALID_ARGUMENT);
  // The refusals changed nothing.
  const v1::CheckpointResponse after = get_checkpoint(cluster, 1, 0, &s);
  REQUIRE(s.ok());
  CHECK(after.note() == latest.note());
}

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
