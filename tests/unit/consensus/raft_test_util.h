// Helpers for the Raft unit tests: one core over a MemoryLogStorage (Node), and a small cluster
// of them with a perfect, controllable network (Cluster). The owner loop is the one raft.h
// prescribes: persist, send, apply, advance. Every step is followed by check_invariants().
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "consensus/memory_log_storage.h"
#include "consensus/raft.h"

namespace raft_test {

using namespace consensus;

inline Config test_config(NodeId id) {
  Config c;
  c.id = id;
  c.election_timeout_ticks = 10;
  c.heartbeat_ticks = 1;
  c.max_inflight_msgs = 256;
  c.pre_vote = false;
  c.check_quorum = false;
  return c;
}

inline Membership voters(std::vector<NodeId> ids, std::vector<NodeId> learners = {}) {
  return Membership{std::move(ids), std::move(learners)};
}

inline Entry entry(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{index, term, EntryType::kNormal, std::move(data)};
}

// One core and what its owner did with its Readys.
struct Node {
  std::unique_ptr<MemoryLogStorage> storage;
  std::unique_ptr<SplitMix64Rng> rng;
  std::unique_ptr<Raft> raft;
  std::vector<Entry> applied;
  std::vector<ReadState> read_states;
  std::vector<std::string> dropped_reads;
  std::vector<CatchUp> catch_ups;

  // storage_entries/hard_state pre-fill the log as if persisted before a restart.
  Node(Config config, Membership membership, std::vector<Entry> storage_entries = {},
       HardState hard_state = {}) {
    storage = std::make_unique<MemoryLogStorage>(membership);
    if (!storage_entries.empty()) REQUIRE(storage->append(storage_entries).is_ok());
    REQUIRE(storage->set_hard_state(hard_state).is_ok());
    rng = std::make_unique<SplitMix64Rng>(config.id * 7919);
    auto created = Raft::create(config, *storage, *rng);
    REQUIRE(created.is_ok());
    raft = std::move(created).value();
    check();
  }

  void check() {
    base::Status s = raft->check_invariants();
    INFO(s.to_string());
    REQUIRE(s.is_ok());
  }

  // Handles every pending Ready and returns the messages it would send.
  std::vector<Message> drain() {
    std::vector<Message> out;
    while (raft->has_ready()) {
      Ready rd = raft->ready();
      if (!rd.entries.empty()) REQUIRE(storage->append(rd.entries).is_ok());
      if (rd.hard_state) REQUIRE(storage->set_hard_state(*rd.hard_state).is_ok());
      out.insert(out.end(), rd.messages.begin(), rd.messages.end());
      applied.insert(applied.end(), rd.committed_entries.begin(), rd.committed_entries.end());
      read_states.insert(read_states.end(), rd.read_states.begin(), rd.read_states.end());
      dropped_reads.insert(dropped_reads.end(), rd.dropped_reads.begin(), rd.dropped_reads.end());
      catch_ups.insert(catch_ups.end(), rd.catch_ups.begin(), rd.catch_ups.end());
      raft->advance();
      check();
    }
    return out;
  }

  void step(const Message& m) {
    base::Status s = raft->step(m);
    INFO(s.to_string());
    REQUIRE(s.is_ok());
    check();
  }

  void tick(uint64_t n = 1) {
    for (uint64_t i = 0; i < n; ++i) {
      raft->tick();
      check();
    }
  }

  std::vector<std::string> applied_data() const {
    std::vector<std::string> out;
    for (const Entry& e : applied) {
      if (e.type == EntryType::kNormal && !e.data.empty()) out.push_back(e.data);
    }
    return out;
  }
};

inline std::vector<Message> of_type(const std::vector<Message>& msgs, MessageType type) {
  std::vector<Message> out;
  for (const Message& m : msgs) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

// Several nodes and a perfect network; links can be cut.
class Cluster {
 public:
  Cluster(const std::vector<NodeId>& voter_ids, const std::vector<NodeId>& learner_ids = {},
          std::function<void(Config&)> tweak = {}) {
    Membership m = voters(voter_ids, learner_ids);
    std::vector<NodeId> all = voter_ids;
    all.insert(all.end(), learner_ids.begin(), learner_ids.end());
    for (NodeId id : all) add_node(id, m, tweak);
  }

  void add_node(NodeId id, const Membership& m, std::function<void(Config&)> tweak = {}) {
    Config c = test_config(id);
    if (tweak) tweak(c);
    nodes_.emplace(id, std::make_unique<Node>(c, m));
  }

  Node& node(NodeId id) { return *nodes_.at(id); }
  Raft& raft(NodeId id) { return *nodes_.at(id)->raft; }

  void cut(NodeId a, NodeId b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void cut_one_way(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void isolate(NodeId a) {
    for (auto& [id, n] : nodes_) {
      if (id != a) cut(a, id);
    }
  }
  void heal() { cut_.clear(); }
  // Drop every message of this type (e.g. to hold back acknowledgements).
  void drop_type(MessageType t) { dropped_types_.insert(t); }
  void allow_all_types() { dropped_types_.clear(); }

  // Delivers messages until no node has anything to say. Returns messages delivered.
  size_t stabilize(size_t limit = 100000) {
    size_t delivered = 0;
    for (;;) {
      std::vector<Message> pending;
      for (auto& [id, n] : nodes_) {
        auto msgs = n->drain();
        pending.insert(pending.end(), msgs.begin(), msgs.end());
      }
      if (pending.empty()) return delivered;
      for (const Message& m : pending) {
        if (cut_.count({m.from, m.to}) || dropped_types_.count(m.type)) continue;
        if (nodes_.count(m.to) == 0) continue;
        node(m.to).step(m);
        ++delivered;
        REQUIRE(delivered < limit);
      }
    }
  }

  void tick_all(uint64_t n = 1) {
    for (uint64_t i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) node->tick();
      stabilize();
    }
  }

  void elect(NodeId id) {
    raft(id).campaign();
    stabilize();
    REQUIRE(raft(id).role() == Role::kLeader);
  }

  NodeId leader() {
    NodeId found = kNoNode;
    uint64_t term = 0;
    for (auto& [id, n] : nodes_) {
      if (n->raft->role() == Role::kLeader && n->raft->term() >= term) {
        found = id;
        term = n->raft->term();
      }
    }
    return found;
  }

 private:
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::set<MessageType> dropped_types_;
};

}  // namespace raft_test
