#include "consensus/internal/raft_log.h"

#include <algorithm>

#include "base/assert.h"

namespace consensus::internal {

// ---- Unstable ----

std::optional<uint64_t> Unstable::last_index() const {
  if (entries_.empty()) return std::nullopt;
  return offset_ + entries_.size() - 1;
}

std::optional<uint64_t> Unstable::term(uint64_t index) const {
  if (index < offset_ || index >= offset_ + entries_.size()) return std::nullopt;
  return entries_[index - offset_].term;
}

std::vector<Entry> Unstable::slice(uint64_t lo, uint64_t hi) const {
  LEDGER_ASSERT(lo >= offset_);
  LEDGER_ASSERT(lo <= hi);
  LEDGER_ASSERT(hi <= offset_ + entries_.size());
  return std::vector<Entry>(entries_.begin() + (lo - offset_), entries_.begin() + (hi - offset_));
}

void Unstable::truncate_and_append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  uint64_t first = entries.front().index;
  if (first == offset_ + entries_.size()) {
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  } else if (first <= offset_) {
    // Replaces all unstable entries and a suffix of the stored ones; the owner's append()
    // truncates the stored suffix when it persists these.
    offset_ = first;
    entries_ = entries;
  } else {
    entries_.resize(first - offset_);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
}

void Unstable::stable_to(uint64_t index, uint64_t term) {
  std::optional<uint64_t> t = this->term(index);
  // The entry was replaced after it was handed out; the newer one is still to be persisted.
  if (!t || *t != term) return;
  entries_.erase(entries_.begin(), entries_.begin() + (index + 1 - offset_));
  offset_ = index + 1;
}

void Unstable::reset(uint64_t offset) {
  entries_.clear();
  offset_ = offset;
}

// ---- RaftLog ----

RaftLog::RaftLog(LogStorage& storage)
    : storage_(storage), unstable_(storage.last_index() + 1) {
  HardState hs = storage.hard_state();
  // A commit index that was persisted together with its entries; a store that lost entries
  // behind its commit index is corrupt and must not be used.
  LEDGER_ASSERT(hs.commit <= storage.last_index());
  committed_ = std::max(hs.commit, storage.first_index() - 1);
  applied_ = storage.first_index() - 1;
}

uint64_t RaftLog::first_index() const { return storage_.first_index(); }

uint64_t RaftLog::last_index() const {
  if (auto last = unstable_.last_index()) return *last;
  return storage_.last_index();
}

uint64_t RaftLog::last_term() const {
  base::Result<uint64_t> t = term(last_index());
  LEDGER_ASSERT(t.is_ok());
  return *t;
}

base::Result<uint64_t> RaftLog::term(uint64_t index) const {
  uint64_t compacted = storage_.first_index() - 1;
  if (index < compacted) return base::Status::not_found("index compacted");
  if (auto t = unstable_.term(index)) return *t;
  if (index > last_index()) return base::Status::not_found("index beyond last index");
  if (index >= unstable_.offset()) return base::Status::not_found("index beyond last index");
  return storage_.term(index);
}

uint64_t RaftLog::term_or_zero(uint64_t index) const {
  base::Result<uint64_t> t = term(index);
  return t.is_ok() ? *t : 0;
}

bool RaftLog::match_term(uint64_t index, uint64_t term) const {
  base::Result<uint64_t> t = this->term(index);
  return t.is_ok() && *t == term;
}

bool RaftLog::is_up_to_date(uint64_t last_index, uint64_t last_term) const {
  uint64_t our_term = this->last_term();
  return last_term > our_term || (last_term == our_term && last_index >= this->last_index());
}

base::Result<std::vector<Entry>> RaftLog::entries(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  if (lo < first_index()) return base::Status::not_found("index compacted");
  LEDGER_ASSERT(lo <= hi);
  LEDGER_ASSERT(hi <= last_index() + 1);
  std::vector<Entry> out;
  if (lo == hi) return out;
  uint64_t offset = unstable_.offset();
  uint64_t bytes = 0;
  if (lo < offset) {
    uint64_t stored_hi = std::min(hi, offset);
    ASSIGN_OR_RETURN(std::vector<Entry> stored, storage_.entries(lo, stored_hi, max_bytes));
    for (const Entry& e : stored) bytes += e.data.size();
    bool complete = !stored.empty() && stored.back().index + 1 == stored_hi;
    out = std::move(stored);
    if (!complete) return out;  // byte limit reached inside storage
  }
  if (hi > offset) {
    for (const Entry& e : unstable_.slice(std::max(lo, offset), hi)) {
      if (!out.empty() && bytes + e.data.size() > max_bytes) break;
      bytes += e.data.size();
      out.push_back(e);
    }
  }
  return out;
}

std::optional<uint64_t> RaftLog::maybe_append(uint64_t prev_index, uint64_t prev_term,
                                              const std::vector<Entry>& entries,
                                              uint64_t* first_changed) {
  *first_changed = 0;
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  uint64_t last_new = prev_index + entries.size();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (match_term(e.index, e.term)) continue;
    // First entry we lack or that conflicts: everything from here replaces our suffix.
    *first_changed = e.index;
    unstable_.truncate_and_append(std::vector<Entry>(entries.begin() + i, entries.end()));
    break;
  }
  return last_new;
}

void RaftLog::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  LEDGER_ASSERT(entries.front().index == last_index() + 1);
  LEDGER_ASSERT(entries.front().index > committed_);
  unstable_.truncate_and_append(entries);
}

uint64_t RaftLog::find_conflict_by_term(uint64_t index, uint64_t term) const {
  uint64_t compacted = storage_.first_index() - 1;
  index = std::min(index, last_index());
  while (index > compacted) {
    base::Result<uint64_t> t = this->term(index);
    if (!t.is_ok() || *t <= term) return index;
    --index;
  }
  return compacted;
}

void RaftLog::commit_to(uint64_t index) {
  if (index <= committed_) return;
  LEDGER_ASSERT(index <= last_index());
  committed_ = index;
}

void RaftLog::applied_to(uint64_t index) {
  LEDGER_ASSERT(index >= applied_);
  LEDGER_ASSERT(index <= committed_);
  applied_ = index;
}

void RaftLog::set_applied(uint64_t index) {
  LEDGER_ASSERT(index <= committed_);
  applied_ = std::max(applied_, index);
}

std::vector<Entry> RaftLog::next_committed(uint64_t after, uint64_t max_bytes) const {
  if (committed_ <= after) return {};
  base::Result<std::vector<Entry>> ents = entries(after + 1, committed_ + 1, max_bytes);
  // The owner compacts only up to what it applied, so committed entries above `after` exist.
  LEDGER_ASSERT(ents.is_ok());
  return std::move(ents).value();
}

void RaftLog::reset(const CompactionPoint& point) {
  LEDGER_ASSERT(point.index > committed_);
  LEDGER_ASSERT(storage_.first_index() == point.index + 1);
  unstable_.reset(point.index + 1);
  committed_ = point.index;
  applied_ = point.index;
}

}  // namespace consensus::internal
