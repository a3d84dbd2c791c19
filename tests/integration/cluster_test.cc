// Replication across real credd processes: thousands of events submitted through every node
// leave identical chains; a stopped follower, a follower behind the leader's compaction point and
// one killed during that block sync catch up; a new member joins from genesis by block sync and
// is promoted. Each case starts
// its own 3-node cluster on 127.0.0.1 (cluster.h) and compares ClusterStatus of every node once
// their applied indexes agree.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "tests/integration/events.h"

namespace integration {
namespace {

using ledger_test::kCourt;
using ledger_test::kSamr;
using ledger_test::kSta;

const std::vector<std::string_view> kAgencies = {kSamr, kSta, kCourt};

// Submits `batches` batches of `batch_size` fresh events, one after the other, round robin over
// `nodes`, retrying a batch refused with UNAVAILABLE (an election) with the same events.
// REQUIREs every batch to be acknowledged with every event accepted. Returns the event ids.
std::vector<std::string> submit_sequentially(Cluster& cluster, const std::vector<uint64_t>& nodes,
                                             const std::string& prefix, size_t batches,
                                             size_t batch_size, uint64_t subject_base) {
  std::vector<std::string> ids;
  for (size_t b = 0; b < batches; ++b) {
    const std::string_view agency = kAgencies[b % kAgencies.size()];
    std::vector<v1::SignedEvent> events;
    for (size_t i = 0; i < batch_size; ++i) {
      const std::string id = prefix + "-" + std::to_string(b) + "-" + std::to_string(i);
      events.push_back(
          signed_event(id, agency, ledger_test::enterprise(subject_base + b * batch_size + i)));
      ids.push_back(id);
    }
    SubmitResult r;
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = submit(cluster, nodes[b % nodes.size()], agency_role(agency), events);
      if (r.status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(100ms);
    }
    INFO("batch " << b << ": " << describe(r.status));
    REQUIRE(r.status.ok());
    REQUIRE(r.response.receipts_size() == static_cast<int>(batch_size));
    for (const auto& receipt : r.response.receipts()) {
      INFO(receipt.ShortDebugString());
      REQUIRE(receipt.accepted());
    }
  }
  return ids;
}

uint64_t other_than(const std::vector<uint64_t>& ids, uint64_t excluded) {
  for (uint64_t id : ids) {
    if (id != excluded) return id;
  }
  FAIL("no node other than " << excluded);
  return 0;
}

// Polls node `id` until its height moves past `height` (or `timeout` passes); returns the first
// height seen, which is `height` itself on a timeout.
uint64_t first_height_above(Cluster& cluster, uint64_t id, uint64_t height,
                            std::chrono::milliseconds timeout) {
  uint64_t seen = height;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (seen == height && std::chrono::steady_clock::now() < deadline) {
    if (auto s = cluster.status(id, 200ms)) seen = s->height();
  }
  return seen;
}

std::vector<uint64_t> without(std::vector<uint64_t> ids, uint64_t excluded) {
  std::erase(ids, excluded);
  return ids;
}

bool log_contains(const Cluster& cluster, uint64_t id, const std::string& text) {
  return cluster.log_text(id).find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("thousands of events submitted through every node leave identical chains",
          "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();

  // 6 clients x 10 batches x 50 events = 3,000 events, each batch to the next node in turn.
  constexpr size_t kClients = 6;
  constexpr size_t kBatches = 10;
  constexpr size_t kBatchSize = 50;
  struct Outcome {
    std::vector<std::string> ids;
    grpc::Status status;
    v1::SubmitResponse response;
    int retries = 0;
  };
  std::vector<std::vector<Outcome>> outcomes(kClients);
  std::vector<std::thread> clients;
  for (size_t c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string_view agency = kAgencies[c % kAgencies.size()];
      for (size_t b = 0; b < kBatches; ++b) {
        Outcome out;
        std::vector<v1::SignedEvent> events;
        for (size_t i = 0; i < kBatchSize; ++i) {
          const uint64_t n = (c * kBatches + b) * kBatchSize + i;
          out.ids.push_back("bulk-" + std::to_string(c) + "-" + std::to_string(b) + "-" +
                            std::to_string(i));
          events.push_back(signed_event(out.ids.back(), agency, ledger_test::enterprise(n)));
        }
        const uint64_t node = nodes[(c + b) % nodes.size()];
        SubmitResult r;
        // An election in the middle may refuse a batch with UNAVAILABLE; the same events are
        // resubmitted (event ids are deduplicated).
        for (; out.retries < 50; ++out.retries) {
          r = submit(cluster, node, agency_role(agency), events);
          if (r.status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
          std::this_thread::sleep_for(100ms);
        }
        out.status = r.status;
        out.response = r.response;
        outcomes[c].push_back(std::move(out));
      }
    });
  }
  for (auto& t : clients) t.join();

  std::set<uint64_t> sequences;
  std::set<std::string> accepted_ids;
  int retries = 0;
  for (const auto& per_client : outcomes) {
    for (const Outcome& out : per_client) {
      retries += out.retries;
      INFO(describe(out.status));
      REQUIRE(out.status.ok());
      REQUIRE(out.response.receipts_size() == static_cast<int>(kBatchSize));
      for (size_t i = 0; i < kBatchSize; ++i) {
        const v1::Receipt& r = out.response.receipts(static_cast<int>(i));
        INFO(r.ShortDebugString());
        CHECK(r.event_id() == out.ids[i]);
        CHECK(r.accepted());
        CHECK(r.height() > 0);
        sequences.insert(r.sequence());
        accepted_ids.insert(r.event_id());
      }
    }
  }
  if (retries > 0) WARN(retries << " batches were retried after UNAVAILABLE");
  constexpr size_t kTotal = kClients * kBatches * kBatchSize;
  REQUIRE(accepted_ids.size() == kTotal);
  // Every accepted event has its own leaf: sequences are exactly 0..kTotal-1.
  REQUIRE(sequences.size() == kTotal);
  CHECK(*sequences.begin() == 0);
  CHECK(*sequences.rbegin() == kTotal - 1);

  const auto statuses = cluster.wait_applied_equal(nodes);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == kTotal);

  // Each node has each event at the same place.
  for (size_t c = 0; c < kClients; c += 2) {
    const Outcome& out = outcomes[c][c % kBatches];
    for (uint64_t node : nodes) {
      const EventResult e = get_event(cluster, node, out.ids.front());
      INFO("node " << node << ": " << describe(e.status));
      REQUIRE(e.status.ok());
      CHECK(e.response.receipt().SerializeAsString() ==
            out.response.receipts(0).SerializeAsString());
      CHECK(e.response.height() == out.response.receipts(0).height());
    }
  }
}

TEST_CASE("a follower stopped for a while catches up", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const uint64_t follower = other_than(cluster.ids(), leader);
  submit_sequentially(cluster, cluster.ids(), "before", 4, 25, 0);

  const int exit = cluster.stop(follower);
  INFO(cluster.log_tails());
  CHECK(WIFEXITED(exit));
  CHECK(WEXITSTATUS(exit) == 0);  // graceful stop on SIGTERM
  submit_sequentially(cluster, without(cluster.ids(), follower), "while-down", 20, 25, 1000);

  cluster.start(follower);
  const auto statuses = cluster.wait_applied_equal(cluster.ids());
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 600);
  // It caught up from the leader's log, without block sync.
  CHECK_FALSE(log_contains(cluster, follower, "caught up by block sync"));
  // And it takes part again: events submitted through it commit everywhere.
  submit_sequentially(cluster, {follower}, "after", 3, 10, 2000);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
}

TEST_CASE("a follower behind the leader's compaction point catches up by block sync",
          "[integration]") {
  ClusterOptions options;
  options.auto_compact_entries = 50;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const uint64_t follower = other_than(cluster.ids(), leader);
  submit_sequentially(cluster, cluster.ids(), "before", 10, 5, 0);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));

  cluster.kill(follower);
  // One small batch after another: each becomes its own Raft entry, so the log grows well past
  // the automatic compaction point while the follower is away.
  const auto up = without(cluster.ids(), follower);
  submit_sequentially(cluster, up, "while-down", 250, 4, 1000);
  // And compact everything applied, on every running node.
  for (uint64_t id : up) {
    auto context = context_as("operator:ops");
    v1::AdminResponse response;
    const grpc::Status s = cluster.admin(id)->Compact(context.get(), {}, &response);
    INFO(describe(s));
    CHECK(s.ok());
  }

  cluster.start(follower);
  const auto statuses = cluster.wait_applied_equal(cluster.ids(), 60s);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 50 + 1000);
  CHECK(log_contains(cluster, follower, "caught up by block sync"));

  // The follower's log resumed after the compaction point: new events reach it normally, also
  // after it crashes once more.
  submit_sequentially(cluster, cluster.ids(), "after", 6, 10, 5000);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
  cluster.kill(follower);
  cluster.start(follower);
  submit_sequentially(cluster, cluster.ids(), "after-crash", 6, 10, 6000);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
}

TEST_CASE("a follower killed while it catches up by block sync recovers", "[integration]") {
  ClusterOptions options;
  options.auto_compact_entries = 50;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const uint64_t follower = other_than(cluster.ids(), leader);
  submit_sequentially(cluster, cluster.ids(), "before", 5, 5, 0);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
  const uint64_t height_before = cluster.status(follower)->height();

  cluster.kill(follower);
  const auto up = without(cluster.ids(), follower);
  submit_sequentially(cluster, up, "while-down", 600, 2, 1000);
  const uint64_t target = cluster.status(leader)->height();

  // Start it and kill it again as soon as block sync has applied something (if the whole sync
  // is faster than our polling, it is killed right after: the restart must work either way).
  cluster.start(follower);
  const uint64_t seen = first_height_above(cluster, follower, height_before, 20s);
  cluster.kill(follower);
  INFO("killed at height " << seen << " of " << target);
  CHECK(seen > height_before);

  // While it is down the leader retries block sync, but at a measured pace: a peer that is down
  // fails fast, and retrying at once would spin the leader's loop and flood its log.
  const auto requests = [&] {
    size_t n = 0;
    const std::string log = cluster.log_text(leader);
    for (size_t at = log.find("asking it to catch up"); at != std::string::npos;
         at = log.find("asking it to catch up", at + 1)) {
      ++n;
    }
    return n;
  };
  std::this_thread::sleep_for(200ms);
  const size_t requests_before = requests();
  std::this_thread::sleep_for(2s);
  const size_t requests_while_down = requests() - requests_before;
  CHECK(requests_while_down <= 40);

  cluster.start(follower);
  const auto statuses = cluster.wait_applied_equal(cluster.ids(), 60s);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 25 + 1200);
  submit_sequentially(cluster, cluster.ids(), "after", 6, 10, 5000);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
}

TEST_CASE("a new member joins from genesis by block sync and is promoted", "[integration]") {
  ClusterOptions options;
  options.auto_compact_entries = 50;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  submit_sequentially(cluster, cluster.ids(), "before", 200, 3, 0);
  const auto founders = cluster.ids();

  const uint64_t joiner = cluster.add_node();
  cluster.start(joiner);
  {
    // Through a follower: admin calls are forwarded to the leader.
    auto context = context_as("operator:ops");
    v1::MemberRequest request;
    request.set_id(joiner);
    request.set_address(cluster.address(joiner));
    v1::AdminResponse response;
    const grpc::Status s =
        cluster.admin(other_than(founders, leader))->AddMember(context.get(), request, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  // The learner catches up while events keep coming.
  submit_sequentially(cluster, founders, "joining", 10, 10, 1000);
  check_same_head(cluster.wait_applied_equal(cluster.ids(), 60s));
  CHECK(log_contains(cluster, joiner, "caught up by block sync"));
  // A learner that crashes comes back from its own disk (its log now starts at the point block
  // sync reached) and keeps up.
  cluster.kill(joiner);
  cluster.start(joiner);
  submit_sequentially(cluster, founders, "learner-restarted", 5, 10, 1500);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
  {
    auto s = cluster.status(cluster.wait_for_leader());
    REQUIRE(s);
    int learners = 0;
    for (const auto& m : s->members()) learners += m.id() == joiner && !m.voter();
    CHECK(learners == 1);
    CHECK(s->members_size() == 4);
  }

  {
    auto context = context_as("operator:ops");
    v1::MemberRequest request;
    request.set_id(joiner);
    v1::AdminResponse response;
    const grpc::Status s =
        cluster.admin(cluster.wait_for_leader())->PromoteMember(context.get(), request, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  // Every node, the new one included, soon lists four voters.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string last;
  bool four_voters = false;
  while (!four_voters && std::chrono::steady_clock::now() < deadline) {
    four_voters = true;
    last.clear();
    for (uint64_t id : cluster.ids()) {
      auto s = cluster.status(id);
      int voters = 0;
      if (s) {
        for (const auto& m : s->members()) voters += m.voter();
        last += s->ShortDebugString() + "\n";
      }
      four_voters = four_voters && voters == 4;
    }
    if (!four_voters) std::this_thread::sleep_for(50ms);
  }
  INFO(last);
  REQUIRE(four_voters);

  // The promoted member takes part: events submitted through it commit on all four nodes.
  submit_sequentially(cluster, {joiner}, "promoted", 5, 10, 2000);
  const auto statuses = cluster.wait_applied_equal(cluster.ids());
  REQUIRE(statuses.size() == 4);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 600 + 100 + 50 + 50);

  // It is a voter now: with it, the cluster survives the loss of one founder, and the new
  // member itself restarts from its own disk.
  cluster.kill(leader);
  cluster.kill(joiner);
  cluster.start(joiner);
  cluster.wait_for_leader();
  submit_sequentially(cluster, without(cluster.ids(), leader), "after-loss", 5, 10, 3000);
  cluster.start(leader);
  const auto final_statuses = cluster.wait_applied_equal(cluster.ids(), 60s);
  check_same_head(final_statuses);
  CHECK(final_statuses.front().tree_size() == 600 + 100 + 50 + 50 + 50);
}

TEST_CASE("operators transfer leadership and remove a member", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  const uint64_t target = other_than(nodes, leader);
  const uint64_t third = other_than(without(nodes, leader), target);
  submit_sequentially(cluster, nodes, "before", 3, 10, 0);
  {
    // Asked of a follower, which forwards it to the leader.
    auto context = context_as("operator:ops");
    v1::TransferRequest request;
    request.set_to(target);
    v1::AdminResponse response;
    const grpc::Status s =
        cluster.admin(third)->TransferLeadership(context.get(), request, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  CHECK(cluster.wait_for_leader(10s) == target);
  submit_sequentially(cluster, nodes, "transferred", 3, 10, 100);

  {
    auto context = context_as("operator:ops");
    v1::MemberRequest request;
    request.set_id(third);
    v1::AdminResponse response;
    const grpc::Status s = cluster.admin(target)->RemoveMember(context.get(), request, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  const std::vector<uint64_t> remaining = without(nodes, third);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool removed = false;
  while (!removed && std::chrono::steady_clock::now() < deadline) {
    removed = true;
    for (uint64_t id : remaining) {
      auto s = cluster.status(id);
      removed = removed && s && s->members_size() == 2;
    }
    if (!removed) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(removed);
  // The two that remain commit on their own, and the removed node, still running, does not
  // disturb them with elections.
  const uint64_t term = cluster.status(target)->term();
  submit_sequentially(cluster, remaining, "after-removal", 10, 10, 200);
  std::this_thread::sleep_for(2s);
  const auto statuses = cluster.wait_applied_equal(remaining);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 30 + 30 + 100);
  for (const auto& s : statuses) {
    INFO("node " << s.node_id());
    CHECK(s.term() == term);
    CHECK(s.leader_id() == target);
  }
  CHECK(cluster.running(third));
}

TEST_CASE("a leader removed from the cluster hands over to the others", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  submit_sequentially(cluster, nodes, "before", 3, 10, 0);
  {
    auto context = context_as("operator:ops");
    v1::MemberRequest request;
    request.set_id(leader);
    v1::AdminResponse response;
    const grpc::Status s = cluster.admin(leader)->RemoveMember(context.get(), request, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  const std::vector<uint64_t> remaining = without(nodes, leader);
  // The two that remain elect a leader of their own and list only each other.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string last;
  bool handed_over = false;
  while (!handed_over && std::chrono::steady_clock::now() < deadline) {
    handed_over = true;
    last.clear();
    for (uint64_t id : remaining) {
      auto s = cluster.status(id);
      if (s) last += s->ShortDebugString() + "\n";
      handed_over = handed_over && s && s->members_size() == 2 && s->leader_id() != 0 &&
                    s->leader_id() != leader;
    }
    if (!handed_over) std::this_thread::sleep_for(50ms);
  }
  INFO(last << cluster.log_tails());
  REQUIRE(handed_over);
  submit_sequentially(cluster, remaining, "after", 5, 10, 100);
  const auto statuses = cluster.wait_applied_equal(remaining);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 30 + 50);
}

TEST_CASE("block sync cut off by the leader's crash leaves no gap in the follower's chain",
          "[integration]") {
  ClusterOptions options;
  options.auto_compact_entries = 50;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const uint64_t follower = other_than(cluster.ids(), leader);
  submit_sequentially(cluster, cluster.ids(), "before", 5, 5, 0);
  check_same_head(cluster.wait_applied_equal(cluster.ids()));
  const uint64_t height_before = cluster.status(follower)->height();

  cluster.kill(follower);
  // Blocks of 20 signed events: replaying them takes the follower a while.
  submit_sequentially(cluster, {leader}, "while-down", 300, 20, 1000);
  const uint64_t target = cluster.status(leader)->height();

  cluster.start(follower);
  const uint64_t seen = first_height_above(cluster, follower, height_before, 20s);
  // The leader dies while the follower streams blocks from it.
  cluster.kill(leader);
  INFO("leader killed with the follower at height " << seen << " of " << target);
  CHECK(seen > height_before);
  cluster.wait_for_leader();
  submit_sequentially(cluster, without(cluster.ids(), leader), "after-crash", 5, 10, 20000);
  cluster.start(leader);
  const auto statuses = cluster.wait_applied_equal(cluster.ids(), 60s);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == 25 + 6000 + 50);
}

}  // namespace integration
