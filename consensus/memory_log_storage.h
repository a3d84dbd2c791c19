// MemoryLogStorage: the Raft log kept in memory, for unit tests and the deterministic simulator.
//
// It follows the LogStorage contract exactly and is the model the RocksDB store is checked
// against, so it stays simple: a vector of entries after the compaction point. Nothing survives
// the object; a simulated crash keeps the object and drops only what the core had not yet
// handed over through append()/set_hard_state().
//
// Violated REQUIRES clauses and broken Raft invariants on the write side (log terms that
// decrease, a hard-state term that decreases, a second vote in one term, a malformed
// Membership) are the caller's mistakes and stop the process with LEDGER_ASSERT. Every write
// returns ok.
//
// Thread: one thread at a time, like every LogStorage.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "consensus/log_storage.h"

namespace consensus {

class MemoryLogStorage final : public LogStorage {
 public:
  // A fresh, empty log: hard state zero, compaction point {0, 0, initial_membership}.
  // REQUIRES: initial_membership is well formed (sorted, unique, disjoint).
  explicit MemoryLogStorage(Membership initial_membership);

  MemoryLogStorage(const MemoryLogStorage&) = default;
  MemoryLogStorage& operator=(const MemoryLogStorage&) = default;

  HardState hard_state() const override;
  CompactionPoint compaction_point() const override;
  Membership membership() const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  base::Result<uint64_t> term(uint64_t index) const override;
  base::Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi,
                                           uint64_t max_bytes) const override;

  base::Status append(const std::vector<Entry>& entries) override;
  base::Status set_hard_state(const HardState& state) override;
  base::Status set_membership(const Membership& membership) override;
  base::Status compact(uint64_t index, const Membership& membership) override;
  base::Status reset(const CompactionPoint& point) override;

 private:
  // Invariants: entries_[i].index == point_.index + 1 + i; terms never decrease along the log
  // and never fall below point_.term.
  HardState hard_state_;
  Membership membership_;
  CompactionPoint point_;
  std::vector<Entry> entries_;
};

}  // namespace consensus
