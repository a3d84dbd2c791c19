// Event and client helpers shared by the integration tests: valid events of each test agency
// (built with the ledger unit-test fixture, timed around the wall clock so that penalties are
// active now), and Submit/GetEvent wrappers that carry the caller's role.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/cluster.h"
#include "tests/unit/ledger/fixture.h"

namespace integration {

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A valid, active event of `agency` about `subject`:
//   samr: ADMINISTRATIVE_PENALTY in GENERAL; sta: ADMINISTRATIVE_PENALTY in TAXATION;
//   court: BLACKLIST_ENTRY in FINANCE. Effective a day ago, expiring in 90 days.
inline v1::CreditEvent valid_event(const std::string& event_id, std::string_view agency,
                                   const v1::Subject& subject) {
  const int64_t now = wall_ms();
  const int64_t effective = now - ledger_test::kDayMs;
  v1::CreditEvent e;
  if (agency == ledger_test::kCourt) {
    e = ledger_test::blacklist_entry(event_id, agency, subject, v1::FINANCE, effective, 90);
  } else {
    const v1::Sector sector = agency == ledger_test::kSta ? v1::TAXATION : v1::GENERAL;
    e = ledger_test::penalty(event_id, agency, subject, sector, v1::MODERATE, effective, 90);
  }
  e.set_issued_at_ms(now - 1000);
  return e;
}

inline v1::SignedEvent signed_event(const std::string& event_id, std::string_view agency,
                                    const v1::Subject& subject) {
  return ledger_test::sign(valid_event(event_id, agency, subject));
}

inline std::string agency_role(std::string_view agency) { return "agency:" + std::string(agency); }

struct SubmitResult {
  grpc::Status status;
  v1::SubmitResponse response;
};

inline SubmitResult submit(Cluster& cluster, uint64_t node, const std::string& role,
                           const std::vector<v1::SignedEvent>& events,
                           std::chrono::milliseconds deadline = 20s) {
  v1::SubmitRequest request;
  for (const auto& e : events) *request.add_events() = e;
  SubmitResult result;
  auto context = context_as(role, deadline);
  result.status = cluster.ledger(node)->Submit(context.get(), request, &result.response);
  return result;
}

struct EventResult {
  grpc::Status status;
  v1::EventResponse response;
};

inline EventResult get_event(Cluster& cluster, uint64_t node, const std::string& event_id,
                             const std::string& role = "auditor:harness") {
  v1::GetEventRequest request;
  request.set_event_id(event_id);
  EventResult result;
  auto context = context_as(role, 5s);
  result.status = cluster.query(node)->GetEvent(context.get(), request, &result.response);
  return result;
}

// Blocks from..to (to = 0: the head) as an auditor reads them, appended to *out if given; the
// stream's final status.
inline grpc::Status read_blocks(Cluster& cluster, uint64_t node, uint64_t from, uint64_t to,
                                std::vector<v1::Block>* out = nullptr) {
  v1::GetBlocksRequest request;
  request.set_from_height(from);
  request.set_to_height(to);
  auto context = context_as("auditor:harness", 30s);
  auto reader = cluster.audit(node)->GetBlocks(context.get(), request);
  v1::Block block;
  while (reader->Read(&block)) {
    if (out) out->push_back(block);
  }
  return reader->Finish();
}

// Every block from height 1 to the node's head, read as an auditor. REQUIREs the stream to end
// with OK.
inline std::vector<v1::Block> all_blocks(Cluster& cluster, uint64_t node) {
  v1::GetBlocksRequest request;
  request.set_from_height(1);
  auto context = context_as("auditor:harness", 60s);
  auto reader = cluster.audit(node)->GetBlocks(context.get(), request);
  std::vector<v1::Block> blocks;
  v1::Block block;
  while (reader->Read(&block)) blocks.push_back(block);
  const grpc::Status s = reader->Finish();
  INFO(describe(s));
  REQUIRE(s.ok());
  return blocks;
}

// The head, state root, Merkle root, tree size and height of every status are those of the first.
inline void check_same_head(const std::vector<v1::ClusterStatusResponse>& statuses) {
  REQUIRE(!statuses.empty());
  const auto& first = statuses.front();
  for (const auto& s : statuses) {
    INFO("node " << s.node_id() << " vs node " << first.node_id());
    CHECK(s.height() == first.height());
    CHECK(s.head_hash() == first.head_hash());
    CHECK(s.state_root() == first.state_root());
    CHECK(s.merkle_root() == first.merkle_root());
    CHECK(s.tree_size() == first.tree_size());
    CHECK(s.applied_index() == first.applied_index());
  }
  CHECK(first.head_hash().size() == 32);
}

}  // namespace integration
