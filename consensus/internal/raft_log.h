// The core's view of its log: entries stable in LogStorage followed by entries the core has
// appended but the owner has not yet persisted ("unstable").
//
// Unstable invariants (as etcd raft's log_unstable.go):
//   - entries_[i].index == offset_ + i, contiguous;
//   - offset_ <= storage.last_index() + 1 (an unstable suffix may replace stored entries; the
//     owner's append() truncates them when it persists);
//   - entries handed out by next_unstable() stay here until stable_to() confirms them, so a read
//     between ready() and advance() still sees them.
// RaftLog invariants: applied_ <= committed_ <= last_index().
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/status.h"
#include "consensus/log_storage.h"

namespace consensus::internal {

class Unstable {
 public:
  explicit Unstable(uint64_t offset) : offset_(offset) {}

  uint64_t offset() const { return offset_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::optional<uint64_t> last_index() const;
  std::optional<uint64_t> term(uint64_t index) const;
  // Entries [lo, hi), all within the unstable range.
  std::vector<Entry> slice(uint64_t lo, uint64_t hi) const;
  // Appends, first dropping any unstable entries at index >= entries.front().index.
  // REQUIRES: entries.front().index >= offset_ or the caller resets offset via truncate_and_append.
  void truncate_and_append(const std::vector<Entry>& entries);
  // Entries up to (index, term) are now in storage; ignored if the entry at index has since been
  // replaced by one of another term.
  void stable_to(uint64_t index, uint64_t term);
  // Drops everything and restarts at offset (after the owner reset the stored log).
  void reset(uint64_t offset);

 private:
  uint64_t offset_;
  std::vector<Entry> entries_;
};

class RaftLog {
 public:
  explicit RaftLog(LogStorage& storage);

  uint64_t first_index() const;
  uint64_t last_index() const;
  uint64_t last_term() const;
  // Term at index; kNotFound if compacted or beyond last_index().
  base::Result<uint64_t> term(uint64_t index) const;
  // Term at index, or 0 if unavailable (compacted or out of range).
  uint64_t term_or_zero(uint64_t index) const;
  bool match_term(uint64_t index, uint64_t term) const;
  // Raft §5.4.1: is a log ending at (last_index, last_term) at least as up to date as ours?
  bool is_up_to_date(uint64_t last_index, uint64_t last_term) const;

  // Entries [lo, hi) with at most max_bytes of data (at least one). kNotFound if lo was compacted.
  base::Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;

  // The follower side of AppendEntries. If our log has (prev_index, prev_term), appends the new
  // part of `entries` (truncating a conflicting suffix) and returns the index of the last entry
  // the message vouches for; otherwise nullopt. *first_changed receives the first index whose
  // content changed (0 if none).
  std::optional<uint64_t> maybe_append(uint64_t prev_index, uint64_t prev_term,
                                       const std::vector<Entry>& entries, uint64_t* first_changed);
  // Leader side: appends entries that continue the log. REQUIRES: contiguous after last_index().
  void append(const std::vector<Entry>& entries);

  // The last index <= index whose term is <= term (the conflict hint of etcd raft's
  // findConflictByTerm); the compaction point if everything above it is too new.
  uint64_t find_conflict_by_term(uint64_t index, uint64_t term) const;

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  // REQUIRES: committed_ <= index <= last_index(). Never decreases.
  void commit_to(uint64_t index);
  // REQUIRES: applied_ <= index <= committed_.
  void applied_to(uint64_t index);
  // Restart: the owner says how far it had applied. REQUIRES: <= committed_.
  void set_applied(uint64_t index);

  bool has_unstable() const { return !unstable_.entries().empty(); }
  std::vector<Entry> unstable_entries() const { return unstable_.entries(); }
  void stable_to(uint64_t index, uint64_t term) { unstable_.stable_to(index, term); }

  // Committed entries above `after` (up to max_bytes, at least one), for the owner to apply.
  std::vector<Entry> next_committed(uint64_t after, uint64_t max_bytes) const;

  // The owner replaced its stored log by `point` (catch-up beyond our log).
  void reset(const CompactionPoint& point);

  LogStorage& storage() const { return storage_; }

 private:
  LogStorage& storage_;
  Unstable unstable_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace consensus::internal
