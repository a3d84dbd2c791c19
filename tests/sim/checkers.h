// Safety checkers for the cluster simulator. The simulator reports what each node persists,
// commits, applies, votes and reads; the checkers compare across nodes and over time and record
// the first violation they see (with a message naming the broken property).
//
// Properties (Raft paper Figure 3, plus reads):
//   election safety     at most one leader per term; a voter grants at most one vote per term;
//   log matching        two logs with an entry of the same index and term agree on its data
//                       and on the term of the entry before it (so, inductively, on the prefix);
//   leader completeness a new leader's log holds every entry committed so far; and, checked the
//                       moment a leader commits, no voter lacking the entry could be elected by
//                       a majority of the leader's voters (up-to-date rule over persisted logs),
//                       which exposes a premature commit before any later election happens;
//   state machine       no two nodes apply different entries at one index; no node replaces a
//   safety              committed entry it holds (no committed entry is lost);
//   read safety         a ReadIndex read covers every write acknowledged before it started.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "consensus/log_storage.h"
#include "consensus/raft.h"

namespace sim {

using consensus::Entry;
using consensus::NodeId;

class Checkers {
 public:
  // First violation seen, if any.
  const std::optional<std::string>& violation() const { return violation_; }
  bool ok() const { return !violation_.has_value(); }

  // A node became leader of term.
  void on_leader(NodeId node, uint64_t term, const consensus::Raft& raft);
  // A node granted its vote in term to candidate (seen as it sends the response).
  void on_vote_granted(NodeId voter, uint64_t term, NodeId candidate);
  // A node persisted entries, replacing `replaced` (its stored entries at those indexes, if any);
  // prev_term is its stored term just before the first entry.
  void on_persisted(NodeId node, const std::vector<Entry>& entries,
                    const std::vector<Entry>& replaced, uint64_t prev_term);
  // A node's commit index advanced over (from, to]; entry_at(index) reads its log.
  void on_committed(NodeId node, uint64_t from, uint64_t to, const consensus::Raft& raft);
  // What the commit check needs to know of one node's persisted log.
  struct LogSummary {
    NodeId node;
    uint64_t last_index;
    uint64_t last_term;
    bool holds;  // has the entry in question (or compacted past it)
  };
  // Leader `leader` committed `entry`; logs summarises every voter of its configuration.
  void on_leader_commit(NodeId leader, const Entry& entry, const std::vector<LogSummary>& logs);
  // A node applied entry (its state machine now ends at entry.index).
  void on_applied(NodeId node, const Entry& entry);
  // A write became acknowledged to its client (first apply anywhere).
  void on_write_acked(uint64_t index);
  uint64_t max_acked_index() const { return max_acked_index_; }
  // A read that started when max_acked_index() was acked_at_start returned index.
  void on_read(NodeId node, uint64_t read_index, uint64_t acked_at_start);

  uint64_t committed_count() const { return committed_.size(); }
  const Entry& committed_entry(uint64_t index) const { return committed_.at(index - 1); }

  void fail(std::string message);

 private:
  struct EntryKey {
    uint64_t index;
    uint64_t term;
    bool operator==(const EntryKey&) const = default;
  };
  struct EntryKeyHash {
    size_t operator()(const EntryKey& k) const { return k.index * 1000003u ^ k.term; }
  };
  struct Seen {
    std::string data;
    consensus::EntryType type;
    uint64_t prev_term;
  };

  std::optional<std::string> violation_;
  std::map<uint64_t, NodeId> leader_of_term_;
  std::map<std::pair<NodeId, uint64_t>, NodeId> vote_of_;
  std::unordered_map<EntryKey, Seen, EntryKeyHash> seen_;
  std::vector<Entry> committed_;  // committed_[i] is the entry at index i + 1
  uint64_t max_acked_index_ = 0;
};

}  // namespace sim
