// Majority arithmetic over a voter set: which log index a majority has matched, and how an
// election stands. Kept apart from Raft so it can be checked against a naive version on random
// inputs (tests/unit/consensus/quorum_test.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "consensus/log_storage.h"

namespace consensus::internal {

// Smallest number of voters that is a majority of `voter_count`. REQUIRES: voter_count > 0.
uint64_t majority_size(uint64_t voter_count);

// The largest index that at least a majority of `voters` have matched, where match_of(id) gives
// a voter's match index. REQUIRES: voters is non-empty.
uint64_t committed_index(const std::vector<NodeId>& voters,
                         const std::function<uint64_t(NodeId)>& match_of);

enum class VoteResult { kPending, kWon, kLost };

// granted_of(id) answers 1 for granted, 0 for rejected, -1 for no answer yet.
// kWon once a majority granted, kLost once a majority can no longer be reached.
VoteResult vote_result(const std::vector<NodeId>& voters,
                       const std::function<int(NodeId)>& granted_of);

}  // namespace consensus::internal
