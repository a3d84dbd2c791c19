// The checks a fault run must pass once the cluster has healed and converged, judged from the
// operation history and every node's chain and head:
//   - all nodes hold the same blocks (byte for byte) and report the same head, Merkle root,
//     tree size and state root;
//   - accepted sequence numbers run 0, 1, 2, ... without a gap;
//   - every acknowledged event is accepted on the chain exactly once, at the height, index and
//     sequence its receipt gave (and every receipt for it says the same);
//   - no event_id is accepted twice; the only rejections are DUPLICATE_EVENT_ID of an event
//     accepted earlier (a retry that raced its original), since the harness signs only valid
//     events; nothing is on the chain that no client submitted;
//   - every read (LOCAL or LINEARIZABLE) saw only events that are accepted on the chain, about
//     the subject it asked for;
//   - every LINEARIZABLE read saw every event about its subject acknowledged before the read
//     began.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proto/api.pb.h"
#include "tests/faults/history.h"

namespace faults {

struct Violation {
  std::string what;
  std::vector<uint64_t> ops;  // the offending operations, by id
};

struct CheckStats {
  uint64_t blocks = 0;
  uint64_t accepted_on_chain = 0;
  uint64_t rejected_duplicates = 0;       // DUPLICATE_EVENT_ID receipts of raced retries
  uint64_t acknowledged_events = 0;       // distinct events some client saw acknowledged
  uint64_t unacknowledged_committed = 0;  // submitted, never acknowledged, yet accepted
  uint64_t unacknowledged_absent = 0;     // submitted, never acknowledged, not on the chain
  uint64_t linearizable_reads_checked = 0;
  uint64_t local_reads_stale = 0;  // LOCAL reads that missed an event acknowledged before them
};

struct CheckResult {
  std::vector<Violation> violations;
  CheckStats stats;
  bool ok() const { return violations.empty(); }
};

// `chains[node]` holds blocks 1..head of that node; `heads[node]` its ClusterStatus once
// converged. REQUIRES: chains and heads have the same keys and are not empty.
CheckResult check_run(const std::vector<Op>& ops,
                      const std::map<uint64_t, std::vector<v1::Block>>& chains,
                      const std::map<uint64_t, v1::ClusterStatusResponse>& heads);

}  // namespace faults
