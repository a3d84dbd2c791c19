#include "consensus/memory_log_storage.h"

#include <string>
#include <utility>

#include "base/assert.h"
#include "consensus/internal/log_storage_checks.h"

namespace consensus {

MemoryLogStorage::MemoryLogStorage(Membership initial_membership)
    : membership_(std::move(initial_membership)) {
  LEDGER_ASSERT(internal::membership_well_formed(membership_));
  point_.membership = membership_;
}

HardState MemoryLogStorage::hard_state() const { return hard_state_; }

CompactionPoint MemoryLogStorage::compaction_point() const { return point_; }

Membership MemoryLogStorage::membership() const { return membership_; }

uint64_t MemoryLogStorage::first_index() const { return point_.index + 1; }

uint64_t MemoryLogStorage::last_index() const { return point_.index + entries_.size(); }

base::Result<uint64_t> MemoryLogStorage::term(uint64_t index) const {
  if (index < point_.index) {
    return base::Status::not_found("log index " + std::to_string(index) +
                                   " is compacted (compaction point " +
                                   std::to_string(point_.index) + ")");
  }
  if (index > last_index()) {
    return base::Status::not_found("log index " + std::to_string(index) +
                                   " is beyond the last index " + std::to_string(last_index()));
  }
  if (index == point_.index) return point_.term;
  return entries_[index - point_.index - 1].term;
}

base::Result<std::vector<Entry>> MemoryLogStorage::entries(uint64_t lo, uint64_t hi,
                                                           uint64_t max_bytes) const {
  LEDGER_ASSERT(lo <= hi);
  LEDGER_ASSERT(hi <= last_index() + 1);
  if (lo <= point_.index) {
    return base::Status::not_found("log index " + std::to_string(lo) +
                                   " is compacted (compaction point " +
                                   std::to_string(point_.index) + ")");
  }
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t index = lo; index < hi; ++index) {
    const Entry& entry = entries_[index - point_.index - 1];
    if (!out.empty() && bytes + entry.data.size() > max_bytes) break;
    bytes += entry.data.size();
    out.push_back(entry);
  }
  return out;
}

base::Status MemoryLogStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return base::Status::ok();
  const uint64_t front = entries.front().index;
  LEDGER_ASSERT(front > point_.index);
  LEDGER_ASSERT(front <= last_index() + 1);
  const uint64_t prev_term =
      front - 1 == point_.index ? point_.term : entries_[front - 1 - point_.index - 1].term;
  internal::check_append(entries, point_.index, last_index(), prev_term);
  entries_.resize(front - point_.index - 1);
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return base::Status::ok();
}

base::Status MemoryLogStorage::set_hard_state(const HardState& state) {
  internal::check_hard_state(hard_state_, state);
  hard_state_ = state;
  return base::Status::ok();
}

base::Status MemoryLogStorage::set_membership(const Membership& membership) {
  LEDGER_ASSERT(internal::membership_well_formed(membership));
  membership_ = membership;
  return base::Status::ok();
}

base::Status MemoryLogStorage::compact(uint64_t index, const Membership& membership) {
  LEDGER_ASSERT(index > point_.index);
  LEDGER_ASSERT(index <= last_index());
  LEDGER_ASSERT(internal::membership_well_formed(membership));
  const uint64_t dropped = index - point_.index;
  CompactionPoint point{index, entries_[dropped - 1].term, membership};
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(dropped));
  point_ = std::move(point);
  return base::Status::ok();
}

base::Status MemoryLogStorage::reset(const CompactionPoint& point) {
  LEDGER_ASSERT(internal::membership_well_formed(point.membership));
  entries_.clear();
  point_ = point;
  membership_ = point.membership;
  return base::Status::ok();
}

}  // namespace consensus
