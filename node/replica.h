// node::Replica: what an agency node decides, as logic without I/O (DESIGN.md decision 13).
//
// A Replica owns the Raft core and the node's part of every event's way to the chain: the
// submit queue and group commit, the waiters that turn a block's receipts into answers, reads
// (ReadIndex and waiting for apply), applying committed entries as blocks, compaction, and
// block sync as data. It opens no socket, starts no thread, reads no clock and never waits:
// time comes in with tick() and submit(), signature checks go out as VerifyJobs and come back
// with verified(), and every outcome is an Effect the owner carries out. credd (node::Node)
// runs one on its Asio loop with gRPC, RocksDB and a verify pool; the simulator (tests/sim)
// runs several with a seeded network, clock and crashes. Same inputs, same outputs.
//
// The way of one event (a Submit reaching the leader; thread in brackets):
//   1. [gRPC]   LedgerService.Submit builds a SubmitCall; the verify pool checks signatures and
//               static rules of all its events in chunks (ledger::Verifier).
//   2. [loop]   Replica::submit(): duplicate and stateful checks against the applied ledger and
//               what is in flight; the event joins the batch; the caller now WAITS in waiters_.
//   3. [loop]   flush (batch full, or the batch delay the shell timed): one Raft entry, one block.
//   4. [loop]   process(): the entry is persisted (synced) and sent; once a quorum has it, it
//               commits and is applied: one atomic RocksDB write of block, index and view.
//   5. [loop]   the block's receipts answer the waiters: the event is ACKNOWLEDGED only here,
//               after its block is applied on this node from a committed, synced entry.
//   6. [gRPC]   the reply (SubmitReply effect) finishes the call.
// Three hand-offs (gRPC -> pool -> loop -> gRPC). A Submit that reaches a follower first is
// forwarded by the shell to the leader after step 1 (one more gRPC call; the follower's loop
// only records which leader it went to, so a leader change can send it on).
// A follower's entries take step 4 too; their signatures go to the pool (a VerifyJob) when they
// are appended and apply waits for the result in apply_queue_, so the loop never blocks on it.
//
// Ownership: everything here belongs to the one thread that calls the Replica (credd's loop).
// The Ledger is shared with readers on other threads (it is thread-safe for reads); the
// LogStorage is the Replica's alone.
//
// Storage: writes (Raft log, hard state, blocks) happen inside process(), synchronously, in the
// order consensus/raft.h requires: persist, then hand out messages, then apply, then advance. A
// failed write halts the replica (Effects::storage_failure); the owner decides whether to stop
// the process or to reopen() once the disk accepts writes again.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "consensus/log_storage.h"
#include "consensus/raft.h"
#include "ledger/ledger.h"
#include "node/config.h"
#include "proto/api.pb.h"

namespace node {

namespace v1 = credledger::v1;

// Names a client call the owner keeps (a Submit, a read).
using CallId = uint64_t;

// A Submit whose events passed the static checks (signatures, format, rules that need no
// ledger). REQUIRES: events, parsed and hashes have one element per event, in request order.
struct CheckedSubmit {
  CallId id = 0;
  std::vector<v1::SignedEvent> events;
  std::vector<v1::CreditEvent> parsed;
  std::vector<ledger::Hash> hashes;
  int64_t deadline_ms = 0;  // on the clock the owner passes to tick()
};

struct SubmitReply {
  CallId id = 0;
  // kInvalidArgument / kAlreadyExists (refused, nothing changed), kBusy (overloaded),
  // kUnavailable (not committed in time, leadership moved: a retry is safe), kNotLeader (the
  // owner forwards it), kIOError (a lookup failed).
  base::Status status;
  std::vector<v1::Receipt> receipts;  // one per event when status is ok
};

struct ReadReply {
  CallId id = 0;
  base::Status status;  // ok: a local read now reflects every write committed before the call
};

// Signatures of a block entry's events to check off the loop (a follower's appended entries,
// or committed ones handed out again after a restart). Answer with verified(id, states).
struct VerifyJob {
  uint64_t id = 0;
  std::shared_ptr<const v1::EntryPayload> payload;  // payload->block().events
  std::vector<size_t> indexes;                      // the events to check
};

struct AppliedBlock {
  v1::Block block;                                  // header and receipts (events not copied)
  std::shared_ptr<const v1::EntryPayload> payload;  // the events, payload->block()
};

// What the owner must do after a call into the Replica, in this order: send messages (their
// state is already durable), run verify jobs, start catch-ups, then hand out the rest.
struct Effects {
  std::vector<consensus::Message> messages;
  std::vector<VerifyJob> verify_jobs;
  std::vector<SubmitReply> submit_replies;
  std::vector<ReadReply> read_replies;
  std::vector<AppliedBlock> applied;  // in height order, each exactly once
  size_t proposals = 0;               // Raft entries proposed (for the metrics)
  // Leader: peers behind the compaction point, to bring up by block sync; answer with
  // catch_up_done().
  std::vector<consensus::NodeId> catch_ups;
  // Member addresses the log recorded (persist them; connect if a member).
  std::vector<v1::MemberAddress> addresses;
  std::optional<consensus::Membership> membership;  // the configuration in use changed
  std::optional<consensus::NodeId> leader;          // the leader changed (0 = none known)
  std::optional<bool> is_leader;                    // this node's leadership changed
  // Call flush(now) after this many microseconds (the group-commit delay); 0 = no timer.
  uint64_t flush_after_us = 0;
  // A write failed (what, status): the replica is halted until reopen().
  std::optional<std::pair<std::string, base::Status>> storage_failure;

  void merge(Effects&& other);
};

// Where the Replica asks its environment something it cannot know itself.
struct ReplicaEnv {
  // kBusy when the disk is too full to write (storage_faults.cc); ok otherwise. May be empty.
  std::function<base::Status()> check_disk_space;
  // Makes every block written so far durable (before compaction drops their entries).
  std::function<base::Status()> sync_blocks;
};

class Replica {
 public:
  // REQUIRES: ledger, rng and env outlive the Replica; call open() before anything else.
  Replica(NodeConfig config, ledger::Ledger& ledger, consensus::Rng& rng, ReplicaEnv env);
  ~Replica();

  // (Re)creates the Raft core on `storage` from what it holds, as after a restart; pending
  // calls and reads are answered kUnavailable first. Clears a halt.
  base::Status open(std::unique_ptr<consensus::LogStorage> storage, Effects& out);

  // ---- inputs (each returns what to do) ----
  Effects tick(int64_t now_ms);
  Effects step(const std::vector<consensus::Message>& messages);
  // On a non-leader: a SubmitReply with kNotLeader (the owner forwards the call). The call is
  // answered exactly once, by a SubmitReply in these or later Effects.
  Effects submit(CheckedSubmit call, int64_t now_ms);
  // Proposes the batch now (the group-commit timer fired).
  Effects flush(int64_t now_ms);
  // Answered (ReadReply) once a local read reflects every write committed before this call.
  Effects read_index(CallId id);
  Effects verified(uint64_t job_id, std::vector<ledger::SignatureState> states);
  // Leader: a block sync of `peer` ended (ok: its log now resumes after `index`).
  Effects catch_up_done(consensus::NodeId peer, uint64_t index, bool ok);
  // Any owner action on the core (admin) is followed by this to collect what it caused.
  Effects process();

  // ---- block sync, on the follower asked to catch up ----
  // Applies one block the leader sent, verified by replaying it (every header field, receipt
  // and root must come out the same).
  base::Status apply_synced_block(const v1::Block& block);
  // After the blocks up to the leader's compaction point: resets the Raft log to `point`
  // unless this node caught up meanwhile or its log already holds the point's entry.
  base::Status finish_sync(const consensus::CompactionPoint& point, Effects& out);

  // ---- compaction ----
  // Compacts the Raft log up to min(index, applied): the blocks are synced first.
  base::Status compact(uint64_t index);
  consensus::CompactionPoint compaction_point() const;
  uint64_t compaction_height() const { return compaction_height_; }

  // ---- the owner's view ----
  bool halted() const { return halted_; }
  // Stops driving the core (a write failed and the owner keeps the process): batched events
  // and pending reads are answered kUnavailable with `why`.
  Effects halt(const std::string& why);
  // The node stops: every call and read still waiting is answered kUnavailable with `why`.
  Effects stop(const std::string& why);
  bool is_leader() const { return is_leader_; }
  consensus::NodeId leader() const;
  // For admin and status: membership changes, transfers, progress. REQUIRES: open().
  consensus::Raft& raft() { return *raft_; }
  const consensus::Raft& raft() const { return *raft_; }
  // Hashes this node checked before forwarding them: a block that brings them back need not
  // check them again. forget_verified() when the forward failed.
  void note_verified(const std::vector<ledger::Hash>& hashes);
  void forget_verified(const std::vector<ledger::Hash>& hashes);

 private:
  struct Call;
  struct Pending;
  void drain(Effects& out);
  void queue_committed(const consensus::Entry& entry, Effects& out);
  void apply_ready(Effects& out);
  bool apply_entry(Pending& pending, Effects& out);
  void on_block_applied(const v1::Block& block, std::shared_ptr<const v1::EntryPayload> payload,
                        Effects& out);
  void serve_ready_reads(Effects& out);
  void preverify(const consensus::Entry& entry, Effects& out);
  // A block entry's hashes and the states known from verified_; a VerifyJob for the rest if at
  // least job_events_min are unchecked (fewer are left to apply).
  std::shared_ptr<Pending> block_pending(const consensus::Entry& entry,
                                         std::shared_ptr<const v1::EntryPayload> payload,
                                         size_t job_events_min, Effects& out);
  void admit(std::shared_ptr<Call> call, Effects& out);
  void flush_batch(Effects& out);
  void answer_call(const std::shared_ptr<Call>& call, Effects& out);
  void fail(const std::shared_ptr<Call>& call, base::Status status, Effects& out);
  void on_leadership_change(bool leader_now, Effects& out);
  void storage_failed(const std::string& what, const base::Status& status, Effects& out);
  void maybe_auto_compact(Effects& out);
  base::Status unavailable_timed_out() const;

  NodeConfig config_;
  ledger::Ledger& ledger_;
  consensus::Rng& rng_;
  ReplicaEnv env_;
  std::unique_ptr<consensus::LogStorage> storage_;
  std::unique_ptr<consensus::Raft> raft_;
  int64_t now_ms_ = 0;  // the latest time an input brought
  bool halted_ = false;
  bool is_leader_ = false;
  consensus::NodeId known_leader_ = 0;
  uint64_t compaction_height_ = 0;

  // The submit queue. Invariants: an event id is in inflight_ from its proposal until the
  // block that holds it is applied (or leadership is lost); every Call with pending > 0 has one
  // Waiter per unanswered event in waiters_, and is in calls_ (deadline order).
  std::vector<v1::SignedEvent> batch_;
  uint64_t batch_bytes_ = 0;
  bool flush_requested_ = false;  // a flush_after_us was handed out and not yet flushed
  std::unordered_map<std::string, ledger::Hash> inflight_;  // event_id -> hash
  std::set<ledger::Hash> verified_;  // checked here before proposing or forwarding
  struct Waiter {
    std::shared_ptr<Call> call;
    size_t index;
  };
  std::unordered_map<std::string, std::vector<Waiter>> waiters_;
  std::deque<std::shared_ptr<Call>> calls_;

  // Reads: ReadIndex context -> call, then (index to reach) -> call.
  uint64_t read_counter_ = 0;
  std::map<std::string, CallId> reads_waiting_index_;
  std::multimap<uint64_t, CallId> reads_waiting_apply_;

  // Committed entries in log order, each waiting for its signatures (a VerifyJob) before it is
  // applied; the head of the queue is applied as soon as it is ready, never out of order.
  std::deque<std::shared_ptr<Pending>> apply_queue_;
  // Appended block entries whose signatures are being checked, by log index (a later append at
  // the same index replaces one; apply compares terms).
  std::map<uint64_t, std::shared_ptr<Pending>> preverified_;
  std::map<uint64_t, std::shared_ptr<Pending>> jobs_;  // by VerifyJob id
  uint64_t job_counter_ = 0;

  std::set<consensus::NodeId> catching_up_;
};

}  // namespace node
