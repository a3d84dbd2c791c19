// Storage faults of a running node: a full disk, and damaged stored data.
//
// Damaged data. open() re-checks the last kStartupCheckBlocks blocks (ledger::verify_stored:
// hash links, events, receipts, Merkle nodes); an operator runs the same check over every
// height, plus RocksDB's checksums of every file, with `credctl storage verify`. Damage found
// is refused to readers (GetBlocks over a damaged height and proofs answer FAILED_PRECONDITION
// naming the height; block() and event() reads already answer DATA_LOSS for bytes that do not
// match their hashes) and repaired at once, in the background: each damaged block is fetched
// from a peer (AuditService.GetBlocks) and written only if it is the block this node's own
// chain commits to (ledger::Ledger::repair), Merkle nodes are recomputed, and the heights are
// verified again. A repair that finds no good copy retries every kRepairRetryInterval. The
// node keeps taking part in Raft meanwhile: applying new blocks needs only the head, the view
// and the index, which the check does not cover and a damaged history does not affect.
//
// Before each write the loop makes (a Raft Ready that persists something, a checkpoint, an
// access record) it checks that data_dir's file system has limits.min_free_disk_bytes free
// (statvfs). When it has not, or when a write fails anyway because the disk is full (RocksDB's
// NoSpace, which both stores translate to kBusy), the node becomes read-only instead of
// stopping:
//   - it stops driving its Raft core: it persists nothing more, so it sends nothing (no
//     acknowledgement or vote rests on a write that failed) and applies nothing more;
//   - Submit answers RESOURCE_EXHAUSTED ("disk full at <data_dir>") and leadership is given up
//     (the others elect a leader once heartbeats stop);
//   - reads keep being served from the ledger as it was;
//   - every retry interval it asks RocksDB to resume (db->Resume() clears a background error
//     once a flush succeeds) and makes a small synced probe write; once both succeed it
//     re-creates the Raft log store and core from the database, exactly as a restart would
//     (RocksLogStorage's cached state is not trusted after a failed write), and rejoins: the
//     leader brings it up to date from its log or by block sync.
// Nothing acknowledged is lost: an entry was acknowledged only after its synced append
// succeeded, and the ledger is written one atomic batch per block. Any other write failure
// is still fatal (fatal()): an I/O error that is not a full disk is not a state to wait out.
//
// Why stop short of a full disk: once a write-ahead-log append has failed, RocksDB 7.8 can
// only recover (Resume(), or its own background retry) by flushing through the failed log
// writer, which Debian's build (assertions on) answers with an assertion failure, ending the
// process. A restart recovers that node like any crash, but the watermark keeps the common
// case, a disk that fills gradually, entirely in process.
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <future>
#include <thread>

#include "node/node.h"

namespace node {

namespace {
constexpr auto kStorageRetryInterval = std::chrono::milliseconds(500);
constexpr size_t kProbeBytes = 64 << 10;
constexpr auto kRepairRetryInterval = std::chrono::seconds(2);
}  // namespace

std::optional<std::string> Node::storage_problem() const {
  if (!storage_degraded_.load()) return std::nullopt;
  std::lock_guard<std::mutex> lock(storage_mu_);
  return storage_problem_;
}

base::Status Node::check_disk_space() const {
  const uint64_t min_free = config_.limits.min_free_disk_bytes;
  if (min_free == 0) return base::Status::ok();
  struct statvfs fs {};
  if (::statvfs(config_.data_dir.c_str(), &fs) != 0) return base::Status::ok();  // let writes say
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= min_free) return base::Status::ok();
  return base::Status::busy(std::to_string(free_bytes >> 20) + " MiB free, below " +
                            "limits.min_free_disk_bytes (" + std::to_string(min_free >> 20) +
                            " MiB)");
}

grpc::Status Node::refuse_writes_if_degraded() const {
  auto problem = storage_problem();
  if (!problem) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, *problem);
}

void Node::on_storage_write_failure(const std::string& what, const base::Status& status) {
  if (status.code() != base::Code::kBusy) return fatal(what, status);
  if (storage_degraded_.load()) return;
  {
    std::lock_guard<std::mutex> lock(storage_mu_);
    storage_problem_ = "disk full at " + config_.data_dir + " (" + what + ": " +
                       status.message() +
                       "); this node serves reads but takes no writes until space is freed";
  }
  storage_degraded_ = true;
  metrics_.storage_degraded = 1;
  spdlog::error("node {}: {} failed: {}; read-only until writes succeed again", config_.node_id,
                what, status.to_string());
  // What waits on this core's future can no longer be answered by it (the Replica halted
  // itself if its own write failed).
  leader_id_ = 0;
  metrics_.leader_id = 0;
  if (!replica_->halted()) execute(replica_->halt("this node's disk is full; ask another node"));
  storage_retry_timer_.expires_after(kStorageRetryInterval);
  storage_retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) retry_storage();
  });
}

void Node::retry_storage() {
  if (stopped_.load() || !storage_degraded_.load()) return;
  auto again = [this] {
    storage_retry_timer_.expires_after(kStorageRetryInterval);
    storage_retry_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) retry_storage();
    });
  };
  if (!check_disk_space().is_ok()) return again();
  // Clears RocksDB's background error (a failed flush or WAL write) once it can flush again;
  // ok at once if there is none.
  rocksdb::Status resumed = db_->db()->Resume();
  if (!resumed.ok()) {
    spdlog::debug("storage still unavailable: {}", resumed.ToString());
    return again();
  }
  // Room for a little more than one write: a synced probe, deleted again.
  rocksdb::WriteOptions synced;
  synced.sync = true;
  rocksdb::Status probe = db_->db()->Put(synced, db_->cf("node_meta"), "storage_probe",
                                         std::string(kProbeBytes, '\0'));
  if (probe.ok()) probe = db_->db()->Delete(synced, db_->cf("node_meta"), "storage_probe");
  if (!probe.ok()) {
    spdlog::debug("storage probe failed: {}", probe.ToString());
    return again();
  }
  // The old store's cache may not match the disk after its failed write: rebuild both from
  // the database, as after a restart.
  if (auto s = open_raft(); !s.is_ok()) return fatal("re-open the raft log after a full disk", s);
  storage_degraded_ = false;
  metrics_.storage_degraded = 0;
  {
    std::lock_guard<std::mutex> lock(storage_mu_);
    storage_problem_.clear();
  }
  spdlog::warn("node {}: writes succeed again at {}; rejoining at applied index {}",
               config_.node_id, config_.data_dir, ledger_->cursor());
  execute(replica_->process());
}

// ---------------------------------------------------------------------------------------------
// Damaged storage

std::optional<std::string> Node::storage_damage() const {
  if (damaged_height_.load() == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(storage_mu_);
  return damage_reason_;
}

grpc::Status Node::refuse_if_damaged(uint64_t from, uint64_t to) const {
  const uint64_t damaged = damaged_height_.load();
  if (damaged == 0 || damaged < from || damaged > to) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "stored data of this node is damaged at height " + std::to_string(damaged) +
                          " (" + storage_damage().value_or("") +
                          "); it is being repaired from peers: ask another node");
}

void Node::on_damage_found(std::vector<ledger::Damage> damages) {
  if (damages.empty()) return;
  for (const ledger::Damage& d : damages) {
    spdlog::critical("node {}: stored data damaged at height {}: {}", config_.node_id, d.height,
                     d.reason);
  }
  {
    std::lock_guard<std::mutex> lock(storage_mu_);
    const uint64_t known = damaged_height_.load();
    if (known == 0 || damages.front().height <= known) {
      damaged_height_ = damages.front().height;
      damage_reason_ = damages.front().reason;
    }
    if (repairing_) return;  // the running repair verifies again when it is done
    repairing_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(catch_up_mu_);  // stop() waits for these threads too
    if (stopped_.load()) return;
    ++background_jobs_;
  }
  std::thread([this, damages = std::move(damages)]() mutable {
    repair_storage(std::move(damages));
    std::lock_guard<std::mutex> lock(catch_up_mu_);
    --background_jobs_;
    catch_up_cv_.notify_all();
  }).detach();
}

void Node::repair_storage(std::vector<ledger::Damage> damages) {
  auto on_loop = [this](std::function<base::Status()> fn) {
    std::promise<base::Status> done;
    boost::asio::post(loop_, [&] { done.set_value(fn()); });
    return done.get_future().get();
  };
  auto fetch = [this](consensus::NodeId peer, uint64_t height) -> std::optional<v1::Block> {
    auto channel = channel_to(peer);
    if (!channel) return std::nullopt;
    auto stub = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    if (insecure()) {
      context.AddMetadata("x-credledger-role", "node:" + std::to_string(config_.node_id));
    }
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetBlocksRequest request;
    request.set_from_height(height);
    request.set_to_height(height);
    auto reader = stub->GetBlocks(&context, request);
    v1::Block block;
    const bool got = reader->Read(&block);
    if (got) context.TryCancel();
    const grpc::Status finished = reader->Finish();
    if (!got || (!finished.ok() && finished.error_code() != grpc::StatusCode::CANCELLED) ||
        block.header().height() != height) {
      spdlog::warn("repair: node {} did not serve block {}: {}", peer, height,
                   finished.error_message());
      return std::nullopt;
    }
    return block;
  };
  for (int attempt = 0; !stopped_.load(); ++attempt) {
    if (attempt > 0) {
      const auto until = std::chrono::steady_clock::now() + kRepairRetryInterval;
      while (!stopped_.load() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (stopped_.load()) break;
    }
    std::map<uint64_t, v1::Block> copies;
    const auto peers = transport_->addresses();
    for (const ledger::Damage& d : damages) {
      if (!d.block) continue;
      for (const auto& [peer, address] : peers) {
        if (stopped_.load()) return;  // stop() waits for this thread; each fetch may take 10 s
        if (auto block = fetch(peer, d.height)) {
          copies[d.height] = std::move(*block);
          break;
        }
      }
    }
    // A copy that does not verify is refused inside repair(): the next attempt asks again
    // (possibly another peer first, as peers answer).
    const base::Status s = on_loop([&] { return ledger_->repair(damages, copies); });
    if (!s.is_ok()) {
      spdlog::error("node {}: repair of heights {}..{} failed (attempt {}): {}", config_.node_id,
                    damages.front().height, damages.back().height, attempt + 1, s.to_string());
      continue;
    }
    spdlog::warn("node {}: repaired {} damaged height(s) from {} to {} with verified copies",
                 config_.node_id, damages.size(), damages.front().height, damages.back().height);
    // Damage reported while this repair ran is checked again over the whole chain.
    auto again = ledger_->verify_stored(0, ledger_->head().height());
    if (again.is_ok() && !again->empty()) {
      damages = std::move(*again);
      for (const ledger::Damage& d : damages) {
        spdlog::critical("node {}: stored data damaged at height {}: {}", config_.node_id,
                         d.height, d.reason);
      }
      std::lock_guard<std::mutex> lock(storage_mu_);
      damaged_height_ = damages.front().height;
      damage_reason_ = damages.front().reason;
      continue;
    }
    std::lock_guard<std::mutex> lock(storage_mu_);
    damaged_height_ = 0;
    damage_reason_.clear();
    repairing_ = false;
    return;
  }
  std::lock_guard<std::mutex> lock(storage_mu_);
  repairing_ = false;
}

void Node::verify_storage(uint64_t from, uint64_t to,
                          std::function<void(base::Result<std::vector<ledger::Damage>>)> then) {
  {
    std::lock_guard<std::mutex> lock(catch_up_mu_);
    if (stopped_.load()) return then(base::Status::unavailable("node is stopping"));
    ++background_jobs_;
  }
  std::thread([this, from, to, then = std::move(then)] {
    struct Done {
      Node* node;
      ~Done() {
        std::lock_guard<std::mutex> lock(node->catch_up_mu_);
        --node->background_jobs_;
        node->catch_up_cv_.notify_all();
      }
    } done_guard{this};
    // RocksDB's own checksums of every table file first: bytes flipped on disk anywhere.
    rocksdb::Status checksums = db_->db()->VerifyChecksum();
    if (!checksums.ok()) {
      spdlog::critical("node {}: RocksDB checksum verification failed: {}", config_.node_id,
                       checksums.ToString());
    }
    const uint64_t head = ledger_->head().height();
    auto damages = ledger_->verify_stored(from, to == 0 ? head : to);
    if (damages.is_ok() && !checksums.ok() && damages->empty()) {
      // Damage outside the chain (view, index, Raft log): not repairable from peers' blocks.
      return then(base::Status::corruption("RocksDB checksums: " + checksums.ToString()));
    }
    if (damages.is_ok()) on_damage_found(*damages);
    then(std::move(damages));
  }).detach();
}

}  // namespace node
