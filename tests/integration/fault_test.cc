// Crash safety with real processes. The leader of a 3-node cluster is killed with SIGKILL (twice)
// while six clients submit through every node, then restarted: every acknowledged event is on
// the chain exactly once, at the same place on every node, and every unacknowledged one at most
// once (checked over every block of every node and GetEvent for each event); a third round kills
// a follower. Also: SIGTERM with submits in flight stops a node promptly, and a whole cluster
// killed at once, or stopped gracefully, comes back whole; and torn writes: nodes killed over and
// over in the middle of large blocks always start again and end with the same chain.
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <thread>

#include "tests/integration/events.h"

namespace integration {
namespace {

using ledger_test::kCourt;
using ledger_test::kSamr;
using ledger_test::kSta;

struct Attempt {
  std::vector<std::string> ids;
  grpc::Status status;
  v1::SubmitResponse response;
  std::chrono::steady_clock::time_point finished;
  int retries = 0;
};

struct Place {
  uint64_t height = 0;
  uint32_t index = 0;
  uint64_t sequence = 0;
};

}  // namespace

TEST_CASE("kill -9 of the leader under load loses no acknowledged event", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();

  constexpr size_t kClients = 6;
  constexpr size_t kBatchSize = 20;
  const std::vector<std::string_view> agencies = {kSamr, kSta, kCourt};
  std::atomic<bool> stop{false};
  std::vector<std::vector<Attempt>> attempts(kClients);
  std::vector<std::thread> clients;
  JoinOnExit join_clients{stop, clients};
  for (size_t c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string_view agency = agencies[c % agencies.size()];
      // Half the clients resubmit a failed batch (the same events, to any node) a few times, as
      // a careful client does; the others give up at once. Both kinds of failed batch are the
      // "at most once" population; a batch acknowledged on a retry must hold the receipt of the
      // event's first and only acceptance.
      const int max_attempts = c % 2 == 0 ? 5 : 1;
      for (size_t b = 0; !stop.load(); ++b) {
        Attempt a;
        std::vector<v1::SignedEvent> events;
        for (size_t i = 0; i < kBatchSize; ++i) {
          a.ids.push_back("crash-" + std::to_string(c) + "-" + std::to_string(b) + "-" +
                          std::to_string(i));
          events.push_back(signed_event(a.ids.back(), agency,
                                        ledger_test::enterprise(c * 1000000 + b * kBatchSize + i)));
        }
        for (int attempt = 0; attempt < max_attempts; ++attempt) {
          SubmitResult r = submit(cluster, nodes[(c + b + attempt) % nodes.size()],
                                  agency_role(agency), events, 15s);
          a.status = r.status;
          a.response = r.response;
          a.retries = attempt;
          if (a.status.ok()) break;
          std::this_thread::sleep_for(50ms);
        }
        a.finished = std::chrono::steady_clock::now();
        attempts[c].push_back(std::move(a));
      }
    });
  }

  // Three rounds: kill -9 the leader (twice, then a follower), leave it down a while, bring it
  // back.
  std::chrono::steady_clock::time_point restarted;
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(1500ms);
    const uint64_t leader = cluster.wait_for_leader();
    const uint64_t victim = round < 2 ? leader : (leader == nodes[0] ? nodes[1] : nodes[0]);
    cluster.kill(victim);
    std::this_thread::sleep_for(1500ms);
    cluster.start(victim);
    restarted = std::chrono::steady_clock::now();
  }
  std::this_thread::sleep_for(2000ms);
  stop = true;
  for (auto& t : clients) t.join();

  // Acknowledged events, where their receipts put them, and the rest.
  std::map<std::string, Place> acked;
  std::vector<std::string> unacked;
  size_t acked_after_restart = 0;
  size_t failed_batches = 0;
  size_t acked_on_retry = 0;
  for (const auto& per_client : attempts) {
    for (const Attempt& a : per_client) {
      if (!a.status.ok()) {
        ++failed_batches;
        unacked.insert(unacked.end(), a.ids.begin(), a.ids.end());
        continue;
      }
      REQUIRE(a.response.receipts_size() == static_cast<int>(a.ids.size()));
      for (size_t i = 0; i < a.ids.size(); ++i) {
        const v1::Receipt& r = a.response.receipts(static_cast<int>(i));
        INFO(r.ShortDebugString());
        REQUIRE(r.event_id() == a.ids[i]);
        REQUIRE(r.accepted());
        acked[a.ids[i]] = Place{r.height(), r.index(), r.sequence()};
      }
      if (a.finished > restarted) ++acked_after_restart;
      if (a.retries > 0) ++acked_on_retry;
    }
  }
  INFO(acked.size() << " events acknowledged (" << acked_on_retry << " batches on a retry), "
                    << unacked.size() << " not (" << failed_batches << " batches)");
  REQUIRE(acked.size() > 0);
  // The cluster kept serving once the old leader was back.
  CHECK(acked_after_restart > 0);

  cluster.wait_for_leader();
  const auto statuses = cluster.wait_applied_equal(nodes, 60s);
  check_same_head(statuses);

  // Every block of every node: the chains are the same, and count each accepted event.
  std::vector<v1::Block> reference;
  for (uint64_t node : nodes) {
    std::vector<v1::Block> blocks = all_blocks(cluster, node);
    REQUIRE(blocks.size() == statuses.front().height());
    if (reference.empty()) {
      reference = std::move(blocks);
      continue;
    }
    for (size_t h = 0; h < blocks.size(); ++h) {
      INFO("node " << node << " block " << h + 1);
      REQUIRE(blocks[h].header().SerializeAsString() == reference[h].header().SerializeAsString());
    }
  }
  std::map<std::string, std::vector<Place>> on_chain;  // accepted occurrences of each event id
  uint64_t next_sequence = 0;
  for (const v1::Block& block : reference) {
    for (int i = 0; i < block.receipts_size(); ++i) {
      const v1::Receipt& r = block.receipts(i);
      if (!r.accepted()) continue;
      CHECK(r.sequence() == next_sequence);
      ++next_sequence;
      on_chain[r.event_id()].push_back(
          Place{block.header().height(), static_cast<uint32_t>(i), r.sequence()});
    }
  }
  CHECK(next_sequence == statuses.front().tree_size());

  size_t lost = 0, duplicated = 0, misplaced = 0;
  for (const auto& [id, place] : acked) {
    auto it = on_chain.find(id);
    if (it == on_chain.end()) {
      if (lost++ < 10) UNSCOPED_INFO("acknowledged event " << id << " is not on the chain");
      continue;
    }
    if (it->second.size() != 1) ++duplicated;
    const Place& p = it->second.front();
    if (p.height != place.height || p.index != place.index || p.sequence != place.sequence) {
      if (misplaced++ < 10)
        UNSCOPED_INFO("acknowledged event " << id << " receipt says height " << place.height
                                            << " index " << place.index << ", chain has height "
                                            << p.height << " index " << p.index);
    }
  }
  CHECK(lost == 0);
  CHECK(duplicated == 0);
  CHECK(misplaced == 0);
  size_t unacked_twice = 0, unacked_committed = 0;
  for (const std::string& id : unacked) {
    auto it = on_chain.find(id);
    if (it == on_chain.end()) continue;
    ++unacked_committed;
    if (it->second.size() > 1) ++unacked_twice;
  }
  CHECK(unacked_twice == 0);
  // Nothing appears that no client submitted.
  CHECK(on_chain.size() == acked.size() + unacked_committed);

  // GetEvent on every node agrees with the receipts (one thread per node).
  std::vector<size_t> mismatches(nodes.size(), 0);
  std::vector<std::string> first_mismatch(nodes.size());
  std::vector<std::thread> readers;
  for (size_t n = 0; n < nodes.size(); ++n) {
    readers.emplace_back([&, n] {
      for (const auto& [id, place] : acked) {
        const EventResult e = get_event(cluster, nodes[n], id);
        const bool same = e.status.ok() && e.response.height() == place.height &&
                          e.response.index() == place.index && e.response.receipt().accepted() &&
                          e.response.receipt().sequence() == place.sequence;
        if (!same && mismatches[n]++ == 0) {
          first_mismatch[n] =
              id + ": " + describe(e.status) + " " + e.response.receipt().ShortDebugString();
        }
      }
      for (const std::string& id : unacked) {
        const EventResult e = get_event(cluster, nodes[n], id);
        const auto it = on_chain.find(id);
        const bool same = it == on_chain.end()
                              ? e.status.error_code() == grpc::StatusCode::NOT_FOUND
                              : e.status.ok() && e.response.height() == it->second.front().height &&
                                    e.response.index() == it->second.front().index;
        if (!same && mismatches[n]++ == 0) first_mismatch[n] = id + ": " + describe(e.status);
      }
    });
  }
  for (auto& t : readers) t.join();
  for (size_t n = 0; n < nodes.size(); ++n) {
    INFO("node " << nodes[n] << " first mismatch: " << first_mismatch[n]);
    CHECK(mismatches[n] == 0);
  }
}

TEST_CASE("SIGTERM with submits in flight stops the node promptly", "[integration]") {
  ClusterOptions options;
  options.submit_timeout_ms = 30000;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const auto subject = ledger_test::enterprise(1);
  REQUIRE(
      submit(cluster, leader, "agency:samr", {signed_event("first", kSamr, subject)}).status.ok());
  // Without its followers the leader cannot commit: these submits wait.
  for (uint64_t id : cluster.ids()) {
    if (id != leader) cluster.kill(id);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  JoinOnExit join_clients{stop, clients};
  std::vector<grpc::Status> results(4);
  for (size_t c = 0; c < results.size(); ++c) {
    clients.emplace_back([&, c] {
      results[c] = submit(cluster, leader, "agency:samr",
                          {signed_event("stuck-" + std::to_string(c), kSamr, subject)}, 60s)
                       .status;
    });
  }
  std::this_thread::sleep_for(500ms);
  const auto sent = std::chrono::steady_clock::now();
  const int exit = cluster.stop(leader, 20s);
  const auto took = std::chrono::steady_clock::now() - sent;
  for (auto& t : clients) t.join();
  INFO(cluster.log_tails());
  CHECK(WIFEXITED(exit));
  CHECK(WEXITSTATUS(exit) == 0);
  // Graceful means prompt: well before the 30 s submit timeout would have released the calls.
  CHECK(took < 5s);
  for (const grpc::Status& s : results) {
    INFO(describe(s));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
}

TEST_CASE("a whole cluster killed at once or stopped comes back with its chain", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  std::vector<v1::SignedEvent> events;
  for (int i = 0; i < 200; ++i) {
    events.push_back(signed_event("whole-" + std::to_string(i), kSta,
                                  ledger_test::enterprise(static_cast<uint64_t>(i))));
  }
  const SubmitResult r = submit(cluster, nodes[1], "agency:sta", events);
  INFO(describe(r.status));
  REQUIRE(r.status.ok());
  const auto before = cluster.wait_applied_equal(nodes);
  check_same_head(before);

  for (uint64_t id : nodes) cluster.kill(id);
  cluster.start_all();
  cluster.wait_for_leader();
  // Acknowledged before the crash: still there, where the receipts said.
  for (uint64_t id : nodes) {
    const auto s = cluster.status(id);
    REQUIRE(s);
    CHECK(s->height() >= before.front().height());
    for (int i = 0; i < r.response.receipts_size(); i += 37) {
      const EventResult e = get_event(cluster, id, r.response.receipts(i).event_id());
      INFO("node " << id << ": " << describe(e.status));
      REQUIRE(e.status.ok());
      CHECK(e.response.receipt().SerializeAsString() == r.response.receipts(i).SerializeAsString());
    }
  }
  // And it goes on from there.
  const SubmitResult more =
      submit(cluster, nodes[2], "agency:sta",
             {signed_event("whole-after", kSta, ledger_test::enterprise(999))});
  INFO(describe(more.status));
  REQUIRE(more.status.ok());
  const auto after = cluster.wait_applied_equal(nodes);
  check_same_head(after);
  CHECK(after.front().tree_size() == before.front().tree_size() + 1);
  const auto blocks = all_blocks(cluster, nodes[0]);
  REQUIRE(blocks.size() == after.front().height());
  CHECK(blocks[before.front().height() - 1].header().SerializeAsString() ==
        all_blocks(cluster, nodes[2])[before.front().height() - 1].header().SerializeAsString());

  // A graceful stop of every node, and back: the same chain, and it still commits.
  for (uint64_t id : nodes) {
    const int exit = cluster.stop(id);
    INFO("node " << id << "\n" << cluster.log_tails());
    CHECK(WIFEXITED(exit));
    CHECK(WEXITSTATUS(exit) == 0);
  }
  cluster.start_all();
  cluster.wait_for_leader();
  const SubmitResult last =
      submit(cluster, nodes[0], "agency:sta",
             {signed_event("whole-last", kSta, ledger_test::enterprise(998))});
  INFO(describe(last.status));
  REQUIRE(last.status.ok());
  const auto restarted = cluster.wait_applied_equal(nodes);
  check_same_head(restarted);
  CHECK(restarted.front().tree_size() == after.front().tree_size() + 1);
  const auto again = all_blocks(cluster, nodes[1]);
  REQUIRE(again.size() == restarted.front().height());
  for (size_t h = 0; h < blocks.size(); ++h) {
    INFO("block " << h + 1);
    CHECK(again[h].header().SerializeAsString() == blocks[h].header().SerializeAsString());
  }
}

TEST_CASE("kill -9 during heavy writes never leaves a node unable to start", "[integration]") {
  // Large blocks keep every node writing (Raft log, block batch, WAL) most of the time, so the
  // kills land mid-write. A short auto-compaction window makes some restarts catch up by block
  // sync, which a later kill may interrupt too.
  ClusterOptions options;
  options.auto_compact_entries = 20;
  Cluster cluster(options);
  cluster.start_all();
  cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();

  constexpr size_t kClients = 3;
  constexpr size_t kBatchSize = 400;
  const std::vector<std::string_view> agencies = {kSamr, kSta, kCourt};
  std::atomic<bool> stop{false};
  std::atomic<size_t> acked_events{0};
  std::vector<std::thread> clients;
  JoinOnExit join_clients{stop, clients};
  for (size_t c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string_view agency = agencies[c];
      for (size_t b = 0; !stop.load(); ++b) {
        std::vector<v1::SignedEvent> events;
        for (size_t i = 0; i < kBatchSize; ++i) {
          events.push_back(signed_event(
              "torn-" + std::to_string(c) + "-" + std::to_string(b) + "-" + std::to_string(i),
              agency, ledger_test::enterprise(c * 10000000 + b * kBatchSize + i)));
        }
        const SubmitResult r = submit(cluster, nodes[(c + b) % nodes.size()], agency_role(agency),
                                      events, 10s);
        if (r.status.ok()) {
          acked_events += kBatchSize;
        } else {
          std::this_thread::sleep_for(20ms);
        }
      }
    });
  }

  // Six rounds: a random node, at a random moment, killed and started again at once (start()
  // REQUIREs that it comes up and answers); every third round the leader.
  std::mt19937 rng(20261126);
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 900));
    const uint64_t victim = round % 3 == 2 ? cluster.wait_for_leader()
                                           : nodes[rng() % nodes.size()];
    const auto height = cluster.status(victim);
    INFO("round " << round << ": node " << victim << " at height "
                  << (height ? height->height() : 0));
    cluster.kill(victim);
    cluster.start(victim);
  }
  std::this_thread::sleep_for(1000ms);
  stop = true;
  for (auto& t : clients) t.join();
  INFO(acked_events.load() << " events acknowledged");
  CHECK(acked_events.load() > 0);

  cluster.wait_for_leader();
  const auto statuses = cluster.wait_applied_equal(nodes, 60s);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() >= acked_events.load());
  // Every block of every node is the same (GetBlocks also checks each block as it reads it).
  const std::vector<v1::Block> reference = all_blocks(cluster, nodes[0]);
  REQUIRE(reference.size() == statuses.front().height());
  for (size_t n = 1; n < nodes.size(); ++n) {
    const std::vector<v1::Block> blocks = all_blocks(cluster, nodes[n]);
    REQUIRE(blocks.size() == reference.size());
    for (size_t h = 0; h < blocks.size(); ++h) {
      INFO("node " << nodes[n] << " block " << h + 1);
      REQUIRE(blocks[h].header().SerializeAsString() == reference[h].header().SerializeAsString());
    }
  }
}

}  // namespace integration
