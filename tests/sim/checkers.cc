#include "tests/sim/checkers.h"

#include <algorithm>

namespace sim {

namespace {
std::string entry_name(uint64_t index, uint64_t term) {
  return "entry " + std::to_string(index) + " (term " + std::to_string(term) + ")";
}
}  // namespace

void Checkers::fail(std::string message) {
  if (!violation_) violation_ = std::move(message);
}

void Checkers::on_leader(NodeId node, uint64_t term, const consensus::Raft& raft) {
  auto [it, inserted] = leader_of_term_.emplace(term, node);
  if (!inserted && it->second != node) {
    fail("election safety: nodes " + std::to_string(it->second) + " and " +
         std::to_string(node) + " both leader in term " + std::to_string(term));
    return;
  }
  // Leader completeness: every committed entry is in the new leader's log.
  for (uint64_t index = 1; index <= committed_.size(); ++index) {
    if (index > raft.last_index()) {
      fail("leader completeness: leader " + std::to_string(node) + " of term " +
           std::to_string(term) + " lacks committed " +
           entry_name(index, committed_[index - 1].term));
      return;
    }
    base::Result<uint64_t> t = raft.term_at(index);
    if (!t.is_ok()) continue;  // compacted: applied, checked by state-machine safety
    if (*t != committed_[index - 1].term) {
      fail("leader completeness: leader " + std::to_string(node) + " of term " +
           std::to_string(term) + " has term " + std::to_string(*t) + " at committed " +
           entry_name(index, committed_[index - 1].term));
      return;
    }
  }
}

void Checkers::on_vote_granted(NodeId voter, uint64_t term, NodeId candidate) {
  auto [it, inserted] = vote_of_.emplace(std::make_pair(voter, term), candidate);
  if (!inserted && it->second != candidate) {
    fail("election safety: node " + std::to_string(voter) + " voted for " +
         std::to_string(it->second) + " and " + std::to_string(candidate) + " in term " +
         std::to_string(term));
  }
}

void Checkers::on_persisted(NodeId node, const std::vector<Entry>& entries,
                            const std::vector<Entry>& replaced, uint64_t prev_term) {
  for (const Entry& old : replaced) {
    if (old.index > committed_.size() || entries.empty() || old.index < entries.front().index) {
      continue;
    }
    const Entry& c = committed_[old.index - 1];
    const Entry& now = entries[old.index - entries.front().index];
    // A stale leader may write anything at a committed index of its own log; but a node that
    // holds the committed entry must never lose it.
    if (old.term == c.term && old.data == c.data && (now.term != c.term || now.data != c.data)) {
      fail("state machine safety: node " + std::to_string(node) + " replaced committed " +
           entry_name(c.index, c.term) + " with " + entry_name(now.index, now.term));
      return;
    }
  }
  for (const Entry& e : entries) {
    auto [it, inserted] = seen_.emplace(EntryKey{e.index, e.term}, Seen{e.data, e.type, prev_term});
    if (!inserted && (it->second.data != e.data || it->second.type != e.type ||
                      it->second.prev_term != prev_term)) {
      fail("log matching: node " + std::to_string(node) + " stored " +
           entry_name(e.index, e.term) + " differing from another node's (data or previous term)");
      return;
    }
    prev_term = e.term;
  }
}

void Checkers::on_committed(NodeId node, uint64_t from, uint64_t to, const consensus::Raft& raft) {
  uint64_t start = std::min<uint64_t>(from, committed_.size()) + 1;
  for (uint64_t index = start; index <= to; ++index) {
    base::Result<std::vector<Entry>> got = raft.entries(index, index + 1);
    if (!got.is_ok() || got->empty()) continue;  // compacted
    const Entry& e = got->front();
    if (index <= committed_.size()) {
      const Entry& c = committed_[index - 1];
      if (c.term != e.term || c.data != e.data || c.type != e.type) {
        fail("state machine safety: node " + std::to_string(node) + " committed " +
             entry_name(e.index, e.term) + " but " + entry_name(c.index, c.term) +
             " was committed before");
        return;
      }
    } else if (index == committed_.size() + 1) {
      committed_.push_back(e);
    }
  }
}

void Checkers::on_leader_commit(NodeId leader, const Entry& entry,
                                const std::vector<LogSummary>& logs) {
  for (const LogSummary& candidate : logs) {
    if (candidate.holds) continue;
    size_t would_grant = 0;
    for (const LogSummary& voter : logs) {
      bool up_to_date = candidate.last_term > voter.last_term ||
                        (candidate.last_term == voter.last_term &&
                         candidate.last_index >= voter.last_index);
      if (up_to_date) ++would_grant;
    }
    if (would_grant >= logs.size() / 2 + 1) {
      fail("leader completeness: leader " + std::to_string(leader) + " committed " +
           entry_name(entry.index, entry.term) + " but node " + std::to_string(candidate.node) +
           ", which lacks it, could still be elected by a majority");
      return;
    }
  }
}

void Checkers::on_applied(NodeId node, const Entry& entry) {
  if (entry.index <= committed_.size()) {
    const Entry& c = committed_[entry.index - 1];
    if (c.term != entry.term || c.data != entry.data || c.type != entry.type) {
      fail("state machine safety: node " + std::to_string(node) + " applied " +
           entry_name(entry.index, entry.term) + " but " + entry_name(c.index, c.term) +
           " was committed");
    }
  } else if (entry.index == committed_.size() + 1) {
    committed_.push_back(entry);
  }
}

void Checkers::on_write_acked(uint64_t index) { max_acked_index_ = std::max(max_acked_index_, index); }

void Checkers::on_read(NodeId node, uint64_t read_index, uint64_t acked_at_start) {
  if (read_index < acked_at_start) {
    fail("read safety: node " + std::to_string(node) + " answered a read at index " +
         std::to_string(read_index) + " but a write at index " + std::to_string(acked_at_start) +
         " was acknowledged before the read began");
  }
}

}  // namespace sim
