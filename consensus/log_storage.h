// The Raft log as the core sees it, and as the owner (node/) persists it.
//
// The core only reads through LogStorage (entries that are stable on disk); entries it has not
// yet handed out for persistence live in the core's own memory. The owner writes: after it has
// persisted a Ready's entries and hard state, it calls append()/set_hard_state() on the same
// storage object, then advance() on the core. Implementations: MemoryLogStorage (tests, the
// simulator) and RocksLogStorage (production, own column families, synced writes).
//
// Thread: an object is used by one thread at a time (the node's Raft loop).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace consensus {

using NodeId = uint64_t;  // 0 means "none"
constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,      // application data (a batch of events in credledger), may be empty
  kConfChange = 1,  // a membership change; data is an encoded ConfChange
};

struct Entry {
  uint64_t index = 0;
  uint64_t term = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

// What Raft must remember across a crash before it answers anyone.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;

  bool operator==(const HardState&) const = default;
};

// Cluster membership. Voters decide; learners only replicate.
struct Membership {
  std::vector<NodeId> voters;    // sorted, unique
  std::vector<NodeId> learners;  // sorted, unique, disjoint from voters

  bool operator==(const Membership&) const = default;
};

// The point up to which the log was compacted: entries <= index are gone. term is the term of
// the entry at index, membership is the configuration in force at index.
struct CompactionPoint {
  uint64_t index = 0;
  uint64_t term = 0;
  Membership membership;

  bool operator==(const CompactionPoint&) const = default;
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // ---- read side (the core) ----

  // State as last persisted; a fresh store returns zeros and the initial membership given at
  // creation.
  virtual HardState hard_state() const = 0;
  virtual CompactionPoint compaction_point() const = 0;
  // The latest membership persisted with set_membership() (or the compaction point's).
  virtual Membership membership() const = 0;

  // Index of the first entry still stored (compaction_point().index + 1), and of the last entry
  // (compaction_point().index when empty).
  virtual uint64_t first_index() const = 0;
  virtual uint64_t last_index() const = 0;

  // Term of the entry at index. index == compaction_point().index answers its term.
  // kNotFound if index was compacted away ("compacted") or is beyond last_index().
  virtual base::Result<uint64_t> term(uint64_t index) const = 0;

  // Entries [lo, hi), at least one if any is in range, then as many as fit in max_bytes (sum of
  // data sizes). kNotFound when lo <= compaction_point().index; REQUIRES: hi <= last_index()+1.
  virtual base::Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const = 0;

  // ---- write side (the owner) ----

  // Appends entries, first truncating any stored entries at index >= entries.front().index.
  // REQUIRES: entries are contiguous and entries.front().index <= last_index() + 1 and
  // > compaction_point().index. Durable (synced) before it returns ok.
  virtual base::Status append(const std::vector<Entry>& entries) = 0;
  virtual base::Status set_hard_state(const HardState& state) = 0;
  virtual base::Status set_membership(const Membership& membership) = 0;
  // Drops entries <= index. REQUIRES: compaction_point().index < index <= last_index().
  // membership is the configuration in force at index.
  virtual base::Status compact(uint64_t index, const Membership& membership) = 0;
  // Forgets the whole log and starts again after `point` (a node that caught up by block sync
  // beyond everything it had). The hard state is kept.
  virtual base::Status reset(const CompactionPoint& point) = 0;
};

}  // namespace consensus
