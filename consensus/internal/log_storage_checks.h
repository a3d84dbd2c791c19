// Checks shared by the LogStorage implementations (MemoryLogStorage, RocksLogStorage), so both
// enforce the same REQUIRES clauses and Raft invariants of consensus/log_storage.h.
#pragma once

#include <cstdint>
#include <vector>

#include "base/assert.h"
#include "consensus/log_storage.h"

namespace consensus::internal {

// True if voters and learners are each sorted and unique, learners disjoint from voters, and
// no id is kNoNode.
inline bool membership_well_formed(const Membership& membership) {
  auto sorted_unique = [](const std::vector<NodeId>& ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == kNoNode) return false;
      if (i > 0 && ids[i - 1] >= ids[i]) return false;
    }
    return true;
  };
  if (!sorted_unique(membership.voters) || !sorted_unique(membership.learners)) return false;
  size_t v = 0;
  size_t l = 0;
  while (v < membership.voters.size() && l < membership.learners.size()) {
    if (membership.voters[v] == membership.learners[l]) return false;
    if (membership.voters[v] < membership.learners[l]) {
      ++v;
    } else {
      ++l;
    }
  }
  return true;
}

// Asserts the REQUIRES clause of LogStorage::append() and that terms never decrease.
// prev_term is the term of the entry at entries.front().index - 1 (the compaction point's term
// when that index is the compaction point).
inline void check_append(const std::vector<Entry>& entries, uint64_t compaction_index,
                         uint64_t last_index, uint64_t prev_term) {
  LEDGER_ASSERT(!entries.empty());
  LEDGER_ASSERT(entries.front().index > compaction_index);
  LEDGER_ASSERT(entries.front().index <= last_index + 1);
  uint64_t term = prev_term;
  for (size_t i = 0; i < entries.size(); ++i) {
    LEDGER_ASSERT(entries[i].index == entries.front().index + i);
    LEDGER_ASSERT(entries[i].term >= term);
    LEDGER_ASSERT(entries[i].type == EntryType::kNormal ||
                  entries[i].type == EntryType::kConfChange);
    term = entries[i].term;
  }
}

// Asserts that a new hard state does not move the term back nor change a vote within a term.
inline void check_hard_state(const HardState& old_state, const HardState& new_state) {
  LEDGER_ASSERT(new_state.term >= old_state.term);
  const bool same_term = new_state.term == old_state.term;
  LEDGER_ASSERT(!same_term || old_state.vote == kNoNode || new_state.vote == old_state.vote);
}

}  // namespace consensus::internal
