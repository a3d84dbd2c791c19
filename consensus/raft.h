// The Raft consensus core: a pure state machine in the style of etcd raft.
//
// Inputs are peer messages (step), clock ticks (tick), client proposals (propose,
// propose_membership), linearizable read requests (read_index) and operator requests
// (transfer_leadership). Outputs are collected in a Ready. The core opens no files or sockets,
// reads no clock, starts no threads and takes no locks; time is a count of ticks and randomness
// comes from the Rng given at construction. The same state and inputs give the same outputs.
//
// Features: leader election with randomized timeouts, pre-vote, check-quorum (with a leader
// lease that makes voters ignore disruptive candidates), pipelined replication bounded by
// in-flight message count and bytes, conflict hints for fast back-off, commit by counting only
// entries of the leader's own term, ReadIndex reads, leadership transfer (TimeoutNow), learners,
// single-server membership changes, and compaction with catch-up notices.
//
// Membership. A change adds or removes one server at a time (Raft dissertation §4.1), encoded as
// the full new Membership in an EntryType::kConfChange entry. A configuration takes effect on a
// node as soon as the entry is APPENDED to its log, not when it commits: a node always uses the
// latest configuration in its log, and goes back to the previous one if that entry is truncated.
// Applying on append means every configuration a node can use differs by at most one server from
// any other in use at the same time, so majorities of both overlap; applying on commit would need
// extra rules because nodes learn of commits at different times. Two rules complete it: a leader
// proposes a change only after it has committed an entry of its own term (fixes the bug in the
// original single-server algorithm), and only when the previous change has committed. A leader
// that removed itself keeps leading (without counting itself) until the change commits, then
// steps down. A voter whose removal is appended but not committed may still campaign (counting
// only the new configuration's voters): otherwise a removed leader that lost its quorum, holding
// the longest log, could block every other candidate forever. The core derives membership from the log itself, starting at the compaction point
// (CompactionPoint::membership, or LogStorage::membership() when the log was never compacted);
// it never writes LogStorage.
//
// Compaction. The owner may compact stored entries up to the applied index:
//   storage.compact(i, *raft.membership_at(i)); raft.compacted(i);
// A peer whose next needed entry is compacted is reported in Ready::catch_ups; the owner brings
// that peer's node up to date by other means (in credledger: verified blocks), where the peer's
// owner calls storage.reset(point) then raft.reset_log(point) (see its REQUIRES); the leader's
// owner then calls report_catch_up(peer, point.index, true) and replication resumes after
// point.index. Until that report the leader sends the peer heartbeats only; a failed catch-up is
// reported with ok = false and yields a new notice.
//
// Thread: one thread at a time (the node's loop). Errors: calls return Status; bad input from a
// peer is a Status (kInvalidArgument), never an assertion. Our own mistakes hit LEDGER_ASSERT.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "consensus/internal/progress.h"
#include "consensus/internal/raft_log.h"
#include "consensus/log_storage.h"

namespace consensus {

// ---- Randomness ----

// Source of randomness for election timeouts. The simulator passes a seeded generator so a run
// replays exactly; production may pass the same generator seeded from the OS.
class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t next_u64() = 0;
  // Uniform in [0, bound). REQUIRES: bound > 0. The modulo bias is irrelevant at our bounds.
  uint64_t uniform(uint64_t bound) {
    LEDGER_ASSERT(bound > 0);
    return next_u64() % bound;
  }
};

// SplitMix64: tiny, fast, and good enough for timeouts and simulated faults.
class SplitMix64Rng final : public Rng {
 public:
  explicit SplitMix64Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64() override {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// ---- Messages ----

enum class MessageType : uint8_t {
  kPreVote,
  kPreVoteResponse,
  kVote,
  kVoteResponse,
  kAppend,
  kAppendResponse,
  kHeartbeat,
  kHeartbeatResponse,
  kTimeoutNow,
};

const char* message_type_name(MessageType type);

// One struct for every message; fields not listed for a type are zero. node/ encodes it.
//   kPreVote/kVote:      term (pre-vote: the term the sender would campaign in), index/log_term =
//                        candidate's last entry, transfer = campaign asked by the leader.
//   k*VoteResponse:      term, reject.
//   kAppend:             term, index/log_term = entry before `entries`, entries, commit.
//   kAppendResponse:     term; success: index = last index now matching. reject: index = the
//                        rejected prev index, reject_hint = our guess of the last matching
//                        index, log_term = our term at reject_hint (conflict hint).
//   kHeartbeat:          term, commit (never above the peer's match), read_seq.
//   kHeartbeatResponse:  term, read_seq echoed.
//   kTimeoutNow:         term; the receiver campaigns at once (leadership transfer).
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;
  uint64_t read_seq = 0;
  bool transfer = false;

  bool operator==(const Message&) const = default;
};

// ---- Membership changes ----

enum class MembershipChangeType : uint8_t { kAddVoter, kAddLearner, kPromoteLearner, kRemove };

struct MembershipChange {
  MembershipChangeType type = MembershipChangeType::kAddVoter;
  NodeId node = kNoNode;
};

// The data of a kConfChange entry: the full membership after the change.
std::string encode_membership(const Membership& membership);
// kCorruption if the bytes are not an encoded Membership.
base::Result<Membership> decode_membership(const std::string& data);
// The membership after applying change to current; kInvalidArgument if it does not apply
// (adding a member twice, removing a stranger, removing the last voter, ...).
base::Result<Membership> apply_membership_change(const Membership& current,
                                                 const MembershipChange& change);

// ---- Configuration ----

// Every bound the core enforces. validate() at startup; the simulator uses small values.
struct Config {
  NodeId id = kNoNode;
  // A follower that hears no leader for a random time in [election_timeout_ticks,
  // 2*election_timeout_ticks) starts an election. Must exceed heartbeat_ticks.
  uint64_t election_timeout_ticks = 10;
  // A leader sends heartbeats every heartbeat_ticks.
  uint64_t heartbeat_ticks = 1;
  // Appends in flight to one peer in replicate state, by count and by bytes of entry data.
  uint64_t max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = 64ULL << 20;
  // Entry data bytes per append message (at least one entry is always sent).
  uint64_t max_size_per_msg_bytes = 1ULL << 20;
  // Bytes of proposals a leader accepts beyond its commit index before answering kBusy.
  uint64_t max_uncommitted_bytes = 64ULL << 20;
  // Bytes of committed entries handed out in one Ready.
  uint64_t max_committed_bytes_per_ready = 64ULL << 20;
  // Read requests waiting for confirmation at once.
  uint64_t max_pending_reads = 4096;
  // Largest accepted proposal.
  uint64_t max_entry_bytes = 16ULL << 20;
  bool pre_vote = true;
  bool check_quorum = true;
  // Restart: the last index the owner applied (its state machine is durable). Committed entries
  // above it are handed out again.
  uint64_t applied = 0;

  base::Status validate() const;
};

// ---- Outputs ----

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* role_name(Role role);

// A ReadIndex request became safe: once the owner has applied up to index, a read of its state
// machine reflects every write committed before read_index() was called.
struct ReadState {
  uint64_t index = 0;
  std::string context;
};

// A peer needs entries from from_index on, which this node has compacted away.
struct CatchUp {
  NodeId peer = kNoNode;
  uint64_t from_index = 0;
};

// Volatile facts the owner may want to show or route by; not persisted.
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::kFollower;
  bool operator==(const SoftState&) const = default;
};

// One batch of work for the owner. The owner MUST handle a Ready in this order:
//   1. persist: storage.append(entries) (truncating a conflicting suffix), then
//      storage.set_hard_state(*hard_state) if set; synced to disk when must_sync;
//   2. send messages (only now: a vote or an append acknowledgement promises durable state);
//   3. apply committed_entries in order (they may include entries persisted in step 1);
//      serve read_states once applied >= index; start catch-up for catch_ups;
//   4. call advance().
// Ready() may be called again only after advance(). step()/tick()/propose() may be called between
// ready() and advance() (their effects land in the next Ready).
struct Ready {
  std::optional<SoftState> soft_state;  // set when changed
  std::optional<HardState> hard_state;  // set when changed
  std::vector<Entry> entries;
  bool must_sync = false;
  std::vector<Message> messages;
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
  // Contexts of read requests that will never complete (leadership was lost); retry elsewhere.
  std::vector<std::string> dropped_reads;
  std::vector<CatchUp> catch_ups;
  std::optional<Membership> membership;  // set when the configuration in use changed
};

// ---- The core ----

class Raft {
 public:
  // Builds a core from what storage holds (hard state, log, membership). storage and rng must
  // outlive the Raft. kInvalidArgument if config is invalid; kCorruption if storage is
  // inconsistent (e.g. a conf-change entry does not decode).
  static base::Result<std::unique_ptr<Raft>> create(const Config& config, LogStorage& storage,
                                                    Rng& rng);

  // A message from a peer. kInvalidArgument for a malformed message (ignored); kCorruption if the
  // message would overwrite a committed entry (a broken peer; ignored).
  base::Status step(const Message& message);
  // One unit of logical time.
  void tick();
  // Starts an election now if this node may (a voter, not leader). Used at bootstrap and tests.
  void campaign();

  // Appends data as a normal entry; returns its index (not a promise: only commit is).
  // kNotLeader if not leader; kBusy if a transfer is in progress or a bound is hit;
  // kInvalidArgument if data exceeds max_entry_bytes.
  base::Result<uint64_t> propose(std::string data);
  // Proposes a one-server membership change; returns the entry index. kBusy while the previous
  // change is uncommitted or before the leader committed an entry of its term;
  // kInvalidArgument if the change does not apply to the current membership.
  base::Result<uint64_t> propose_membership(const MembershipChange& change);
  // Requests a linearizable read; its ReadState (with this context) appears in a later Ready.
  // kNotLeader if not leader (node/ forwards to the leader); kBusy if max_pending_reads.
  base::Status read_index(std::string context);
  // Hands leadership to a caught-up voter. kNotLeader, kInvalidArgument (not a voter).
  base::Status transfer_leadership(NodeId to);

  // The owner compacted storage up to index (<= applied).
  base::Status compacted(uint64_t index);
  // Leader: the owner brought peer's log up to index by catch-up (or failed: ok = false).
  base::Status report_catch_up(NodeId peer, uint64_t index, bool ok);
  // Follower: the owner replaced the stored log by point (storage.reset(point) done).
  // REQUIRES (owner checks before storage.reset): the log does not already hold point's entry,
  // i.e. term_at(point.index) != point.term. If it does, entries after it may have been
  // acknowledged to the leader and must not be dropped; the owner then only reports back and the
  // leader's probing finds the match. kInvalidArgument if point.index <= commit index; kBusy
  // while a Ready is outstanding.
  base::Status reset_log(const CompactionPoint& point);

  bool has_ready() const;
  Ready ready();
  void advance();

  // Checks the core's invariants; a non-ok Status names the broken fact. Also remembers term
  // and vote so the next call can check that they moved only forward.
  base::Status check_invariants();

  // ---- observers ----
  NodeId id() const { return config_.id; }
  uint64_t term() const { return term_; }
  NodeId vote() const { return vote_; }
  Role role() const { return role_; }
  NodeId leader() const { return leader_; }
  uint64_t commit_index() const { return log_.committed(); }
  uint64_t last_applied() const { return log_.applied(); }
  uint64_t last_index() const { return log_.last_index(); }
  base::Result<uint64_t> term_at(uint64_t index) const { return log_.term(index); }
  base::Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi) const {
    return log_.entries(lo, hi, UINT64_MAX);
  }
  const Membership& membership() const;
  // The configuration in force at index (index >= compaction point).
  base::Result<Membership> membership_at(uint64_t index) const;
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  NodeId lead_transferee() const { return lead_transferee_; }
  // Leader only: the peer's match index (0 if unknown).
  uint64_t match_of(NodeId peer) const;
  const std::map<NodeId, internal::Progress>& progress() const { return progress_; }

 private:
  Raft(const Config& config, LogStorage& storage, Rng& rng);
  base::Status load();

  bool is_voter(NodeId id) const;
  bool is_member(NodeId id) const;
  // May this node start an election? See the definition for the removed-leader case.
  bool promotable() const;
  std::vector<NodeId> peers() const;  // members except self

  void become_follower(uint64_t term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(uint64_t term);
  void reset_randomized_election_timeout();
  void start_election(bool pre_vote, bool transfer);
  void tick_election();
  void tick_heartbeat();

  void send(Message message);
  // One append to `to` if its progress allows; false if nothing was sent.
  bool send_append_once(NodeId to, bool send_if_empty);
  // Appends to `to` until its window is full or nothing is left.
  void send_append(NodeId to, bool send_if_empty);
  void send_heartbeat(NodeId to);
  void broadcast_append();
  void broadcast_heartbeat();
  bool maybe_commit();
  void append_own(std::vector<Entry> entries);
  void abort_transfer();
  void drop_pending_reads();
  void register_reads(std::vector<std::string> contexts);
  void release_reads();
  void on_own_term_commit();

  base::Status step_leader(const Message& m);
  base::Status step_candidate(const Message& m);
  base::Status step_follower(const Message& m);
  void handle_vote_request(const Message& m);
  base::Status handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  void handle_timeout_now(const Message& m);
  base::Status validate_message(const Message& m) const;

  // Membership tracking. conf_entries_ holds (index, membership) of the kConfChange entries in
  // the log above the compaction point, ascending; base_membership_ is the one in force at the
  // compaction point. The configuration in use is the last of them.
  base::Status on_entries_appended(uint64_t first_changed, const std::vector<Entry>& entries);
  void membership_changed();
  void check_self_removal();

  Config config_;
  Rng& rng_;
  internal::RaftLog log_;

  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;

  Membership base_membership_;
  std::vector<std::pair<uint64_t, Membership>> conf_entries_;

  // Leader state. progress_ has one entry per member including self.
  std::map<NodeId, internal::Progress> progress_;
  NodeId lead_transferee_ = kNoNode;
  uint64_t uncommitted_bytes_ = 0;
  uint64_t leader_start_index_ = 0;  // index of the leader's first (empty) entry
  bool committed_in_term_ = false;

  // Candidate state: 1 granted, 0 rejected.
  std::map<NodeId, int> votes_;

  // Reads. A read waits for a heartbeat round numbered read_seq (all rounds after it count too).
  struct PendingRead {
    uint64_t seq;
    uint64_t index;
    std::string context;
  };
  uint64_t read_seq_ = 0;
  std::vector<PendingRead> pending_reads_;
  std::vector<std::string> reads_before_commit_;  // waiting for an own-term commit

  // Timers in ticks.
  uint64_t election_elapsed_ = 0;
  uint64_t heartbeat_elapsed_ = 0;
  uint64_t randomized_election_timeout_ = 0;

  // Output accumulated for the next Ready.
  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  std::vector<std::string> dropped_reads_;
  std::vector<CatchUp> catch_ups_;
  bool membership_dirty_ = false;

  // What the last Ready handed out, to detect changes and to advance.
  HardState prev_hard_state_;
  SoftState prev_soft_state_;
  bool ready_outstanding_ = false;
  uint64_t ready_last_entry_index_ = 0;
  uint64_t ready_last_entry_term_ = 0;
  uint64_t ready_applied_to_ = 0;
  // Highest committed index handed out for applying (may run ahead of applied until advance()).
  uint64_t handed_out_applied_ = 0;

  // For check_invariants().
  uint64_t checked_term_ = 0;
  NodeId checked_vote_ = kNoNode;
};

}  // namespace consensus
