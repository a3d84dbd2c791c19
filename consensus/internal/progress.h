// What a leader knows about one peer's log, and how much it may send it.
//
// A leader keeps one Progress per member (itself included, so the quorum arithmetic needs no
// special case). The peer moves between three states:
//   kProbe:     the leader does not know where the peer's log matches; it sends one append and
//               waits for the answer (or a heartbeat answer) before sending the next.
//   kReplicate: the peer accepted an append; the leader streams appends optimistically, bounded
//               by Inflights (count and bytes).
//   kCatchUp:   the entries the peer needs were compacted away; the owner was told (Ready
//               catch_ups) and the leader only sends heartbeats until the owner reports back.
#pragma once

#include <cstdint>
#include <deque>

#include "base/assert.h"

namespace consensus::internal {

// The append messages sent to one peer and not yet acknowledged, oldest first.
// Invariants: count() <= max_count_; bytes() is the sum of the entries' byte sizes;
// last indexes are strictly increasing.
class Inflights {
 public:
  Inflights(uint64_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  // REQUIRES: !full() and last_index above every tracked message.
  void add(uint64_t last_index, uint64_t bytes);
  // Forgets every message whose last index is <= index (the peer acknowledged up to index).
  void free_le(uint64_t index);
  void reset();
  // Forgets the oldest message (its acknowledgement was probably lost).
  void free_first_one();

  // Full when either bound is reached; one message always fits into an empty window, so a single
  // entry larger than max_bytes still makes progress.
  bool full() const;
  uint64_t count() const { return messages_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct InFlight {
    uint64_t last_index;
    uint64_t bytes;
  };
  uint64_t max_count_;
  uint64_t max_bytes_;
  std::deque<InFlight> messages_;
  uint64_t bytes_ = 0;
};

enum class ProgressState { kProbe, kReplicate, kCatchUp };

// Invariants: match < next; in kCatchUp, catch_up_from is the first index the peer lacks.
struct Progress {
  Progress(uint64_t next_index, uint64_t max_inflight_msgs, uint64_t max_inflight_bytes)
      : next(next_index), inflights(max_inflight_msgs, max_inflight_bytes) {}

  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  // kProbe: an append is outstanding; do not send another until an answer arrives.
  bool probe_sent = false;
  uint64_t catch_up_from = 0;
  // Heard from since the last check-quorum round.
  bool recent_active = false;
  bool is_learner = false;
  // Highest read-confirmation round this peer acknowledged (see Raft::read_index).
  uint64_t read_ack_seq = 0;
  Inflights inflights;

  // The peer acknowledged up to index; returns false if that told us nothing new.
  bool maybe_update(uint64_t index);
  // A rejection for the append that followed `rejected`; `hint` is the leader-side index at
  // which to retry. Returns false if the rejection is stale.
  bool maybe_decrease_to(uint64_t rejected, uint64_t hint);
  void become_probe();
  void become_replicate();
  void become_catch_up(uint64_t from);
  // May the leader send an append now?
  bool is_paused() const;
  // After sending an append with `count` entries ending at last_index.
  void sent_entries(uint64_t last_index, uint64_t entry_count, uint64_t bytes);
};

}  // namespace consensus::internal
