// A deterministic simulation of whole credledger nodes: real node::Replica objects, each on the
// real ledger state machine over RocksDB in a scratch directory, driven in one thread.
//
// Where simulator.h drives bare Raft cores, this drives what credd decides (replica.h): the
// submit queue and group commit, receipts, apply with asynchronous signature checks, automatic
// compaction and block sync. From one seed come: message delay, loss and partitions; when each
// signature check completes; clients submitting new events and retrying old ones through any
// node; crashes (also right after a Replica wrote and before its messages and replies left) and
// restarts from what the disk holds; and block syncs that are cut short. After every step:
//   - every acknowledged event is on the chain exactly once, at its receipt's position;
//   - all nodes' blocks agree at every height they share (one header hash per height);
//   - no node applies a block twice or skips one (heights come out consecutive);
// and at the end, after a heal phase in which every node must reach the same head:
//   - each node's chain replays, block by block, into a fresh ledger with the same roots;
//   - every acknowledged event is found on every node at its receipt's position.
//
// Same options give the same run: replay a failure with its seed.
#pragma once

#include <cstdint>
#include <string>

namespace replica_sim {

struct Options {
  uint64_t seed = 1;
  int nodes = 3;               // 3 or 5
  uint64_t chaos_ticks = 600;  // ticks (100 simulated ms each) of faults before healing
  uint64_t heal_ticks_max = 400;
  bool faults = true;  // loss, delay, partitions, crashes, cut syncs
  bool verbose = false;
};

struct Result {
  bool ok = true;
  std::string violation;  // the first broken property, with the tick it was seen at
  uint64_t ticks = 0;
  uint64_t events_acknowledged = 0;
  uint64_t blocks = 0;  // the final height
  uint64_t crashes = 0;
  uint64_t block_syncs = 0;
  uint64_t block_syncs_cut = 0;
  uint64_t compactions = 0;
};

Result run(const Options& options);
std::string describe(const Options& options);

}  // namespace replica_sim
