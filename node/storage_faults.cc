// Storage faults of a running node: a full disk.
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

#include "node/node.h"

namespace node {

namespace {
constexpr auto kStorageRetryInterval = std::chrono::milliseconds(500);
constexpr size_t kProbeBytes = 64 << 10;
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
  // What waits on this core's future can no longer be answered by it.
  leader_id_ = 0;
  metrics_.leader_id = 0;
  if (is_leader_) on_leadership_change(false);
  for (auto& [ctx, fn] : reads_waiting_index_) {
    fn(base::Status::unavailable("this node's disk is full; ask another node"));
  }
  reads_waiting_index_.clear();
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
  schedule_ready();
}

}  // namespace node
