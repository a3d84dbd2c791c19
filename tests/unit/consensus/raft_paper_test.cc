// The rules of the Raft paper (Ongaro & Ousterhout 2014), in the paper's order: §5.1 terms,
// §5.2 leader election, §5.3 log replication, §5.4 safety (election restriction, committing
// entries from previous terms). Each test sets up one core or a small cluster, steps it
// with explicit messages or ticks, and checks the messages and state it produces.
#include <catch2/catch.hpp>

#include "tests/unit/consensus/raft_test_util.h"

using namespace raft_test;

namespace {

Message msg(MessageType type, NodeId from, NodeId to, uint64_t term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

Message append(NodeId from, NodeId to, uint64_t term, uint64_t prev_index, uint64_t prev_term,
               std::vector<Entry> entries, uint64_t commit) {
  Message m = msg(MessageType::kAppend, from, to, term);
  m.index = prev_index;
  m.log_term = prev_term;
  m.entries = std::move(entries);
  m.commit = commit;
  return m;
}

Message vote(NodeId from, NodeId to, uint64_t term, uint64_t last_index, uint64_t last_term) {
  Message m = msg(MessageType::kVote, from, to, term);
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

}  // namespace

// ---- §5.1 terms ----

TEST_CASE("5.1: any node that sees a higher term adopts it and becomes follower", "[consensus]") {
  for (MessageType t : {MessageType::kAppend, MessageType::kHeartbeat, MessageType::kVote,
                        MessageType::kAppendResponse}) {
    Node n(test_config(1), voters({1, 2, 3}));
    n.raft->campaign();  // candidate in term 1
    n.drain();
    REQUIRE(n.raft->role() == Role::kCandidate);
    n.step(msg(t, 2, 1, 5));
    CHECK(n.raft->term() == 5);
    CHECK(n.raft->role() == Role::kFollower);
  }
}

TEST_CASE("5.1: messages from a stale term are ignored", "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}), {}, HardState{3, kNoNode, 0});
  n.step(append(2, 1, 2, 0, 0, {entry(1, 2, "x")}, 0));
  CHECK(n.raft->last_index() == 0);
  CHECK(n.raft->term() == 3);
}

// ---- §5.2 leader election ----

TEST_CASE("5.2: a follower that hears nothing becomes candidate and asks every voter", "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}));
  n.tick(20);  // beyond the largest randomized timeout (2 * 10 - 1)
  CHECK(n.raft->role() == Role::kCandidate);
  CHECK(n.raft->term() == 1);
  CHECK(n.raft->vote() == 1);
  auto votes = of_type(n.drain(), MessageType::kVote);
  REQUIRE(votes.size() == 2);
  CHECK(votes[0].to == 2);
  CHECK(votes[1].to == 3);
  CHECK(votes[0].term == 1);
}

TEST_CASE("5.2: election timeouts are randomized within from timeout to twice timeout", "[consensus]") {
  std::set<uint64_t> seen;
  for (NodeId id = 1; id <= 40; ++id) {
    Node n(test_config(id), voters({id, 100, 101}));
    uint64_t ticks = 0;
    while (n.raft->role() == Role::kFollower) {
      n.tick();
      ++ticks;
      REQUIRE(ticks < 20);
    }
    CHECK(ticks >= 10);
    seen.insert(ticks);
  }
  CHECK(seen.size() > 3);
}

TEST_CASE("5.2: a candidate with a majority of votes becomes leader and sends appends",
          "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3, 4, 5}));
  n.raft->campaign();
  n.drain();
  Message grant = msg(MessageType::kVoteResponse, 2, 1, 1);
  n.step(grant);
  CHECK(n.raft->role() == Role::kCandidate);
  grant.from = 3;
  n.step(grant);
  CHECK(n.raft->role() == Role::kLeader);
  auto appends = of_type(n.drain(), MessageType::kAppend);
  CHECK(appends.size() == 4);
  // The leader's first entry is an empty entry of its term.
  CHECK(n.raft->last_index() == 1);
  CHECK(*n.raft->term_at(1) == 1);
}

TEST_CASE("5.2: a candidate rejected by a majority steps down", "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}));
  n.raft->campaign();
  n.drain();
  Message reject = msg(MessageType::kVoteResponse, 2, 1, 1);
  reject.reject = true;
  n.step(reject);
  reject.from = 3;
  n.step(reject);
  CHECK(n.raft->role() == Role::kFollower);
  CHECK(n.raft->term() == 1);
}

TEST_CASE("5.2: a voter grants at most one vote per term - first come first served",
          "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}));
  n.step(vote(2, 1, 1, 0, 0));
  auto r = n.drain();
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].reject);
  CHECK(n.storage->hard_state().vote == 2);  // persisted before the answer was sent
  n.step(vote(3, 1, 1, 0, 0));
  r = n.drain();
  REQUIRE(r.size() == 1);
  CHECK(r[0].reject);
  // The same candidate asking again (a retransmission) gets the same answer.
  n.step(vote(2, 1, 1, 0, 0));
  r = n.drain();
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].reject);
}

TEST_CASE("5.2: a candidate that hears from a leader of its term becomes follower",
          "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}));
  n.raft->campaign();
  n.drain();
  n.step(append(2, 1, 1, 0, 0, {}, 0));
  CHECK(n.raft->role() == Role::kFollower);
  CHECK(n.raft->leader() == 2);
}

TEST_CASE("5.2: a leader sends heartbeats every heartbeat interval", "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.node(1).tick();
  auto hb = of_type(c.node(1).drain(), MessageType::kHeartbeat);
  CHECK(hb.size() == 2);
}

TEST_CASE("5.2: split votes resolve: some node is elected eventually", "[consensus]") {
  Cluster c({1, 2, 3, 4, 5});
  c.tick_all(100);
  CHECK(c.leader() != kNoNode);
}

// ---- §5.3 log replication ----

TEST_CASE("5.3: the leader commits an entry once a majority stored it - and followers learn it",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  REQUIRE(c.raft(1).propose("a").is_ok());
  c.stabilize();
  for (NodeId id : {1, 2, 3}) {
    CHECK(c.raft(id).commit_index() == 2);
    CHECK(c.node(id).applied_data() == std::vector<std::string>{"a"});
  }
}

TEST_CASE("5.3: with a minority down the leader still commits - not with a majority down",
          "[consensus]") {
  Cluster c({1, 2, 3, 4, 5});
  c.elect(1);
  c.isolate(4);
  c.isolate(5);
  REQUIRE(c.raft(1).propose("a").is_ok());
  c.stabilize();
  CHECK(c.raft(1).commit_index() == 2);
  c.isolate(3);
  REQUIRE(c.raft(1).propose("b").is_ok());
  c.stabilize();
  CHECK(c.raft(1).commit_index() == 2);
}

TEST_CASE("5.3: a follower rejects an append whose previous entry it lacks", "[consensus]") {
  Node n(test_config(2), voters({1, 2, 3}), {entry(1, 1), entry(2, 1)}, HardState{2, kNoNode, 0});
  n.step(append(1, 2, 2, 3, 2, {entry(4, 2, "x")}, 0));
  auto r = of_type(n.drain(), MessageType::kAppendResponse);
  REQUIRE(r.size() == 1);
  CHECK(r[0].reject);
  CHECK(r[0].index == 3);
  CHECK(r[0].reject_hint == 2);  // our last index: the leader can jump there directly
  CHECK(n.raft->last_index() == 2);
}

TEST_CASE("5.3: a follower deletes a conflicting suffix and appends the leader's entries",
          "[consensus]") {
  Node n(test_config(2), voters({1, 2, 3}), {entry(1, 1), entry(2, 1), entry(3, 1)},
         HardState{2, kNoNode, 1});
  n.step(append(1, 2, 3, 1, 1, {entry(2, 3, "new")}, 2));
  n.drain();
  CHECK(n.raft->last_index() == 2);
  CHECK(*n.raft->term_at(2) == 3);
  CHECK(n.storage->last_index() == 2);
  CHECK(n.raft->commit_index() == 2);
}

TEST_CASE("5.3: an append that repeats entries we hold truncates nothing", "[consensus]") {
  Node n(test_config(2), voters({1, 2, 3}), {entry(1, 1), entry(2, 1), entry(3, 1)},
         HardState{1, kNoNode, 0});
  // A delayed append carrying only a prefix of what we already have.
  n.step(append(1, 2, 1, 0, 0, {entry(1, 1)}, 0));
  n.drain();
  CHECK(n.raft->last_index() == 3);
}

TEST_CASE("5.3: the leader backs off to the first matching entry using conflict hints",
          "[consensus]") {
  // Follower 2 holds many entries of a stale term 2; the leader's log has term 3 there.
  std::vector<Entry> leader_log{entry(1, 1)};
  std::vector<Entry> follower_log{entry(1, 1)};
  for (uint64_t i = 2; i <= 30; ++i) follower_log.push_back(entry(i, 2));
  for (uint64_t i = 2; i <= 5; ++i) leader_log.push_back(entry(i, 3));
  Node leader(test_config(1), voters({1, 2, 3}), leader_log, HardState{3, kNoNode, 1});
  Node follower(test_config(2), voters({1, 2, 3}), follower_log, HardState{3, kNoNode, 1});
  leader.raft->campaign();
  leader.drain();
  Message grant = msg(MessageType::kVoteResponse, 3, 1, 4);
  leader.step(grant);
  REQUIRE(leader.raft->role() == Role::kLeader);
  size_t round_trips = 0;
  std::vector<Message> to_follower;
  for (const Message& m : leader.drain()) {
    if (m.to == 2) to_follower.push_back(m);
  }
  while (!to_follower.empty() && round_trips < 10) {
    ++round_trips;
    std::vector<Message> replies;
    for (const Message& m : to_follower) follower.step(m);
    for (const Message& m : follower.drain()) leader.step(m);
    to_follower.clear();
    for (const Message& m : leader.drain()) {
      if (m.to == 2) to_follower.push_back(m);
    }
    if (follower.raft->last_index() == leader.raft->last_index() &&
        *follower.raft->term_at(follower.raft->last_index()) == 4) {
      break;
    }
  }
  // One rejection skips the whole stale term: 29 entries behind needs only two round trips.
  CHECK(round_trips <= 3);
  CHECK(follower.raft->last_index() == 6);
  CHECK(*follower.raft->term_at(2) == 3);
}

// ---- §5.4.1 election restriction ----

TEST_CASE("5.4.1: a voter denies its vote to a candidate whose log is less up to date",
          "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}), {entry(1, 1), entry(2, 2)}, HardState{2, kNoNode, 0});
  SECTION("lower last term") {
    n.step(vote(2, 1, 3, 5, 1));
    CHECK(n.drain().at(0).reject);
  }
  SECTION("same last term, shorter log") {
    n.step(vote(2, 1, 3, 1, 2));
    CHECK(n.drain().at(0).reject);
  }
  SECTION("same last term, same length: granted") {
    n.step(vote(2, 1, 3, 2, 2));
    CHECK_FALSE(n.drain().at(0).reject);
  }
  SECTION("higher last term, shorter log: granted") {
    n.step(vote(2, 1, 3, 1, 3));
    CHECK_FALSE(n.drain().at(0).reject);
  }
}

// ---- §5.4.2 committing entries from previous terms ----

TEST_CASE("5.4.2: a leader does not commit an earlier-term entry by counting replicas",
          "[consensus]") {
  // Leader 1 of term 3 holds (2, term 1) uncommitted; a majority acknowledges index 2 but not
  // the leader's own empty entry at 3.
  Node n(test_config(1), voters({1, 2, 3}), {entry(1, 1), entry(2, 1)}, HardState{2, kNoNode, 1});
  n.raft->campaign();
  n.drain();
  n.step(msg(MessageType::kVoteResponse, 2, 1, 3));
  REQUIRE(n.raft->role() == Role::kLeader);
  n.drain();
  Message ack = msg(MessageType::kAppendResponse, 2, 1, 3);
  ack.index = 2;
  n.step(ack);
  CHECK(n.raft->commit_index() == 1);
  // Once the current-term entry is on a majority, everything before it commits too.
  ack.index = 3;
  n.step(ack);
  CHECK(n.raft->commit_index() == 3);
}
