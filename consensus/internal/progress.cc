#include "consensus/internal/progress.h"

#include <algorithm>

namespace consensus::internal {

void Inflights::add(uint64_t last_index, uint64_t bytes) {
  LEDGER_ASSERT(!full());
  LEDGER_ASSERT(messages_.empty() || messages_.back().last_index < last_index);
  messages_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void Inflights::free_le(uint64_t index) {
  while (!messages_.empty() && messages_.front().last_index <= index) {
    LEDGER_ASSERT(bytes_ >= messages_.front().bytes);
    bytes_ -= messages_.front().bytes;
    messages_.pop_front();
  }
}

void Inflights::free_first_one() {
  if (messages_.empty()) return;
  bytes_ -= messages_.front().bytes;
  messages_.pop_front();
}

void Inflights::reset() {
  messages_.clear();
  bytes_ = 0;
}

bool Inflights::full() const {
  return messages_.size() >= max_count_ || (!messages_.empty() && bytes_ >= max_bytes_);
}

bool Progress::maybe_update(uint64_t index) {
  bool updated = false;
  if (match < index) {
    match = index;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::maybe_decrease_to(uint64_t rejected, uint64_t hint) {
  if (state == ProgressState::kReplicate) {
    // In replicate state the only rejection that matters is for an append at or above what we
    // know matches; older ones were overtaken by later acknowledgements.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe the leader sent one append with prev index next-1; any other rejection is stale.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max(std::min(rejected, hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::become_probe() {
  state = ProgressState::kProbe;
  probe_sent = false;
  catch_up_from = 0;
  inflights.reset();
  next = std::max(next, match + 1);
}

void Progress::become_replicate() {
  state = ProgressState::kReplicate;
  probe_sent = false;
  catch_up_from = 0;
  inflights.reset();
  next = match + 1;
}

void Progress::become_catch_up(uint64_t from) {
  state = ProgressState::kCatchUp;
  probe_sent = false;
  catch_up_from = from;
  inflights.reset();
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflights.full();
    case ProgressState::kCatchUp: return true;
  }
  return true;
}

void Progress::sent_entries(uint64_t last_index, uint64_t entry_count, uint64_t bytes) {
  if (state == ProgressState::kReplicate) {
    if (entry_count > 0) {
      next = last_index + 1;
      inflights.add(last_index, bytes);
    }
  } else if (state == ProgressState::kProbe) {
    probe_sent = true;
  }
}

}  // namespace consensus::internal
