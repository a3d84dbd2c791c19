#include "consensus/internal/quorum.h"

#include <algorithm>

#include "base/assert.h"

namespace consensus::internal {

uint64_t majority_size(uint64_t voter_count) {
  LEDGER_ASSERT(voter_count > 0);
  return voter_count / 2 + 1;
}

uint64_t committed_index(const std::vector<NodeId>& voters,
                         const std::function<uint64_t(NodeId)>& match_of) {
  LEDGER_ASSERT(!voters.empty());
  std::vector<uint64_t> matches;
  matches.reserve(voters.size());
  for (NodeId id : voters) matches.push_back(match_of(id));
  // Sorted descending, the (majority-1)-th value is matched by exactly the voters before it and
  // itself, which is a majority; any larger value is matched by fewer.
  std::sort(matches.begin(), matches.end(), std::greater<uint64_t>());
  return matches[majority_size(voters.size()) - 1];
}

VoteResult vote_result(const std::vector<NodeId>& voters,
                       const std::function<int(NodeId)>& granted_of) {
  LEDGER_ASSERT(!voters.empty());
  uint64_t granted = 0;
  uint64_t missing = 0;
  for (NodeId id : voters) {
    int v = granted_of(id);
    if (v == 1) {
      ++granted;
    } else if (v < 0) {
      ++missing;
    }
  }
  uint64_t need = majority_size(voters.size());
  if (granted >= need) return VoteResult::kWon;
  if (granted + missing >= need) return VoteResult::kPending;
  return VoteResult::kLost;
}

}  // namespace consensus::internal
