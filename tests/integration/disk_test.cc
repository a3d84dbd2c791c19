// Disk faults with real processes. One node of a 3-node cluster keeps its data directory on a
// small tmpfs of its own; the test fills that file system (below the node's min_free_disk_bytes)
// while the node leads and the cluster takes submits, and checks that the node turns read-only instead of dying (Submit answers
// RESOURCE_EXHAUSTED "disk full at <dir>", reads are answered), that the other two go on
// committing, that it resumes by itself once the filler file is removed, catches up to the same
// head, holds every acknowledged event, and restarts cleanly after kill -9.
// Needs CAP_SYS_ADMIN for mount(2); without it the test says so and checks nothing.
// Damaged storage: events of a stopped node are replaced behind its back; it names the damaged
// height, refuses those blocks, and repairs them from its peers at start-up and on the
// operator's VerifyStorage.
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ledger/db.h"
#include "ledger/internal/keys.h"
#include "tests/integration/events.h"

namespace integration {
namespace {

using ledger_test::kSamr;
using ledger_test::kSta;

// A tmpfs of `bytes`, unmounted (lazily, so a straggling process cannot block it) and removed
// however the test ends. Declared before the Cluster, so that the nodes are killed first.
class TmpfsMount {
 public:
  explicit TmpfsMount(size_t bytes) {
    std::string pattern = "/tmp/credledger-tmpfs-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    ::rmdir(path_.c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

  // Writes a file until at most `leave_bytes` are free; returns the bytes written.
  size_t fill(const std::string& name, uint64_t leave_bytes) {
    const std::string file = path_ + "/" + name;
    FILE* f = std::fopen(file.c_str(), "wb");
    REQUIRE(f != nullptr);
    const std::string chunk(64 << 10, 'x');
    size_t written = 0;
    while (free_bytes() > leave_bytes + chunk.size()) {
      const size_t n = std::fwrite(chunk.data(), 1, chunk.size(), f);
      written += n;
      if (n < chunk.size() || std::fflush(f) != 0) break;
    }
    std::fclose(f);
    return written;
  }
  uint64_t free_bytes() const {
    struct statvfs fs {};
    REQUIRE(::statvfs(path_.c_str(), &fs) == 0);
    return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }

 private:
  std::string path_;
  std::string error_;
  bool mounted_ = false;
};

// Submits `events` to any of `nodes` until one acknowledges them, within `timeout`.
SubmitResult submit_somewhere(Cluster& cluster, const std::vector<uint64_t>& nodes,
                              const std::string& role, const std::vector<v1::SignedEvent>& events,
                              std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  SubmitResult r;
  for (size_t attempt = 0; std::chrono::steady_clock::now() < deadline; ++attempt) {
    r = submit(cluster, nodes[attempt % nodes.size()], role, events, 5s);
    if (r.status.ok()) return r;
    std::this_thread::sleep_for(100ms);
  }
  return r;
}

std::vector<v1::SignedEvent> batch(const std::string& prefix, size_t n, uint64_t subject_base) {
  std::vector<v1::SignedEvent> events;
  for (size_t i = 0; i < n; ++i) {
    events.push_back(signed_event(prefix + "-" + std::to_string(i), kSamr,
                                  ledger_test::enterprise(subject_base + i)));
  }
  return events;
}

}  // namespace

TEST_CASE("a node whose disk fills turns read-only, loses nothing and resumes", "[integration]") {
  TmpfsMount disk(64ULL << 20);
  if (!disk.mounted()) {
    WARN("cannot mount a tmpfs (" << disk.error() << "); disk-full test not run");
    return;
  }
  constexpr uint64_t kVictim = 3;
  ClusterOptions options;
  options.submit_timeout_ms = 3000;
  options.data_dirs[kVictim] = disk.path() + "/node3";
  options.min_free_disk_bytes = 8 << 20;
  Cluster cluster(options);
  cluster.start_all();
  uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> all = cluster.ids();
  const std::vector<uint64_t> others = {1, 2};
  const std::string role = agency_role(kSamr);

  std::vector<SubmitResult> acked;
  acked.push_back(submit_somewhere(cluster, all, role, batch("before", 50, 0)));
  INFO(describe(acked.back().status));
  REQUIRE(acked.back().status.ok());

  // The victim leads: its own proposals are the writes that fail.
  if (leader != kVictim) {
    v1::TransferRequest request;
    request.set_to(kVictim);
    v1::AdminResponse response;
    auto context = context_as("operator:harness");
    const grpc::Status s = cluster.admin(leader)->TransferLeadership(context.get(), request,
                                                                     &response);
    INFO(describe(s));
    REQUIRE(s.ok());
    leader = cluster.wait_for_leader();
  }
  CHECK(leader == kVictim);

  // Nearly full: below the node's 8 MiB watermark, with a little room left for the write that
  // races the filler.
  const size_t filled = disk.fill("filler", 2 << 20);
  INFO("filler " << filled << " bytes");
  // Writes keep coming until the victim notices: it must not die, and must say why it stopped.
  std::string problem;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (int round = 0; problem.empty() && std::chrono::steady_clock::now() < deadline; ++round) {
    SubmitResult r = submit(cluster, all[static_cast<size_t>(round) % all.size()], role,
                            batch("filling-" + std::to_string(round), 200, 1000 + round * 200), 5s);
    if (r.status.ok()) acked.push_back(std::move(r));
    REQUIRE(cluster.running(kVictim));
    if (auto s = cluster.status(kVictim)) problem = s->storage_problem();
  }
  INFO(cluster.log_tails());
  REQUIRE(!problem.empty());
  CHECK(problem.find("disk full at " + disk.path() + "/node3") != std::string::npos);
  {
    auto st = cluster.status(kVictim);
    REQUIRE(st);
    CHECK(st->role() == "read-only");
  }

  // New work is refused at once, with the reason.
  const SubmitResult refused = submit(cluster, kVictim, role, batch("refused", 1, 900000));
  CHECK(refused.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(refused.status.error_message().find("disk full at") != std::string::npos);
  // Reads are still answered from what the node holds.
  {
    const EventResult e = get_event(cluster, kVictim, "before-7");
    INFO(describe(e.status));
    CHECK(e.status.ok());
    CHECK(e.response.receipt().SerializeAsString() ==
          acked.front().response.receipts(7).SerializeAsString());
    v1::StatusRequest request;
    *request.mutable_subject() = ledger_test::enterprise(7);
    v1::SubjectStatus response;
    auto context = context_as("relying:bank");
    const grpc::Status s = cluster.query(kVictim)->GetSubjectStatus(context.get(), request,
                                                                     &response);
    INFO(describe(s));
    CHECK(s.ok());
    CHECK(response.active_penalties_size() == 1);
  }
  // The other two elect a leader among themselves and keep committing.
  const uint64_t new_leader = cluster.wait_for_leader();
  CHECK(new_leader != kVictim);
  acked.push_back(submit_somewhere(cluster, others, role, batch("while-full", 100, 500000)));
  INFO(describe(acked.back().status));
  REQUIRE(acked.back().status.ok());
  // Still refused: the disk is still full.
  {
    auto st = cluster.status(kVictim);
    REQUIRE(st);
    CHECK(!st->storage_problem().empty());
  }

  // Space returns: the victim resumes by itself and catches up.
  std::filesystem::remove(disk.path() + "/filler");
  const auto resume_deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < resume_deadline) {
    auto s = cluster.status(kVictim);
    if (s && s->storage_problem().empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  {
    auto st = cluster.status(kVictim);
    REQUIRE(st);
    REQUIRE(st->storage_problem().empty());
  }
  cluster.wait_for_leader();
  check_same_head(cluster.wait_applied_equal(all, 60s));
  const SubmitResult after = submit_somewhere(cluster, {kVictim}, role, batch("after", 10, 600000));
  INFO(describe(after.status));
  REQUIRE(after.status.ok());
  acked.push_back(after);

  // Every acknowledged event is on the victim, where its receipt says; then a kill -9 and a
  // restart find the same chain.
  auto check_all_acked = [&] {
    size_t missing = 0;
    for (const SubmitResult& r : acked) {
      for (const v1::Receipt& receipt : r.response.receipts()) {
        const EventResult e = get_event(cluster, kVictim, receipt.event_id());
        if (!e.status.ok() ||
            e.response.receipt().SerializeAsString() != receipt.SerializeAsString()) {
          if (missing++ < 5) UNSCOPED_INFO(receipt.event_id() << ": " << describe(e.status));
        }
      }
    }
    CHECK(missing == 0);
  };
  check_all_acked();
  const auto before_kill = cluster.wait_applied_equal(all, 30s);
  check_same_head(before_kill);
  cluster.kill(kVictim);
  cluster.start(kVictim);
  cluster.wait_for_leader();
  const auto restarted = cluster.wait_applied_equal(all, 30s);
  check_same_head(restarted);
  CHECK(restarted.front().height() >= before_kill.front().height());
  check_all_acked();
}

}  // namespace integration

namespace integration {
namespace {

// Replaces event `index` of block `height` in a stopped node's database with another valid
// event: the bytes change, RocksDB's checksums still hold, only the ledger's hashes notice.
void forge_event(const std::string& data_dir, uint64_t height, uint32_t index,
                 const std::string& event_id) {
  ledger::Database::Options options;
  options.create_if_missing = false;
  options.extra_column_families = {"raft_log", "raft_state", "node_meta", "access",
                                   "checkpoints"};
  auto db = ledger::Database::open(data_dir + "/db", options);
  INFO(db.status().to_string());
  REQUIRE(db.is_ok());
  const v1::SignedEvent forged = signed_event(event_id, kSta, ledger_test::enterprise(777777));
  rocksdb::WriteOptions synced;
  synced.sync = true;
  REQUIRE((*db)->db()->Put(synced, (*db)->cf("events"), ledger::internal::event_key(height, index),
                           forged.SerializeAsString()).ok());
}

std::string wait_storage_problem_gone(Cluster& cluster, uint64_t node,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string problem = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto s = cluster.status(node)) {
      problem = s->storage_problem();
      if (problem.empty()) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  return problem;
}

}  // namespace

TEST_CASE("a node with damaged blocks refuses them, names the height and repairs from peers",
          "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  const std::vector<uint64_t> all = cluster.ids();
  constexpr uint64_t kVictim = 3;
  // 70 blocks of two events: more than the 64 newest blocks a node re-checks when it starts.
  for (int b = 0; b < 70; ++b) {
    const SubmitResult r = submit_somewhere(
        cluster, all, agency_role(kSamr),
        {signed_event("dmg-" + std::to_string(b) + "-a", kSamr, ledger_test::enterprise(b * 2)),
         signed_event("dmg-" + std::to_string(b) + "-b", kSamr,
                      ledger_test::enterprise(b * 2 + 1))});
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
  }
  const auto before = cluster.wait_applied_equal(all);
  check_same_head(before);
  const uint64_t head = before.front().height();
  REQUIRE(head >= 70);
  const std::vector<v1::Block> reference = all_blocks(cluster, 1);

  for (uint64_t id : all) cluster.stop(id);
  const std::string data_dir = cluster.dir() + "/node3";
  forge_event(data_dir, head - 2, 0, "forged-recent");  // inside the start-up check
  forge_event(data_dir, 2, 1, "forged-old");            // outside it

  // Alone, the victim finds the recent damage at start, says where, and refuses those blocks.
  cluster.start(kVictim);
  auto status = cluster.status(kVictim);
  REQUIRE(status);
  INFO(status->storage_problem());
  CHECK(status->storage_problem().find("damaged at height " + std::to_string(head - 2)) !=
        std::string::npos);
  const grpc::Status refused = read_blocks(cluster, kVictim, head - 5, head);
  CHECK(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(refused.error_message().find("height " + std::to_string(head - 2)) != std::string::npos);
  // Damage it does not know of yet is still never served: the block's own hashes fail.
  const grpc::Status unknown = read_blocks(cluster, kVictim, 1, 5);
  CHECK(unknown.error_code() == grpc::StatusCode::DATA_LOSS);
  CHECK(unknown.error_message().find("block 2") != std::string::npos);
  CHECK(cluster.log_text(kVictim).find("stored data damaged at height " +
                                       std::to_string(head - 2)) != std::string::npos);

  // With its peers back it repairs itself from their copies.
  cluster.start(1);
  cluster.start(2);
  {
    const std::string problem = wait_storage_problem_gone(cluster, kVictim, 30s);
    INFO(problem << "\n" << cluster.log_tails());
    REQUIRE(problem.empty());
  }
  std::vector<v1::Block> recent;
  REQUIRE(read_blocks(cluster, kVictim, head - 5, head, &recent).ok());
  REQUIRE(recent.size() == 6);
  for (const v1::Block& b : recent) {
    CHECK(b.SerializeAsString() == reference[b.header().height() - 1].SerializeAsString());
  }

  // After a repair the node checks every height again: the old damage is found and repaired
  // the same way.
  CHECK(cluster.log_text(kVictim).find("stored data damaged at height 2:") != std::string::npos);

  // Old damage alone is not seen at start (only the newest 64 blocks are), but the operator's
  // full check finds it, and the same repair fixes it.
  cluster.stop(kVictim);
  forge_event(data_dir, 3, 0, "forged-old-2");
  cluster.start(kVictim);
  {
    auto s = cluster.status(kVictim);
    REQUIRE(s);
    CHECK(s->storage_problem().empty());
  }
  v1::VerifyStorageResponse verified;
  {
    auto context = context_as("operator:harness", 60s);
    const grpc::Status s = cluster.admin(kVictim)->VerifyStorage(
        context.get(), v1::VerifyStorageRequest(), &verified);
    INFO(describe(s));
    REQUIRE(s.ok());
  }
  REQUIRE(verified.damages_size() >= 1);
  CHECK(verified.damages(0).height() == 3);
  CHECK(verified.damages(0).block());
  CHECK(verified.repair_started());
  {
    const std::string problem = wait_storage_problem_gone(cluster, kVictim, 30s);
    INFO(problem << "\n" << cluster.log_tails());
    REQUIRE(problem.empty());
  }
  cluster.wait_for_leader();
  const auto after = cluster.wait_applied_equal(all);
  check_same_head(after);
  const std::vector<v1::Block> repaired = all_blocks(cluster, kVictim);
  REQUIRE(repaired.size() >= reference.size());
  for (size_t h = 0; h < reference.size(); ++h) {
    INFO("block " << h + 1);
    CHECK(repaired[h].SerializeAsString() == reference[h].SerializeAsString());
  }
  {
    auto context = context_as("operator:harness", 60s);
    v1::VerifyStorageResponse again;
    REQUIRE(cluster.admin(kVictim)->VerifyStorage(context.get(), v1::VerifyStorageRequest(),
                                                  &again).ok());
    CHECK(again.damages_size() == 0);
  }
}

}  // namespace integration
