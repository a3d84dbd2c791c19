// credd: one agency node. Raft and the ledger joined, served over gRPC.
//
// Threads and ownership:
//   - the loop thread (one Asio io_context) owns the Raft core, its log storage, the chain head,
//     the proposal batch, the submit waiters and pending reads; nothing else touches them;
//   - a verify pool checks signatures and static rules of submitted events before they reach
//     the loop, and of block events on followers before apply;
//   - gRPC handler threads only read the ledger (RocksDB is thread-safe and each block is one
//     atomic write) or post work to the loop;
//   - the peer transport has one sender thread per peer.
// The loop handles each Raft Ready in the order consensus/raft.h requires: persist (synced),
// send, apply, advance.
#pragma once

#include <utility>  // before Asio: its C++20 headers use std::exchange

#include <boost/asio.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "consensus/raft.h"
#include "consensus/rocks_log_storage.h"
#include "ledger/checkpoint.h"
#include "ledger/consortium.h"
#include "ledger/db.h"
#include "ledger/ledger.h"
#include "node/auth.h"
#include "node/config.h"
#include "node/metrics.h"
#include "node/replica.h"
#include "node/transport.h"
#include "proto/api.grpc.pb.h"

namespace node {

namespace v1 = credledger::v1;

// One Submit call in flight. `done` is called exactly once, from any thread.
struct SubmitCall {
  Caller caller;
  std::vector<v1::SignedEvent> events;
  std::vector<ledger::StaticCheck> checks;
  std::vector<ledger::Hash> hashes;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;
  int64_t deadline_ms = 0;  // the same deadline on now_ms()'s clock, for the Replica
  std::function<void(const grpc::Status&, std::vector<v1::Receipt>)> done;
  CallId id = 0;          // loop thread: its number in submits_ while the Replica has it
  bool finished = false;  // loop thread only, once the call reached the loop
};

// Watches one subject; the service implements it over a gRPC server stream.
class SubjectWatcher {
 public:
  virtual ~SubjectWatcher() = default;
  // Called from the loop thread after a block that touched the subject.
  virtual void changed() = 0;
};

class Node {
 public:
  static base::Result<std::unique_ptr<Node>> create(NodeConfig config);
  ~Node();

  // Binds the gRPC server and starts the loop. kUnavailable if the address is taken.
  base::Status start();
  // Graceful: stops accepting calls, finishes the loop, closes the database.
  void stop();
  // Blocks until stop() (or a fatal error) ends the node.
  void wait();

  // ---- for the services (any thread) ----
  const NodeConfig& config() const { return config_; }
  const ledger::Ledger& ledger() const { return *ledger_; }
  const ledger::Consortium& consortium() const { return *consortium_; }
  Metrics& metrics() { return metrics_; }
  bool insecure() const { return config_.tls.insecure_plaintext; }
  Caller caller_of(const grpc::ServerContextBase& context) const {
    return node::caller_of(context, insecure());
  }

  void submit(std::shared_ptr<SubmitCall> call);
  // Calls then(ok) on the loop thread once a local read reflects every write committed before
  // this call (ReadIndex). Not leader: then(kNotLeader) and the caller forwards to leader().
  void after_read_index(std::function<void(const base::Status&)> then);
  // The leader's id (0 if unknown) and a channel to it (null if unknown or this node).
  consensus::NodeId leader() const { return leader_id_.load(); }
  std::shared_ptr<grpc::Channel> channel_to(consensus::NodeId id) const;
  std::shared_ptr<grpc::ChannelCredentials> peer_credentials() const { return peer_credentials_; }

  void cluster_status(std::function<void(v1::ClusterStatusResponse)> then);
  enum class AdminOp { kAddLearner, kPromote, kRemove, kTransfer, kCompact };
  void admin(AdminOp op, consensus::NodeId id, std::string address,
             std::function<void(const base::Status&, std::string)> then);

  // Raft messages from a peer's stream.
  void deliver(std::vector<consensus::Message> messages);
  // A leader asks this node to catch up by block sync (runs on a helper thread).
  void catch_up(v1::CatchUpRequest request, std::function<void(v1::CatchUpResponse)> then);

  // Watchers of a subject; false if max_watchers is reached.
  bool add_watcher(const v1::Subject& subject, SubjectWatcher* watcher);
  void remove_watcher(const v1::Subject& subject, SubjectWatcher* watcher);

  // Checkpoints (ledger/checkpoint.h). The node cosigns its head every checkpoint_interval_ms
  // and asks its peers to cosign the same body; a checkpoint cosigned by a quorum of agencies
  // becomes trusted, and its maker shares it with every peer, which keeps it once it has
  // applied that height and found the same body. A share that fails is sent again every
  // checkpoint round until the peer acknowledges it, so a peer that was down or slow when a
  // checkpoint was made still learns it (the last kRecentCheckpointsMax are kept owed). So every node keeps every quorum checkpoint it
  // made or learned, and answers GetCheckpoint and proofs for the same heights. A stored note
  // only ever gains valid cosignatures: it is never replaced by one with fewer.
  // Only trusted checkpoints are served: height 0 = the latest trusted one; kNotFound if there
  // is none, or the one at `height` is not (yet) cosigned by a quorum.
  base::Result<ledger::CosignedCheckpoint> checkpoint(uint64_t height) const;
  // A peer's request: cosign `body` if this node's own block at `height` gives the same body.
  // kUnavailable if not applied yet; kInvalidArgument if the body differs (logged as evidence);
  // kNotFound if this node has no agency key.
  base::Result<v1::CosignResponse> cosign_peer_checkpoint(uint64_t height, const std::string& body);
  // A peer shares a checkpoint a quorum cosigned (PeerService.ShareCheckpoint). Any thread;
  // `then` runs on the loop thread with true if the note is kept (merged into this node's note
  // of that height), false if this node has not applied that height yet (it keeps the note
  // pending and adopts it once applied), kInvalidArgument if the note is malformed, not trusted,
  // or not of this node's chain (logged as fork evidence).
  void learn_checkpoint(std::string note, std::function<void(base::Result<bool>)> then);

  // Queries about individuals are recorded (who, when, which subject) for auditors; a query
  // about an organisation is not (callers need not check the subject's kind). An error (the
  // record could not be written, e.g. the disk is full) means the query must be refused: no
  // query about an individual goes unlogged.
  base::Status record_access(const Caller& caller, const std::string& method, const v1::Subject& subject);
  base::Result<std::vector<v1::AccessRecord>> access_log(uint64_t after, uint32_t limit) const;

  // Wall clock in ms: the leader's block timestamps and "now" for as-of queries.
  static int64_t now_ms();

  // ---- storage faults (node/storage_faults.cc) ----
  // Why this node refuses writes now (its disk is full), or nullopt. Any thread. While set, the
  // node serves reads from what it has, refuses Submit with RESOURCE_EXHAUSTED, and takes no
  // part in Raft (it persists nothing, so it acknowledges and votes for nothing); it resumes on
  // its own once a write succeeds again.
  std::optional<std::string> storage_problem() const;
  // RESOURCE_EXHAUSTED naming the problem if storage_problem(); OK otherwise.
  grpc::Status refuse_writes_if_degraded() const;

  // Damaged storage. The node checks its last blocks when it opens (and every height on
  // operator command, verify_storage); a damaged height is refused to readers of blocks and
  // proofs (FAILED_PRECONDITION naming it) and repaired in the background from peers' copies,
  // verified against this node's own chain (ledger::Ledger::repair).
  // The lowest damaged height and why, or nullopt. Any thread.
  std::optional<std::string> storage_damage() const;
  // FAILED_PRECONDITION if a damaged height lies in from..to; OK otherwise. Any thread.
  grpc::Status refuse_if_damaged(uint64_t from, uint64_t to) const;
  // Checks RocksDB's checksums of every file and heights from..to (0 = head), on a helper
  // thread; damage found starts a repair. `then` gets the damages (empty: all is well).
  void verify_storage(uint64_t from, uint64_t to,
                      std::function<void(base::Result<std::vector<ledger::Damage>>)> then);

 private:
  explicit Node(NodeConfig config);
  base::Status open();

  // ---- loop thread ----
  // Carries out what the Replica decided (replica.h, Effects), in the order it requires.
  void execute(Effects effects);
  void run_verify_job(VerifyJob job);
  void finish_submit(SubmitReply reply);
  void finish_read(ReadReply reply);
  void on_tick();
  void learn_member_address(const v1::MemberAddress& member);
  void on_block_applied(const AppliedBlock& applied);
  void on_submit_verified(std::shared_ptr<SubmitCall> call);
  // Forwards a verified call to the leader. The forward is tracked (forwards_) so that a leader
  // change cancels it and hands the call on to the new leader (redispatch_submit).
  void forward_submit(std::shared_ptr<SubmitCall> call, consensus::NodeId leader);
  // A forwarded call whose leader changed: proposed here if this node now leads, forwarded to
  // the new leader if one is known, else parked until one is (bounded by the call's deadline).
  void redispatch_submit(std::shared_ptr<SubmitCall> call, consensus::NodeId old_leader);
  // The core names a different leader (0 = none known).
  void on_leader_changed(consensus::NodeId leader);
  grpc::Status submit_timed_out() const;
  void fail_call(const std::shared_ptr<SubmitCall>& call, const grpc::Status& status);
  void on_leadership_change(bool is_leader);
  void start_catch_up(consensus::NodeId peer);
  void update_peers(const consensus::Membership& membership);
  void fatal(const std::string& what, const base::Status& status);
  // (Re)creates the Raft log store and core from what the database holds.
  base::Status open_raft();
  // A write of the loop failed. A full disk (kBusy) makes the node read-only until a probe write
  // succeeds again; any other failure is fatal. REQUIRES: loop thread.
  void on_storage_write_failure(const std::string& what, const base::Status& status);
  void retry_storage();
  // kBusy if data_dir has less than limits.min_free_disk_bytes free. Any thread.
  base::Status check_disk_space() const;
  // Records damage found (any thread) and starts one repair thread if none runs.
  void on_damage_found(std::vector<ledger::Damage> damages);
  void repair_storage(std::vector<ledger::Damage> damages);
  void persist_address(consensus::NodeId id, const std::string& address);
  void checkpoint_round();
  void add_cosignature(uint64_t height, const ledger::NoteSignature& signature);
  // The note stored for `height` as it is (not checked for a quorum), or nullopt. Any thread.
  base::Result<std::optional<ledger::CosignedCheckpoint>> stored_checkpoint(uint64_t height) const;
  struct KeptCheckpoint {
    ledger::CosignedCheckpoint checkpoint;  // the note stored now
    bool trusted = false;                   // it is cosigned by a quorum
    bool grew = false;                      // it gained a valid cosignature
  };
  // Merges the valid cosignatures of `offered` into the note stored for its height (stored ones
  // first: a valid cosignature is never dropped or replaced) and records it as the latest
  // trusted checkpoint if it is that. kInvalidArgument if a note of another body is stored
  // there. REQUIRES: loop thread; `offered` is of this node's own chain.
  base::Result<KeptCheckpoint> keep_checkpoint(const ledger::CosignedCheckpoint& offered);
  // The checkpoint calls to peers (Cosign, ShareCheckpoint): sends `request` to every peer with
  // `invoke(async stub, context, request, response, callback)`, with a deadline of five
  // checkpoint intervals; `done(peer, status, response)` runs on a gRPC thread.
  template <typename Request, typename Response, typename Invoke, typename Done>
  void call_peers(const Request& request, Invoke invoke, Done done);
  // The same call to one peer; false (and no call) if no channel to it is known.
  template <typename Request, typename Response, typename Invoke, typename Done>
  bool call_peer(consensus::NodeId peer, const Request& request, Invoke invoke, Done done);
  // Hands a quorum checkpoint to every peer (ShareCheckpoint) and keeps it owed to each until
  // that peer acknowledges it, without waiting for answers. REQUIRES: loop thread.
  void share_checkpoint(const ledger::CosignedCheckpoint& checkpoint);
  void send_share(consensus::NodeId peer, uint64_t height, const std::string& note);
  // Every checkpoint round: sends again what is owed to peers with no share in flight (a peer
  // that was down or slow when the checkpoint was shared).
  void reshare_checkpoints();
  // Keeps a peer's quorum checkpoint of an applied height if its body is this node's.
  base::Status adopt_checkpoint(const ledger::CosignedCheckpoint& checkpoint);
  void adopt_pending_checkpoints();

  NodeConfig config_;
  std::shared_ptr<const ledger::Consortium> consortium_;
  std::unique_ptr<ledger::Database> db_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<consensus::SplitMix64Rng> rng_;
  std::unique_ptr<Replica> replica_;  // loop thread
  std::shared_ptr<grpc::ChannelCredentials> peer_credentials_;
  std::unique_ptr<PeerTransport> transport_;
  Metrics metrics_;
  MetricsServer metrics_server_{metrics_};

  boost::asio::io_context loop_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> loop_work_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer batch_timer_;
  boost::asio::steady_timer checkpoint_timer_;
  boost::asio::steady_timer storage_retry_timer_;
  std::unique_ptr<boost::asio::thread_pool> verify_pool_;
  std::thread loop_thread_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::atomic<consensus::NodeId> leader_id_{0};
  std::atomic<bool> stopped_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;

  // Loop-thread state. What the Replica holds is named by number here: the calls it will
  // answer, and the reads it will release.
  bool flush_timer_armed_ = false;
  CallId call_counter_ = 0;
  std::map<CallId, std::shared_ptr<SubmitCall>> submits_;
  std::map<CallId, std::function<void(const base::Status&)>> reads_;
  // Submits forwarded to a leader and not answered yet, by forward number. A leader change
  // cancels those sent to another node and redispatches them; none outlives its call's deadline.
  struct Forward;
  std::map<uint64_t, std::shared_ptr<Forward>> forwards_;
  uint64_t forward_counter_ = 0;
  // Forwarded calls whose leader changed while no new leader is known yet, with the old leader.
  std::deque<std::pair<std::shared_ptr<SubmitCall>, consensus::NodeId>> calls_awaiting_leader_;
  consensus::NodeId known_leader_ = 0;  // the leader the Replica last named
  std::map<consensus::NodeId, std::string> directory_;  // every member's address ever learned
  std::optional<ledger::KeyFile> agency_key_;
  std::string origin_;
  uint64_t last_checkpoint_height_ = 0;                 // loop thread
  // Checkpoints of the last rounds, collecting cosignatures (loop thread).
  static constexpr size_t kRecentCheckpointsMax = 16;
  std::map<uint64_t, ledger::CosignedCheckpoint> recent_checkpoints_;
  // Quorum checkpoints peers shared for heights not applied here yet (loop thread).
  std::map<uint64_t, ledger::CosignedCheckpoint> pending_checkpoints_;
  // Quorum notes this node shared and each peer has not acknowledged yet (at most
  // kRecentCheckpointsMax per peer), and the shares in flight per peer (loop thread).
  std::map<consensus::NodeId, std::map<uint64_t, std::string>> unshared_;
  std::map<consensus::NodeId, int> sharing_;
  std::atomic<uint64_t> trusted_checkpoint_height_{0};  // written by the loop, read anywhere

  // Catch-ups run on their own thread (one at a time); stop() waits for it.
  std::mutex catch_up_mu_;
  std::condition_variable catch_up_cv_;
  int catch_ups_running_ = 0;  // GUARDED_BY(catch_up_mu_)
  // Storage verification and repair threads (node/storage_faults.cc); stop() waits for them
  // too, but they do not keep a leader's catch-up out.
  int background_jobs_ = 0;  // GUARDED_BY(catch_up_mu_)

  mutable std::mutex watch_mu_;
  std::map<std::string, std::set<SubjectWatcher*>> watchers_;  // GUARDED_BY(watch_mu_)
  size_t watcher_count_ = 0;                                    // GUARDED_BY(watch_mu_)
  std::atomic<uint64_t> access_sequence_{0};

  // Set by the loop when a write fails for lack of space, cleared when writes succeed again.
  std::atomic<bool> storage_degraded_{false};
  mutable std::mutex storage_mu_;
  std::string storage_problem_;  // GUARDED_BY(storage_mu_)
  // Lowest damaged height (0 = none known) and why; a repair thread runs while repairing_.
  std::atomic<uint64_t> damaged_height_{0};
  std::string damage_reason_;    // GUARDED_BY(storage_mu_)
  bool repairing_ = false;       // GUARDED_BY(storage_mu_)
  std::vector<ledger::Damage> startup_damages_;  // found by open(), repaired once started
};

}  // namespace node
