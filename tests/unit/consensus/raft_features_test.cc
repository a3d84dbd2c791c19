// The core's features beyond the paper's basic rules: pre-vote, check-quorum and the leader
// lease, ReadIndex, leadership transfer, learners, membership changes, flow control, compaction
// with catch-up notices, the Ready/advance contract and config validation. Tests drive a small
// cluster over a perfect network (raft_test_util.h) and cut links to make the interesting cases.
#include <catch2/catch.hpp>

#include "tests/unit/consensus/raft_test_util.h"

using namespace raft_test;

namespace {
void with_pre_vote_and_check_quorum(Config& c) {
  c.pre_vote = true;
  c.check_quorum = true;
}
}  // namespace

// ---- config ----

TEST_CASE("config: validate() names the broken bound", "[consensus]") {
  Config c = test_config(1);
  CHECK(c.validate().is_ok());
  c.election_timeout_ticks = c.heartbeat_ticks;
  CHECK(c.validate().code() == base::Code::kInvalidArgument);
  c = test_config(0);
  CHECK_FALSE(c.validate().is_ok());
  c = test_config(1);
  c.max_inflight_msgs = 0;
  CHECK_FALSE(c.validate().is_ok());
  c = test_config(1);
  c.max_uncommitted_bytes = c.max_entry_bytes - 1;
  CHECK_FALSE(c.validate().is_ok());
}

// ---- pre-vote and check-quorum ----

TEST_CASE("pre-vote: a rejoining partitioned node does not disrupt the leader", "[consensus]") {
  Cluster c({1, 2, 3}, {}, with_pre_vote_and_check_quorum);
  c.elect(1);
  uint64_t term = c.raft(1).term();
  c.isolate(3);
  c.tick_all(100);  // node 3 keeps pre-voting, never raising its term
  CHECK(c.raft(3).term() == term);
  CHECK(c.raft(3).role() == Role::kPreCandidate);
  c.heal();
  c.tick_all(5);
  CHECK(c.raft(1).role() == Role::kLeader);
  CHECK(c.raft(1).term() == term);
}

TEST_CASE("without pre-vote a rejoining node forces a new election", "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  uint64_t term = c.raft(1).term();
  c.isolate(3);
  c.tick_all(30);
  CHECK(c.raft(3).term() > term);
  c.heal();
  c.tick_all(30);  // node 3's next vote request carries its higher term
  CHECK(c.raft(1).term() > term);
}

TEST_CASE("check-quorum: a leader that cannot hear a majority steps down", "[consensus]") {
  Cluster c({1, 2, 3}, {}, with_pre_vote_and_check_quorum);
  c.elect(1);
  c.isolate(1);
  for (int i = 0; i < 20 && c.raft(1).role() == Role::kLeader; ++i) c.tick_all();
  CHECK(c.raft(1).role() == Role::kFollower);
}

TEST_CASE("leader lease: a voter that hears from the leader ignores a disruptive candidate",
          "[consensus]") {
  Cluster c({1, 2, 3}, {}, with_pre_vote_and_check_quorum);
  c.elect(1);
  uint64_t term = c.raft(1).term();
  Message m;
  m.type = MessageType::kVote;
  m.from = 3;
  m.to = 2;
  m.term = term + 5;
  m.index = c.raft(3).last_index();
  m.log_term = *c.raft(3).term_at(m.index);
  c.node(2).step(m);
  CHECK(c.raft(2).term() == term);
  CHECK(c.node(2).drain().empty());
}

// ---- ReadIndex ----

TEST_CASE("read index: the leader answers after a heartbeat round - with its commit index",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  REQUIRE(c.raft(1).propose("a").is_ok());
  c.stabilize();
  REQUIRE(c.raft(1).read_index("ctx").is_ok());
  // Nothing is answered until a majority acknowledges the heartbeat that follows the request.
  auto out = c.node(1).drain();
  CHECK(of_type(out, MessageType::kHeartbeat).size() == 2);
  CHECK(c.node(1).read_states.empty());
  for (const Message& m : out) c.node(m.to).step(m);
  c.stabilize();
  REQUIRE(c.node(1).read_states.size() == 1);
  CHECK(c.node(1).read_states[0].context == "ctx");
  CHECK(c.node(1).read_states[0].index == 2);
}

TEST_CASE("read index: a leader cut off from the majority never answers", "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.isolate(1);
  REQUIRE(c.raft(1).read_index("ctx").is_ok());
  c.stabilize();
  CHECK(c.node(1).read_states.empty());
}

TEST_CASE("read index: followers answer NotLeader - single voter answers at once",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  CHECK(c.raft(2).read_index("x").code() == base::Code::kNotLeader);
  Cluster one({1});
  one.elect(1);
  one.stabilize();
  REQUIRE(one.raft(1).read_index("x").is_ok());
  one.stabilize();
  REQUIRE(one.node(1).read_states.size() == 1);
  CHECK(one.node(1).read_states[0].index == 1);
}

TEST_CASE("read index: requests made before the leader commits in its term wait for it",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.drop_type(MessageType::kAppendResponse);
  c.elect(1);
  REQUIRE(c.raft(1).read_index("early").is_ok());
  c.stabilize();
  CHECK(c.node(1).read_states.empty());
  c.allow_all_types();
  c.tick_all(2);
  REQUIRE(c.node(1).read_states.size() == 1);
  CHECK(c.node(1).read_states[0].index == 1);
}

TEST_CASE("read index: pending reads are reported dropped when leadership is lost",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.isolate(1);
  REQUIRE(c.raft(1).read_index("lost").is_ok());
  c.stabilize();
  c.heal();
  c.cut(1, 2);
  c.cut(1, 3);
  c.elect(2);
  c.heal();
  c.stabilize();
  c.tick_all(1);
  CHECK(c.node(1).dropped_reads == std::vector<std::string>{"lost"});
}

// ---- leadership transfer ----

TEST_CASE("transfer: an up-to-date voter takes over at once", "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  REQUIRE(c.raft(1).transfer_leadership(2).is_ok());
  c.stabilize();
  CHECK(c.raft(2).role() == Role::kLeader);
  CHECK(c.raft(1).role() == Role::kFollower);
}

TEST_CASE("transfer: a lagging target is caught up first - proposals wait", "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.isolate(3);
  REQUIRE(c.raft(1).propose("a").is_ok());
  c.stabilize();
  c.heal();
  REQUIRE(c.raft(1).transfer_leadership(3).is_ok());
  CHECK(c.raft(1).propose("b").status().code() == base::Code::kBusy);
  c.stabilize();
  CHECK(c.raft(3).role() == Role::kLeader);
  CHECK(c.raft(3).last_index() >= 2);
}

TEST_CASE("transfer: abandoned after an election timeout if the target is unreachable",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.isolate(3);
  REQUIRE(c.raft(1).transfer_leadership(3).is_ok());
  c.tick_all(10);
  CHECK(c.raft(1).role() == Role::kLeader);
  CHECK(c.raft(1).lead_transferee() == kNoNode);
  CHECK(c.raft(1).propose("ok").is_ok());
}

TEST_CASE("transfer: rejected for non-voters and by followers", "[consensus]") {
  Cluster c({1, 2, 3}, {4});
  c.elect(1);
  CHECK(c.raft(1).transfer_leadership(4).code() == base::Code::kInvalidArgument);
  CHECK(c.raft(2).transfer_leadership(3).code() == base::Code::kNotLeader);
}

// ---- learners and membership ----

TEST_CASE("learners replicate and apply but neither vote nor campaign", "[consensus]") {
  Cluster c({1, 2, 3}, {4});
  c.elect(1);
  REQUIRE(c.raft(1).propose("a").is_ok());
  c.stabilize();
  CHECK(c.node(4).applied_data() == std::vector<std::string>{"a"});
  c.node(4).tick(100);
  c.stabilize();
  CHECK(c.raft(4).role() == Role::kFollower);
  // A leader does not count learners: with two voters gone nothing commits.
  c.isolate(2);
  c.isolate(3);
  REQUIRE(c.raft(1).propose("b").is_ok());
  c.stabilize();
  CHECK(c.raft(1).commit_index() == 2);
}

TEST_CASE("membership: add learner - promote - remove - one change at a time", "[consensus]") {
  Cluster c({1, 2, 3});
  c.add_node(4, voters({1, 2, 3}));
  c.elect(1);
  auto added = c.raft(1).propose_membership({MembershipChangeType::kAddLearner, 4});
  REQUIRE(added.is_ok());
  // The previous change must commit before the next one.
  CHECK(c.raft(1).propose_membership({MembershipChangeType::kPromoteLearner, 4}).status().code() ==
        base::Code::kBusy);
  c.stabilize();
  CHECK(c.raft(4).membership().learners == std::vector<NodeId>{4});
  REQUIRE(c.raft(1).propose_membership({MembershipChangeType::kPromoteLearner, 4}).is_ok());
  c.stabilize();
  CHECK(c.raft(1).membership().voters == std::vector<NodeId>{1, 2, 3, 4});
  CHECK(c.raft(4).membership().voters == std::vector<NodeId>{1, 2, 3, 4});
  // Four voters: three are a majority.
  c.isolate(4);
  REQUIRE(c.raft(1).propose("x").is_ok());
  c.stabilize();
  CHECK(c.raft(1).commit_index() == c.raft(1).last_index());
  c.heal();
  REQUIRE(c.raft(1).propose_membership({MembershipChangeType::kRemove, 2}).is_ok());
  c.stabilize();
  CHECK(c.raft(1).membership().voters == std::vector<NodeId>{1, 3, 4});
}

TEST_CASE("membership: invalid changes are rejected with InvalidArgument", "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.stabilize();
  CHECK(c.raft(1).propose_membership({MembershipChangeType::kAddVoter, 2}).status().code() ==
        base::Code::kInvalidArgument);
  CHECK(c.raft(1).propose_membership({MembershipChangeType::kPromoteLearner, 9}).status().code() ==
        base::Code::kInvalidArgument);
  CHECK(c.raft(1).propose_membership({MembershipChangeType::kRemove, 9}).status().code() ==
        base::Code::kInvalidArgument);
  Cluster one({1});
  one.elect(1);
  one.stabilize();
  CHECK(one.raft(1).propose_membership({MembershipChangeType::kRemove, 1}).status().code() ==
        base::Code::kInvalidArgument);
}

TEST_CASE("membership: takes effect on append and reverts if the entry is truncated",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.add_node(4, voters({1, 2, 3}));
  c.elect(1);
  c.stabilize();
  c.isolate(1);
  REQUIRE(c.raft(1).propose_membership({MembershipChangeType::kAddVoter, 4}).is_ok());
  c.stabilize();
  CHECK(c.raft(1).membership().voters == std::vector<NodeId>{1, 2, 3, 4});
  // The others elect 2, whose log overwrites the uncommitted change on 1.
  c.heal();
  c.isolate(1);
  c.heal();
  c.cut(1, 2);
  c.cut(1, 3);
  c.cut(1, 4);
  c.elect(2);
  REQUIRE(c.raft(2).propose("y").is_ok());
  c.stabilize();
  c.heal();
  c.tick_all(3);
  CHECK(c.raft(1).membership().voters == std::vector<NodeId>{1, 2, 3});
  CHECK(c.raft(1).leader() == 2);
}

TEST_CASE("membership: a leader removing itself steps down once the change commits",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.stabilize();
  REQUIRE(c.raft(1).propose_membership({MembershipChangeType::kRemove, 1}).is_ok());
  c.stabilize();
  CHECK(c.raft(1).role() == Role::kFollower);
  CHECK(c.raft(2).membership().voters == std::vector<NodeId>{2, 3});
  c.tick_all(40);
  NodeId l = c.leader();
  CHECK((l == 2 || l == 3));
}

TEST_CASE("membership: encoding round-trips and rejects garbage", "[consensus]") {
  Membership m = voters({1, 5, 9}, {2, 7});
  auto back = decode_membership(encode_membership(m));
  REQUIRE(back.is_ok());
  CHECK(*back == m);
  CHECK(decode_membership("").status().code() == base::Code::kCorruption);
  std::string bad = encode_membership(m);
  bad.pop_back();
  CHECK(decode_membership(bad).status().code() == base::Code::kCorruption);
  CHECK(decode_membership(encode_membership(voters({3, 1}))).status().code() ==
        base::Code::kCorruption);
}

// ---- flow control ----

TEST_CASE("flow control: in-flight appends are bounded by count and bytes", "[consensus]") {
  auto tweak = [](Config& c) {
    c.max_inflight_msgs = 2;
    c.max_inflight_bytes = 1 << 20;
    c.max_size_per_msg_bytes = 1;
  };
  Cluster c({1, 2}, {}, tweak);
  c.elect(1);
  c.stabilize();
  c.drop_type(MessageType::kAppendResponse);
  for (int i = 0; i < 10; ++i) REQUIRE(c.raft(1).propose("e" + std::to_string(i)).is_ok());
  auto appends = of_type(c.node(1).drain(), MessageType::kAppend);
  CHECK(appends.size() == 2);  // window full: two messages of one entry each
  for (const Message& m : appends) CHECK(m.entries.size() == 1);
  c.allow_all_types();
  for (const Message& m : appends) c.node(2).step(m);
  c.stabilize();
  CHECK(c.raft(1).commit_index() == c.raft(1).last_index());
  CHECK(c.node(2).applied_data().size() == 10);
}

TEST_CASE("flow control: proposals beyond max_uncommitted_bytes get Busy", "[consensus]") {
  auto tweak = [](Config& c) {
    c.max_uncommitted_bytes = 10;
    c.max_entry_bytes = 10;
  };
  Cluster c({1, 2, 3}, {}, tweak);
  c.elect(1);
  c.stabilize();
  c.isolate(1);
  REQUIRE(c.raft(1).propose("12345").is_ok());
  REQUIRE(c.raft(1).propose("12345").is_ok());
  CHECK(c.raft(1).propose("1").status().code() == base::Code::kBusy);
  CHECK(c.raft(1).propose(std::string(11, 'x')).status().code() == base::Code::kInvalidArgument);
  CHECK(c.raft(2).propose("x").status().code() == base::Code::kNotLeader);
}

// ---- compaction and catch-up ----

TEST_CASE("compaction: a follower behind the compaction point is reported for catch-up",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 5; ++i) REQUIRE(c.raft(1).propose("e" + std::to_string(i)).is_ok());
  c.stabilize();
  Node& l = c.node(1);
  uint64_t applied = l.raft->last_applied();
  REQUIRE(applied == 6);
  auto m = l.raft->membership_at(applied);
  REQUIRE(m.is_ok());
  REQUIRE(l.storage->compact(applied, *m).is_ok());
  REQUIRE(l.raft->compacted(applied).is_ok());
  c.heal();
  c.tick_all(2);
  REQUIRE(l.catch_ups.size() == 1);
  CHECK(l.catch_ups[0].peer == 3);
  CHECK(l.catch_ups[0].from_index == 2);
  // The owner brings node 3 to index 6 (in credledger by verified blocks), then reports.
  CompactionPoint point{applied, *l.raft->term_at(applied), *m};
  Node& f = c.node(3);
  REQUIRE(f.storage->reset(point).is_ok());
  REQUIRE(f.raft->reset_log(point).is_ok());
  CHECK(f.raft->commit_index() == 6);
  REQUIRE(l.raft->report_catch_up(3, applied, true).is_ok());
  REQUIRE(l.raft->propose("after").is_ok());
  c.stabilize();
  CHECK(f.raft->last_index() == l.raft->last_index());
  CHECK(f.applied_data() == std::vector<std::string>{"after"});
}

TEST_CASE("compaction: compacting beyond applied is refused", "[consensus]") {
  Cluster c({1});
  c.elect(1);
  c.stabilize();
  CHECK(c.raft(1).compacted(5).code() == base::Code::kInvalidArgument);
}

// ---- restart and the Ready contract ----

TEST_CASE("restart: a core rebuilt from storage resumes term - vote - log and membership",
          "[consensus]") {
  Cluster c({1, 2, 3});
  c.add_node(4, voters({1, 2, 3}));
  c.elect(1);
  c.stabilize();
  REQUIRE(c.raft(1).propose_membership({MembershipChangeType::kAddLearner, 4}).is_ok());
  REQUIRE(c.raft(1).propose("a").is_ok());
  c.stabilize();
  Node& n = c.node(2);
  SplitMix64Rng rng(1);
  Config cfg = test_config(2);
  cfg.applied = n.raft->last_applied();
  auto again = Raft::create(cfg, *n.storage, rng);
  REQUIRE(again.is_ok());
  Raft& r = **again;
  CHECK(r.term() == n.raft->term());
  CHECK(r.vote() == n.raft->vote());
  CHECK(r.last_index() == n.raft->last_index());
  CHECK(r.commit_index() == n.raft->commit_index());
  CHECK(r.membership() == voters({1, 2, 3}, {4}));
  CHECK(r.check_invariants().is_ok());
}

TEST_CASE("ready: a vote and its answer arrive together - the vote marked must_sync",
          "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}));
  Message m;
  m.type = MessageType::kVote;
  m.from = 2;
  m.to = 1;
  m.term = 1;
  REQUIRE(n.raft->step(m).is_ok());
  REQUIRE(n.raft->has_ready());
  Ready rd = n.raft->ready();
  REQUIRE(rd.hard_state);
  CHECK(rd.hard_state->vote == 2);
  CHECK(rd.must_sync);
  CHECK(rd.messages.size() == 1);
  CHECK_FALSE(n.raft->has_ready());  // nothing more until advance()
  n.raft->advance();
  CHECK_FALSE(n.raft->has_ready());
}

TEST_CASE("step: malformed peer messages are InvalidArgument - not crashes", "[consensus]") {
  Node n(test_config(1), voters({1, 2, 3}));
  Message m;
  m.type = MessageType::kAppend;
  m.from = 2;
  m.to = 1;
  m.term = 1;
  m.index = 0;
  m.entries = {entry(5, 1)};  // not contiguous with index
  CHECK(n.raft->step(m).code() == base::Code::kInvalidArgument);
  m.entries = {entry(1, 2)};  // entry term above message term
  CHECK(n.raft->step(m).code() == base::Code::kInvalidArgument);
  m.entries = {Entry{1, 1, EntryType::kConfChange, "junk"}};
  CHECK(n.raft->step(m).code() == base::Code::kInvalidArgument);
  m.entries.clear();
  m.to = 3;
  CHECK(n.raft->step(m).code() == base::Code::kInvalidArgument);
  m.to = 1;
  m.from = 1;
  CHECK(n.raft->step(m).code() == base::Code::kInvalidArgument);
  CHECK(n.raft->last_index() == 0);
}
