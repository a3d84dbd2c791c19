// Checks the optimised quorum arithmetic (consensus/internal/quorum.h) against naive definitions
// on random inputs, the way etcd raft's quorum/quick_test.go does, plus the Inflights window and
// the unstable log on a few edge cases.
#include <catch2/catch.hpp>

#include <map>

#include "consensus/internal/progress.h"
#include "consensus/internal/quorum.h"
#include "consensus/internal/raft_log.h"
#include "consensus/raft.h"

using namespace consensus;
using namespace consensus::internal;

namespace {

// The largest index i such that a majority of voters have match >= i (0 if none).
uint64_t naive_committed(const std::vector<NodeId>& voters, const std::map<NodeId, uint64_t>& m) {
  uint64_t best = 0;
  for (const auto& [id, candidate] : m) {
    size_t count = 0;
    for (NodeId v : voters) count += m.at(v) >= candidate ? 1 : 0;
    if (count * 2 > voters.size()) best = std::max(best, candidate);
  }
  return best;
}

VoteResult naive_vote(const std::vector<NodeId>& voters, const std::map<NodeId, int>& votes) {
  size_t yes = 0, no = 0;
  for (NodeId v : voters) {
    int x = votes.at(v);
    yes += x == 1;
    no += x == 0;
  }
  if (yes * 2 > voters.size()) return VoteResult::kWon;
  if (no * 2 >= voters.size() + (voters.size() % 2 == 0 ? 0 : 1)) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace

TEST_CASE("quorum: committed_index matches the naive definition on random inputs",
          "[consensus]") {
  SplitMix64Rng rng(12345);
  for (int round = 0; round < 20000; ++round) {
    size_t n = 1 + rng.uniform(9);
    std::vector<NodeId> voters;
    std::map<NodeId, uint64_t> match;
    for (size_t i = 0; i < n; ++i) {
      voters.push_back(i + 1);
      match[i + 1] = rng.uniform(8);
    }
    uint64_t fast = committed_index(voters, [&](NodeId id) { return match.at(id); });
    REQUIRE(fast == naive_committed(voters, match));
  }
}

TEST_CASE("quorum: vote_result matches the naive definition on random inputs", "[consensus]") {
  SplitMix64Rng rng(777);
  for (int round = 0; round < 20000; ++round) {
    size_t n = 1 + rng.uniform(9);
    std::vector<NodeId> voters;
    std::map<NodeId, int> votes;
    for (size_t i = 0; i < n; ++i) {
      voters.push_back(i + 1);
      votes[i + 1] = static_cast<int>(rng.uniform(3)) - 1;
    }
    VoteResult fast = vote_result(voters, [&](NodeId id) { return votes.at(id); });
    INFO("n=" << n);
    REQUIRE(fast == naive_vote(voters, votes));
  }
}

TEST_CASE("inflights: full by count or by bytes - freed by acknowledgement", "[consensus]") {
  Inflights w(3, 100);
  w.add(1, 10);
  w.add(2, 10);
  CHECK_FALSE(w.full());
  w.add(5, 90);
  CHECK(w.full());
  w.free_le(2);
  CHECK(w.count() == 1);
  CHECK(w.bytes() == 90);
  CHECK_FALSE(w.full());
  w.add(6, 20);
  CHECK(w.full());  // 110 bytes
  w.free_first_one();
  CHECK(w.bytes() == 20);
  Inflights big(3, 5);
  big.add(1, 50);  // one oversized message always fits into an empty window
  CHECK(big.full());
}

TEST_CASE("unstable: truncate_and_append and stable_to keep the invariants", "[consensus]") {
  Unstable u(5);
  u.truncate_and_append({Entry{5, 1, EntryType::kNormal, ""}, Entry{6, 1, EntryType::kNormal, ""}, Entry{7, 1, EntryType::kNormal, ""}});
  CHECK(*u.last_index() == 7);
  u.truncate_and_append({Entry{6, 2, EntryType::kNormal, ""}});
  CHECK(*u.last_index() == 6);
  CHECK(*u.term(6) == 2);
  u.stable_to(6, 1);  // stale: entry 6 was replaced
  CHECK(u.offset() == 5);
  u.stable_to(5, 1);
  CHECK(u.offset() == 6);
  u.truncate_and_append({Entry{3, 3, EntryType::kNormal, ""}});  // replaces stored entries too
  CHECK(u.offset() == 3);
  CHECK(*u.last_index() == 3);
}
