// A cluster of real credd processes on 127.0.0.1 for the integration tests.
//
// A Cluster owns a temporary directory holding the genesis (the ledger unit-test consortium:
// agencies samr, sta and court with keys from fixed seeds), one TOML config, data directory and
// log file per node. Nodes run in plaintext mode, so a client names its role in the
// x-credledger-role header (context_as). Every process the cluster starts is tracked by pid and
// killed when the Cluster is destroyed (and, should the test process die first, by the kernel:
// children get PR_SET_PDEATHSIG). On a failed test the directory and logs are kept and the tail
// of every log is printed.
//
// Threads: start/stop/kill/restart/add_node belong to the test's main thread (a child's death
// signal follows the thread that forked it). channel(), status() and the client helpers may be
// called from any thread.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proto/api.grpc.pb.h"

namespace integration {

namespace v1 = credledger::v1;
using namespace std::chrono_literals;

struct ClusterOptions {
  size_t nodes = 3;
  uint64_t tick_ms = 20;
  uint64_t election_ticks = 10;
  // 0 keeps credd's default (compaction only far behind the head).
  uint64_t auto_compact_entries = 0;
  uint64_t submit_timeout_ms = 10000;
  uint64_t verify_threads = 2;
  std::string log_level = "info";
  // Every node holds the signing key of one agency (samr, sta, court in turn) and cosigns
  // checkpoints this often.
  uint64_t checkpoint_interval_ms = 200;
  // The address node `from` dials to reach founding member `to` (whose own listen address is
  // `address`), written into `from`'s [peers]. Unset: every node dials the others directly. The
  // fault harness (tests/faults/) routes each directed link through its own proxy here.
  std::function<std::string(uint64_t from, uint64_t to, const std::string& address)> peer_route;
  // Data directory of a node elsewhere than <cluster dir>/node<id> (e.g. on a small file system).
  std::map<uint64_t, std::string> data_dirs;
  // limits.min_free_disk_bytes of every node; nullopt keeps credd's default.
  std::optional<uint64_t> min_free_disk_bytes;
  // raft.max_size_per_msg_bytes and batch.max_bytes of every node; 0 keeps credd's defaults.
  uint64_t max_size_per_msg_bytes = 0;
  uint64_t batch_max_bytes = 0;
  // limits.grpc_max_message_bytes of every node; 0 keeps credd's default.
  uint64_t grpc_max_message_bytes = 0;
  // Every node serves Prometheus metrics on a port of its own (Cluster::metric).
  bool metrics = false;
};

// A client context with the role header (empty role = public caller) and a deadline.
std::unique_ptr<grpc::ClientContext> context_as(const std::string& role,
                                                std::chrono::milliseconds deadline = 10s);

// "RESOURCE_EXHAUSTED: message" for failure output.
std::string describe(const grpc::Status& status);

class Cluster {
 public:
  // Writes genesis and configs for options.nodes founding members (ids 1..n) and starts none.
  explicit Cluster(ClusterOptions options = {});
  // Kills every process still running and removes the directory (kept on test failure).
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& dir() const { return dir_; }
  std::vector<uint64_t> ids() const;
  std::vector<uint64_t> running_ids() const;
  std::string address(uint64_t id) const;
  std::string log_path(uint64_t id) const;
  std::string log_text(uint64_t id) const;

  // Starts every configured node, then waits until each answers ClusterStatus.
  void start_all();
  // fork/exec credd for the node and waits (bounded) until it answers ClusterStatus.
  // REQUIREs that the process stays up.
  void start(uint64_t id);
  // kill -9, reaped at once.
  void kill(uint64_t id);
  // SIGTERM; waits up to `grace` for a clean exit (then kill -9). Returns the exit status as
  // waitpid reports it.
  int stop(uint64_t id, std::chrono::milliseconds grace = 10s);
  void restart(uint64_t id) {
    stop(id);
    start(id);
  }
  bool running(uint64_t id);
  // SIGSTOP / SIGCONT: the process keeps its sockets but does nothing until resumed. A paused
  // node still counts as running; kill() and the destructor end it all the same.
  void pause(uint64_t id);
  void resume(uint64_t id);
  bool paused(uint64_t id) const;

  const std::string& genesis_path() const { return genesis_path_; }
  // Keeps the directory and logs when the Cluster is destroyed, whatever the test's outcome
  // (for checks that fail after the cluster is gone).
  void keep_dir() { keep_dir_ = true; }

  // Configures a new node that joins the running cluster (join = true, [peers] = the current
  // members) and returns its id. Does not start it.
  uint64_t add_node();

  // A channel to the node, shared by every caller (reconnects quickly after restarts).
  std::shared_ptr<grpc::Channel> channel(uint64_t id);
  std::unique_ptr<v1::LedgerService::Stub> ledger(uint64_t id);
  std::unique_ptr<v1::QueryService::Stub> query(uint64_t id);
  std::unique_ptr<v1::AuditService::Stub> audit(uint64_t id);
  std::unique_ptr<v1::AdminService::Stub> admin(uint64_t id);

  // ClusterStatus as operator; nullopt if the node does not answer.
  std::optional<v1::ClusterStatusResponse> status(uint64_t id,
                                                  std::chrono::milliseconds deadline = 2s);

  // Waits until the running nodes (but those read-only for a storage problem) agree on one leader
  // that is itself running and says it leads; REQUIREs that this happens within `timeout`. Returns the leader's id.
  uint64_t wait_for_leader(std::chrono::milliseconds timeout = 20s);

  // Waits until every node in `ids` reports the same applied index, equal to the leader's
  // commit index, twice in a row; REQUIREs that this happens within `timeout`. Returns the
  // statuses of the last poll (in `ids` order) for the caller to compare.
  std::vector<v1::ClusterStatusResponse> wait_applied_equal(
      const std::vector<uint64_t>& ids, std::chrono::milliseconds timeout = 30s);

  // The value of one line of the node's metrics page ("name{labels}" exactly); nullopt if the
  // node does not answer or has no such line. REQUIRES: options.metrics.
  std::optional<uint64_t> metric(uint64_t id, const std::string& name) const;

  // The last `lines` lines of each node's log, for failure messages.
  std::string log_tails(size_t lines = 30) const;

 private:
  struct NodeProcess {
    uint64_t id = 0;
    std::string address;
    std::string metrics_address;  // empty unless options.metrics
    std::string config_path;
    std::string log_path;
    pid_t pid = -1;
    bool paused = false;
  };

  void write_config(const NodeProcess& node, const std::map<uint64_t, std::string>& peers,
                    bool join) const;
  // The key file of the agency whose key node `id` holds (written on first use).
  std::string agency_key_file(uint64_t id) const;
  NodeProcess& node(uint64_t id);
  const NodeProcess& node(uint64_t id) const;
  // Reaps the child if it has exited; true if it is still running.
  bool alive(NodeProcess& node);

  ClusterOptions options_;
  std::string dir_;
  std::string genesis_path_;
  std::map<uint64_t, NodeProcess> nodes_;
  bool keep_dir_ = false;
  mutable std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<grpc::Channel>> channels_;  // GUARDED_BY(mu_)
};

// Sets `stop` and joins the client threads however a test body is left (a failed REQUIRE
// throws), so that no client outlives the Cluster it calls.
struct JoinOnExit {
  std::atomic<bool>& stop;
  std::vector<std::thread>& threads;
  ~JoinOnExit() {
    stop = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
};

// Ports free at the moment of the call (bound to 127.0.0.1:0, then released), all distinct.
std::vector<uint16_t> free_ports(size_t count);

// True once a Catch2 assertion failed in the running test case (kept by a listener).
bool current_test_failed();

}  // namespace integration
