// Issue #12 B: every message a node sends stays within its configured bound. A follower is
// stopped while the leader takes a long log of blocks near batch.max_bytes, compacts, and takes
// as many again; restarted, the follower catches up by block sync (the compacted part) and by Raft
// appends (the rest). Each node's metrics page reports the largest message it sent per path
// (credledger_message_bytes_max): a peer-stream write stays within raft.max_size_per_msg_bytes
// plus the envelope, a streamed block within batch.max_bytes plus the envelope. Before the fix
// the transport put every queued append into one write (the leader logged "Sent message larger
// than max (71795658 vs. 16777216)" once that passed the gRPC limit).
#include <catch2/catch.hpp>

#include "tests/integration/events.h"

namespace integration {
namespace {

constexpr uint64_t kEnvelopeBytes = 64 << 10;  // node::kMessageEnvelopeBytes
constexpr uint64_t kGrpcMaxBytes = 16 << 20;   // credd's default limits.grpc_max_message_bytes

// Events of about 4000 bytes (the test consortium allows 4096), `count` of them per Submit.
void submit_large(Cluster& cluster, uint64_t node, const std::string& prefix, size_t calls,
                  size_t count) {
  for (size_t c = 0; c < calls; ++c) {
    std::vector<v1::SignedEvent> events;
    for (size_t i = 0; i < count; ++i) {
      const std::string id = prefix + "-" + std::to_string(c) + "-" + std::to_string(i);
      v1::CreditEvent e = valid_event(id, ledger_test::kSamr,
                                      ledger_test::enterprise(c * 10000 + i + prefix.size()));
      e.mutable_legal_basis()->set_document_ref(e.legal_basis().document_ref() +
                                                std::string(3500, 'r'));
      events.push_back(ledger_test::sign(e));
    }
    const SubmitResult r = submit(cluster, node, agency_role(ledger_test::kSamr), events, 60s);
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
    REQUIRE(r.response.receipts_size() == static_cast<int>(count));
    for (const auto& receipt : r.response.receipts()) REQUIRE(receipt.accepted());
  }
}

}  // namespace

TEST_CASE("issue 12: a follower catching up over large blocks is sent no message beyond its "
          "bound",
          "[integration]") {
  ClusterOptions options;
  options.max_size_per_msg_bytes = 1 << 20;
  options.batch_max_bytes = 512 << 10;
  options.metrics = true;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  uint64_t follower = 0;
  for (uint64_t id : cluster.ids()) {
    if (id != leader) follower = id;
  }
  cluster.kill(follower);

  // About 8 MB of blocks, compacted away, then 8 MB more that the follower gets as appends.
  submit_large(cluster, leader, "compacted", 4, 500);
  {
    auto context = context_as("operator:ops");
    v1::AdminResponse response;
    const grpc::Status s = cluster.admin(leader)->Compact(context.get(), {}, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  submit_large(cluster, leader, "appended", 4, 500);
  REQUIRE(cluster.wait_for_leader() == leader);

  cluster.start(follower);
  check_same_head(cluster.wait_applied_equal(cluster.ids(), 120s));
  CHECK(cluster.log_text(follower).find("caught up by block sync") != std::string::npos);

  const auto raft_max = cluster.metric(leader, "credledger_message_bytes_max{path=\"raft\"}");
  const auto blocks_max = cluster.metric(leader, "credledger_message_bytes_max{path=\"blocks\"}");
  REQUIRE(raft_max.has_value());
  REQUIRE(blocks_max.has_value());
  std::printf("largest message sent by the leader: raft %llu bytes (bound %llu), block %llu "
              "bytes (bound %llu)\n",
              static_cast<unsigned long long>(*raft_max),
              static_cast<unsigned long long>(options.max_size_per_msg_bytes + kEnvelopeBytes),
              static_cast<unsigned long long>(*blocks_max),
              static_cast<unsigned long long>(options.batch_max_bytes + kEnvelopeBytes));
  // The catch-up did send large messages on both paths...
  CHECK(*raft_max > options.batch_max_bytes);
  CHECK(*blocks_max > options.batch_max_bytes / 2);
  // ...and none beyond its bound.
  CHECK(*raft_max <= options.max_size_per_msg_bytes + kEnvelopeBytes);
  CHECK(*blocks_max <= options.batch_max_bytes + kEnvelopeBytes);
  for (uint64_t id : cluster.ids()) {
    for (const char* path : {"raft", "blocks", "catch_up", "cosign", "forward_submit",
                             "forward_read"}) {
      const auto max = cluster.metric(
          id, "credledger_message_bytes_max{path=\"" + std::string(path) + "\"}");
      INFO("node " << id << " path " << path);
      REQUIRE(max.has_value());
      CHECK(*max <= kGrpcMaxBytes);
    }
  }
}

TEST_CASE("issue 12: a CheckSubjects answer that would pass the message bound is refused whole",
          "[integration]") {
  // A forwarded read's answer is one message too: rather than a transport error after the work,
  // the node answers RESOURCE_EXHAUSTED saying to ask about fewer subjects (the limit rule).
  ClusterOptions options;
  options.grpc_max_message_bytes = 1 << 20;
  options.max_size_per_msg_bytes = 512 << 10;
  options.batch_max_bytes = 256 << 10;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  // 1,000 subjects, each with one penalty whose status is about 2 KB.
  std::vector<v1::Subject> subjects;
  for (size_t c = 0; c < 20; ++c) {
    std::vector<v1::SignedEvent> events;
    for (size_t i = 0; i < 50; ++i) {
      const v1::Subject subject = ledger_test::enterprise(90000 + c * 50 + i);
      subjects.push_back(subject);
      v1::CreditEvent e = valid_event("wide-" + std::to_string(c) + "-" + std::to_string(i),
                                      ledger_test::kSamr, subject);
      e.mutable_legal_basis()->set_document_ref(std::string(1800, 'd'));
      events.push_back(ledger_test::sign(e));
    }
    const SubmitResult r = submit(cluster, leader, agency_role(ledger_test::kSamr), events, 60s);
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
  }
  cluster.wait_applied_equal(cluster.ids());
  auto check = [&](size_t count, v1::Consistency consistency, uint64_t node) {
    v1::CheckRequest request;
    for (size_t i = 0; i < count; ++i) *request.add_subjects() = subjects[i];
    request.set_consistency(consistency);
    v1::CheckResponse response;
    auto context = context_as("relying:bank", 20s);
    return cluster.query(node)->CheckSubjects(context.get(), request, &response);
  };
  const uint64_t follower = leader == 1 ? 2 : 1;
  for (v1::Consistency consistency : {v1::LOCAL, v1::LINEARIZABLE}) {
    INFO(v1::Consistency_Name(consistency));
    const grpc::Status too_big = check(1000, consistency, follower);
    INFO(describe(too_big));
    CHECK(too_big.error_code() == grpc::RESOURCE_EXHAUSTED);
    CHECK(too_big.error_message().find("ask about fewer subjects per call") != std::string::npos);
    const grpc::Status fits = check(200, consistency, follower);
    INFO(describe(fits));
    CHECK(fits.ok());
  }
}

}  // namespace integration
