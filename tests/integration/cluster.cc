// The integration harness: genesis and configs in a temporary directory, credd processes started
// with fork/exec and tracked by pid, and polling helpers over AdminService.ClusterStatus.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "tests/integration/cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "tests/unit/ledger/fixture.h"

#ifndef CREDD_PATH
#error "CREDD_PATH must name the credd binary (set by tests/integration/CMakeLists.txt)"
#endif

namespace integration {

namespace {

std::atomic<bool> g_test_failed{false};

// Remembers whether any assertion of the running test case failed, so that a Cluster can keep
// its logs for the post-mortem.
class FailureListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    g_test_failed = false;
    TestEventListenerBase::testCaseStarting(info);
  }
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) g_test_failed = true;
    return TestEventListenerBase::assertionEnded(stats);
  }
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  REQUIRE(out.good());
}

std::string tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  size_t seen = 0;
  while (pos > 0 && seen <= lines) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
    ++seen;
  }
  return text.substr(pos);
}

}  // namespace

CATCH_REGISTER_LISTENER(FailureListener)

bool current_test_failed() { return g_test_failed.load(); }

std::unique_ptr<grpc::ClientContext> context_as(const std::string& role,
                                                std::chrono::milliseconds deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!role.empty()) context->AddMetadata("x-credledger-role", role);
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  return context;
}

std::string describe(const grpc::Status& status) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  const std::string name = code >= 0 && code <= 16 ? kNames[code] : std::to_string(code);
  return name + ": " + status.error_message();
}

std::vector<uint16_t> free_ports(size_t count) {
  std::vector<int> sockets;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    sockets.push_back(fd);  // held until all are chosen, so the ports are distinct
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : sockets) ::close(fd);
  return ports;
}

// ---------------------------------------------------------------------------------------------

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  ledger::crypto_init();
  std::string pattern = "/tmp/credledger-itest-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  dir_ = pattern;

  auto genesis = ledger::Consortium::to_genesis(ledger_test::test_config());
  INFO(genesis.status().to_string());
  REQUIRE(genesis.is_ok());
  genesis_path_ = dir_ + "/genesis.json";
  write_file(genesis_path_, *genesis);

  const std::vector<uint16_t> ports = free_ports(options_.nodes);
  std::map<uint64_t, std::string> peers;
  for (size_t i = 0; i < options_.nodes; ++i) {
    NodeProcess n;
    n.id = i + 1;
    n.address = "127.0.0.1:" + std::to_string(ports[i]);
    if (options_.metrics) n.metrics_address = "127.0.0.1:" + std::to_string(free_ports(1)[0]);
    n.config_path = dir_ + "/node" + std::to_string(n.id) + ".toml";
    n.log_path = dir_ + "/node" + std::to_string(n.id) + ".log";
    peers[n.id] = n.address;
    nodes_[n.id] = n;
  }
  for (const auto& [id, n] : nodes_) write_config(n, peers, /*join=*/false);
}

Cluster::~Cluster() {
  for (auto& [id, n] : nodes_) {
    if (n.pid > 0) {
      ::kill(n.pid, SIGKILL);
      int status = 0;
      ::waitpid(n.pid, &status, 0);
      n.pid = -1;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    channels_.clear();
  }
  if (current_test_failed() || std::uncaught_exceptions() > 0) {
    std::cerr << "---- integration test failed; cluster directory kept: " << dir_ << "\n"
              << log_tails(40) << std::flush;
    return;
  }
  if (keep_dir_ || std::getenv("CREDLEDGER_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "cluster directory kept: " << dir_ << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Cluster::agency_key_file(uint64_t id) const {
  static const std::string_view kAgencies[] = {ledger_test::kSamr, ledger_test::kSta,
                                               ledger_test::kCourt};
  const std::string_view agency = kAgencies[(id - 1) % 3];
  const std::string path = dir_ + "/" + std::string(agency) + ".key";
  if (!std::filesystem::exists(path)) {
    ledger::KeyFile key;
    key.agency = std::string(agency);
    key.key_id = ledger_test::key_id_of(agency);
    key.keys = ledger_test::keys_of(agency);
    const base::Status s = ledger::write_key_file(path, key);
    INFO(s.to_string());
    REQUIRE(s.is_ok());
  }
  return path;
}

void Cluster::write_config(const NodeProcess& n, const std::map<uint64_t, std::string>& peers,
                           bool join) const {
  std::ostringstream t;
  t << "node_id = " << n.id << "\n"
    << "data_dir = \""
    << (options_.data_dirs.count(n.id) ? options_.data_dirs.at(n.id)
                                       : dir_ + "/node" + std::to_string(n.id))
    << "\"\n"
    << "genesis = \"" << genesis_path_ << "\"\n"
    << "listen = \"" << n.address << "\"\n"
    << "log_level = \"" << options_.log_level << "\"\n"
    << "join = " << (join ? "true" : "false") << "\n"
    << "agency_key = \"" << agency_key_file(n.id) << "\"\n"
    << "checkpoint_interval_ms = " << options_.checkpoint_interval_ms << "\n";
  if (!n.metrics_address.empty()) t << "metrics_listen = \"" << n.metrics_address << "\"\n";
  t << "\n"
    << "[tls]\ninsecure_plaintext = true\n\n"
    << "[raft]\n"
    << "tick_ms = " << options_.tick_ms << "\n"
    << "election_ticks = " << options_.election_ticks << "\n";
  if (options_.auto_compact_entries) {
    t << "auto_compact_entries = " << options_.auto_compact_entries << "\n";
  }
  if (options_.max_size_per_msg_bytes) {
    t << "max_size_per_msg_bytes = " << options_.max_size_per_msg_bytes << "\n";
  }
  if (options_.batch_max_bytes) t << "\n[batch]\nmax_bytes = " << options_.batch_max_bytes << "\n";
  t << "\n[limits]\n"
    << "submit_timeout_ms = " << options_.submit_timeout_ms << "\n"
    << "verify_threads = " << options_.verify_threads << "\n";
  if (options_.min_free_disk_bytes) {
    t << "min_free_disk_bytes = " << *options_.min_free_disk_bytes << "\n";
  }
  if (options_.grpc_max_message_bytes) {
    t << "grpc_max_message_bytes = " << options_.grpc_max_message_bytes << "\n";
  }
  t << "\n"
    << "[peers]\n";
  for (const auto& [id, address] : peers) {
    const bool routed = options_.peer_route && id != n.id;
    t << id << " = \"" << (routed ? options_.peer_route(n.id, id, address) : address) << "\"\n";
  }
  write_file(n.config_path, t.str());
}

std::vector<uint64_t> Cluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

std::vector<uint64_t> Cluster::running_ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) {
    if (n.pid > 0) out.push_back(id);
  }
  return out;
}

Cluster::NodeProcess& Cluster::node(uint64_t id) {
  auto it = nodes_.find(id);
  REQUIRE(it != nodes_.end());
  return it->second;
}

const Cluster::NodeProcess& Cluster::node(uint64_t id) const {
  auto it = nodes_.find(id);
  REQUIRE(it != nodes_.end());
  return it->second;
}

std::string Cluster::address(uint64_t id) const { return node(id).address; }
std::string Cluster::log_path(uint64_t id) const { return node(id).log_path; }

std::string Cluster::log_text(uint64_t id) const {
  std::ifstream in(node(id).log_path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Cluster::log_tails(size_t lines) const {
  std::string out;
  for (const auto& [id, n] : nodes_) {
    out += "---- " + n.log_path + " (last " + std::to_string(lines) + " lines)\n";
    out += tail(log_text(id), lines);
    out += "\n";
  }
  return out;
}

bool Cluster::alive(NodeProcess& n) {
  if (n.pid <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(n.pid, &status, WNOHANG);
  if (r == n.pid) {
    n.pid = -1;
    n.paused = false;
    return false;
  }
  return true;
}

bool Cluster::running(uint64_t id) { return alive(node(id)); }

void Cluster::pause(uint64_t id) {
  NodeProcess& n = node(id);
  REQUIRE(n.pid > 0);
  REQUIRE(!n.paused);
  REQUIRE(::kill(n.pid, SIGSTOP) == 0);
  n.paused = true;
}

void Cluster::resume(uint64_t id) {
  NodeProcess& n = node(id);
  REQUIRE(n.pid > 0);
  REQUIRE(n.paused);
  REQUIRE(::kill(n.pid, SIGCONT) == 0);
  n.paused = false;
}

bool Cluster::paused(uint64_t id) const { return node(id).paused; }

void Cluster::start_all() {
  for (auto& [id, n] : nodes_) start(id);
}

void Cluster::start(uint64_t id) {
  NodeProcess& n = node(id);
  REQUIRE(n.pid <= 0);
  const int log_fd = ::open(n.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(log_fd >= 0);
  const std::string banner = "==== harness: starting node " + std::to_string(id) + " ====\n";
  REQUIRE(::write(log_fd, banner.data(), banner.size()) == static_cast<ssize_t>(banner.size()));
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::string path = CREDD_PATH;
  std::string flag = "--config";
  std::string config = n.config_path;
  char* argv[] = {path.data(), flag.data(), config.data(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Die with the test process, however it ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::syscall(SYS_close_range, 3u, ~0u, 0u);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  ::close(log_fd);
  n.pid = pid;
  // Ready when it answers; a process that exits (bad config, port taken) fails the test here.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (true) {
    if (!alive(n)) {
      FAIL("credd " << id << " exited during start-up\n" << tail(log_text(id), 40));
    }
    // A fresh channel per probe: one that saw "connection refused" backs off for seconds,
    // however small the backoff arguments. Later callers get the fresh, connected one.
    {
      std::lock_guard<std::mutex> lock(mu_);
      channels_.erase(id);
    }
    if (status(id, 500ms)) return;
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("credd " << id << " did not answer within 20 s\n" << tail(log_text(id), 40));
    }
    std::this_thread::sleep_for(20ms);
  }
}

void Cluster::kill(uint64_t id) {
  NodeProcess& n = node(id);
  REQUIRE(n.pid > 0);
  REQUIRE(::kill(n.pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(n.pid, &status, 0) == n.pid);
  n.pid = -1;
  n.paused = false;
}

int Cluster::stop(uint64_t id, std::chrono::milliseconds grace) {
  NodeProcess& n = node(id);
  REQUIRE(n.pid > 0);
  REQUIRE(::kill(n.pid, SIGTERM) == 0);
  if (n.paused) {
    // A stopped process acts on SIGTERM only once continued.
    ::kill(n.pid, SIGCONT);
    n.paused = false;
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = ::waitpid(n.pid, &status, WNOHANG);
    if (r == n.pid) {
      n.pid = -1;
      return status;
    }
    std::this_thread::sleep_for(10ms);
  }
  WARN("credd " << id << " did not stop within the grace period after SIGTERM; killing it");
  ::kill(n.pid, SIGKILL);
  ::waitpid(n.pid, &status, 0);
  n.pid = -1;
  return status;
}

uint64_t Cluster::add_node() {
  std::map<uint64_t, std::string> peers;
  for (const auto& [id, n] : nodes_) peers[id] = n.address;
  NodeProcess n;
  n.id = nodes_.rbegin()->first + 1;
  n.address = "127.0.0.1:" + std::to_string(free_ports(1)[0]);
  if (options_.metrics) n.metrics_address = "127.0.0.1:" + std::to_string(free_ports(1)[0]);
  n.config_path = dir_ + "/node" + std::to_string(n.id) + ".toml";
  n.log_path = dir_ + "/node" + std::to_string(n.id) + ".log";
  write_config(n, peers, /*join=*/true);
  nodes_[n.id] = n;
  return n.id;
}

std::optional<uint64_t> Cluster::metric(uint64_t id, const std::string& name) const {
  const std::string& address = node(id).metrics_address;
  REQUIRE(!address.empty());
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string page;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: " + address + "\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      for (ssize_t r; (r = ::read(fd, buffer, sizeof buffer)) > 0;) page.append(buffer, r);
    }
  }
  ::close(fd);
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stoull(line.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

std::shared_ptr<grpc::Channel> Cluster::channel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& channel = channels_[id];
  if (!channel) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    // Restarted nodes come back within a second: do not back off for longer than that.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // ipv4: skips the DNS resolver, whose re-resolution cool-down delays reconnects by seconds.
    channel = grpc::CreateCustomChannel("ipv4:" + nodes_.at(id).address,
                                        grpc::InsecureChannelCredentials(), args);
  }
  return channel;
}

std::unique_ptr<v1::LedgerService::Stub> Cluster::ledger(uint64_t id) {
  return v1::LedgerService::NewStub(channel(id));
}
std::unique_ptr<v1::QueryService::Stub> Cluster::query(uint64_t id) {
  return v1::QueryService::NewStub(channel(id));
}
std::unique_ptr<v1::AuditService::Stub> Cluster::audit(uint64_t id) {
  return v1::AuditService::NewStub(channel(id));
}
std::unique_ptr<v1::AdminService::Stub> Cluster::admin(uint64_t id) {
  return v1::AdminService::NewStub(channel(id));
}

std::optional<v1::ClusterStatusResponse> Cluster::status(uint64_t id,
                                                         std::chrono::milliseconds deadline) {
  auto context = context_as("operator:harness", deadline);
  v1::ClusterStatusResponse response;
  const grpc::Status s =
      admin(id)->ClusterStatus(context.get(), v1::ClusterStatusRequest(), &response);
  if (!s.ok()) return std::nullopt;
  return response;
}

uint64_t Cluster::wait_for_leader(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::vector<uint64_t> up = running_ids();
    std::optional<uint64_t> agreed;
    bool ok = !up.empty();
    last.clear();
    for (uint64_t id : up) {
      auto s = status(id, 1s);
      if (!s) {
        ok = false;
        last += "node " + std::to_string(id) + " does not answer; ";
        continue;
      }
      last += "node " + std::to_string(id) + " says leader " + std::to_string(s->leader_id()) +
              " (" + s->role() + ", term " + std::to_string(s->term()) + "); ";
      // A read-only node (its disk is full) takes no part in Raft until it recovers.
      if (!s->storage_problem().empty()) continue;
      if (s->leader_id() == 0 || (agreed && *agreed != s->leader_id())) ok = false;
      agreed = s->leader_id();
    }
    if (ok && agreed && nodes_.count(*agreed) && nodes_.at(*agreed).pid > 0) {
      auto s = status(*agreed, 1s);
      if (s && s->role() == "leader") return *agreed;
    }
    std::this_thread::sleep_for(50ms);
  }
  FAIL("no leader agreed within " << timeout.count() << " ms: " << last << "\n" << log_tails());
  return 0;
}

std::vector<v1::ClusterStatusResponse> Cluster::wait_applied_equal(
    const std::vector<uint64_t>& ids, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  std::optional<uint64_t> previous;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<v1::ClusterStatusResponse> statuses;
    bool ok = true;
    last.clear();
    for (uint64_t id : ids) {
      auto s = status(id, 1s);
      if (!s) {
        ok = false;
        last += "node " + std::to_string(id) + " does not answer; ";
        break;
      }
      last += "node " + std::to_string(id) + ": applied " + std::to_string(s->applied_index()) +
              " commit " + std::to_string(s->commit_index()) + " height " +
              std::to_string(s->height()) + " leader " + std::to_string(s->leader_id()) + "; ";
      statuses.push_back(*s);
    }
    if (ok) {
      uint64_t leader_commit = 0;
      for (const auto& s : statuses) {
        if (s.role() == "leader") leader_commit = s.commit_index();
      }
      if (leader_commit == 0) {
        // The leader may not be in `ids`: ask it.
        const uint64_t leader = statuses.front().leader_id();
        if (leader != 0 && nodes_.count(leader)) {
          if (auto s = status(leader, 1s); s && s->role() == "leader") {
            leader_commit = s->commit_index();
          }
        }
      }
      bool equal = leader_commit != 0;
      for (const auto& s : statuses) equal = equal && s.applied_index() == leader_commit;
      if (equal && previous == leader_commit) return statuses;
      previous = equal ? std::optional<uint64_t>(leader_commit) : std::nullopt;
    }
    std::this_thread::sleep_for(50ms);
  }
  FAIL("applied indexes did not converge within " << timeout.count() << " ms: " << last << "\n"
                                                  << log_tails());
  return {};
}

}  // namespace integration
