// The fault run: cluster behind proxies, client load, the schedule on the calling thread,
// healing, convergence, the checks and the audits. See harness.h.
#include "tests/faults/harness.h"

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/faults/proxy.h"
#include "tests/integration/events.h"

#if !defined(CREDCTL_PATH) || !defined(CREDAUDIT_PATH)
#error "CREDCTL_PATH and CREDAUDIT_PATH must name the tools (set by tests/faults/CMakeLists.txt)"
#endif

namespace faults {

namespace {

using integration::Cluster;
using integration::JoinOnExit;
using namespace std::chrono_literals;

constexpr uint64_t kEventsPerSubject = 40;  // a client moves to a fresh subject after this many
constexpr int kSubmitAttempts = 3;          // a failed batch is retried, to other nodes
constexpr auto kSubmitDeadline = 6s;
constexpr auto kReadDeadline = 3s;
constexpr auto kHealedLoad = 2s;        // load goes on this long after healing
constexpr auto kProgressTimeout = 30s;  // a probe submit must commit within this after healing
constexpr auto kConvergeTimeout = 60s;
constexpr auto kCheckpointTimeout = 15s;  // a quorum checkpoint of the head, once healed

// Subjects that some client has written about, for reads across clients.
class SubjectRegistry {
 public:
  void add(uint64_t subject) {
    std::lock_guard<std::mutex> lock(mu_);
    subjects_.push_back(subject);
  }
  std::optional<uint64_t> pick(std::mt19937_64& rng) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (subjects_.empty()) return std::nullopt;
    return subjects_[rng() % subjects_.size()];
  }

 private:
  mutable std::mutex mu_;
  std::vector<uint64_t> subjects_;  // GUARDED_BY(mu_)
};

struct Load {
  Cluster& cluster;
  History& history;
  SubjectRegistry& subjects;
  uint64_t seed;
  std::vector<uint64_t> nodes;
  std::atomic<bool> stop{false};
};

Op read_op(Load& load, size_t client, uint64_t node, uint64_t subject, bool linearizable) {
  Op op;
  op.client = client;
  op.kind = linearizable ? OpKind::kReadLinearizable : OpKind::kReadLocal;
  op.node = node;
  op.subject = subject;
  v1::StatusRequest request;
  *request.mutable_subject() = ledger_test::enterprise(subject);
  request.set_consistency(linearizable ? v1::LINEARIZABLE : v1::LOCAL);
  v1::SubjectStatus response;
  auto context = integration::context_as("relying:faults", kReadDeadline);
  op.start_us = load.history.now_us();
  const grpc::Status s =
      load.cluster.query(node)->GetSubjectStatus(context.get(), request, &response);
  op.end_us = load.history.now_us();
  op.ok = s.ok();
  if (!s.ok()) {
    op.error = integration::describe(s);
    return op;
  }
  for (const auto& e : response.active_penalties()) op.seen_event_ids.push_back(e.event_id());
  for (const auto& e : response.blacklist_entries()) op.seen_event_ids.push_back(e.event_id());
  op.event_count = response.event_count();
  op.height = response.height();
  return op;
}

// One client: its own agency and subjects; submits batches of 1-4 new events (retrying a
// failed batch with the same signed events), and reads its own or any client's subjects.
void run_client(Load& load, size_t client) {
  static const std::string_view kAgencies[] = {ledger_test::kSamr, ledger_test::kSta,
                                               ledger_test::kCourt};
  const std::string_view agency = kAgencies[client % 3];
  const std::string role = integration::agency_role(agency);
  std::mt19937_64 rng(load.seed * 7919 + client);
  auto any_node = [&] { return load.nodes[rng() % load.nodes.size()]; };
  uint64_t next_event = 0;
  std::vector<uint64_t> own_subjects;
  while (!load.stop.load()) {
    const uint64_t roll = rng() % 100;
    if (roll < 55 || own_subjects.empty()) {
      const size_t n = 1 + rng() % 4;
      std::vector<v1::SignedEvent> events;
      Op op;
      op.client = client;
      op.kind = OpKind::kSubmit;
      for (size_t i = 0; i < n; ++i, ++next_event) {
        const uint64_t subject = (client + 1) * 1000000 + next_event / kEventsPerSubject;
        if (own_subjects.empty() || own_subjects.back() != subject) {
          own_subjects.push_back(subject);
          load.subjects.add(subject);
        }
        op.event_ids.push_back("f" + std::to_string(load.seed) + "-c" + std::to_string(client) +
                               "-" + std::to_string(next_event));
        op.event_subjects.push_back(subject);
        events.push_back(integration::signed_event(op.event_ids.back(), agency,
                                                   ledger_test::enterprise(subject)));
      }
      for (int attempt = 0; attempt < kSubmitAttempts && !load.stop.load(); ++attempt) {
        Op a = op;
        a.attempt = attempt;
        a.node = any_node();
        a.start_us = load.history.now_us();
        const integration::SubmitResult r =
            integration::submit(load.cluster, a.node, role, events, kSubmitDeadline);
        a.end_us = load.history.now_us();
        a.ok = r.status.ok();
        if (a.ok) {
          a.receipts.assign(r.response.receipts().begin(), r.response.receipts().end());
        } else {
          a.error = integration::describe(r.status);
        }
        load.history.add(std::move(a));
        if (r.status.ok()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 80));
      }
    } else {
      const bool linearizable = roll < 88;
      uint64_t subject =
          own_subjects[own_subjects.size() - 1 - rng() % std::min<size_t>(own_subjects.size(), 3)];
      if (rng() % 2 == 0) subject = load.subjects.pick(rng).value_or(subject);
      load.history.add(read_op(load, client, any_node(), subject, linearizable));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 12));
  }
}

std::string schedule_text(const std::vector<AppliedFault>& faults) {
  std::ostringstream o;
  for (const AppliedFault& f : faults) o << "  " << describe(f) << "\n";
  return o.str();
}

// Prints the seed and the schedule so far if the run is left by a failed REQUIRE (no leader
// after healing, a node that will not start, ...), which Catch2 reports on its own.
struct ScheduleOnThrow {
  const RunOptions& options;
  const std::vector<AppliedFault>& faults;
  ~ScheduleOnThrow() {
    if (std::uncaught_exceptions() == 0) return;
    std::cerr << "---- fault run failed: seed " << options.seed << ", " << options.nodes
              << " nodes, " << options.fault_seconds << " s; fault schedule as applied:\n"
              << schedule_text(faults) << std::flush;
  }
};

// Which links are cut, by how many active faults and how; the proxies get the strongest mode.
class LinkState {
 public:
  explicit LinkState(ProxyNet& net) : net_(net) {}
  void cut(uint64_t from, uint64_t to, LinkMode mode) {
    auto& c = cuts_[{from, to}];
    (mode == LinkMode::kRefuse ? c.refuse : c.blackhole)++;
    apply(from, to);
  }
  void uncut(uint64_t from, uint64_t to, LinkMode mode) {
    auto& c = cuts_[{from, to}];
    (mode == LinkMode::kRefuse ? c.refuse : c.blackhole)--;
    apply(from, to);
  }

 private:
  struct Cuts {
    int refuse = 0;
    int blackhole = 0;
  };
  void apply(uint64_t from, uint64_t to) {
    const Cuts& c = cuts_[{from, to}];
    REQUIRE(c.refuse >= 0);
    REQUIRE(c.blackhole >= 0);
    net_.set_mode(from, to,
                  c.refuse > 0      ? LinkMode::kRefuse
                  : c.blackhole > 0 ? LinkMode::kBlackhole
                                    : LinkMode::kPass);
  }
  ProxyNet& net_;
  std::map<std::pair<uint64_t, uint64_t>, Cuts> cuts_;
};

// Applies and heals the planned faults against the cluster, resolving targets when each
// starts.
class FaultDriver {
 public:
  FaultDriver(Cluster& cluster, ProxyNet& net, History& history, const RunOptions& options,
              std::vector<AppliedFault>& applied, std::vector<Violation>& violations)
      : cluster_(cluster),
        links_(net),
        history_(history),
        options_(options),
        rng_(target_rng(options.seed)),
        applied_(applied),
        violations_(violations),
        nodes_(cluster.ids()) {}

  void start(size_t index, const PlannedFault& plan) {
    notice_exits();
    AppliedFault f;
    f.index = index;
    f.plan = plan;
    const LinkMode mode = plan.blackhole ? LinkMode::kBlackhole : LinkMode::kRefuse;
    switch (plan.kind) {
      case FaultKind::kKill:
      case FaultKind::kPause: {
        std::vector<uint64_t> candidates;
        for (uint64_t id : nodes_) {
          if (cluster_.running(id) && !cluster_.paused(id)) candidates.push_back(id);
        }
        if (candidates.empty()) {
          f.note = "skipped: no node is up";
          break;
        }
        uint64_t victim = candidates[rng_() % candidates.size()];
        if (plan.target_leader) {
          const uint64_t leader = find_leader();
          if (std::count(candidates.begin(), candidates.end(), leader)) victim = leader;
        }
        f.nodes = {victim};
        if (plan.kind == FaultKind::kKill) {
          cluster_.kill(victim);
        } else {
          cluster_.pause(victim);
        }
        break;
      }
      case FaultKind::kIsolate:
      case FaultKind::kOneWayOut:
      case FaultKind::kOneWayIn: {
        const uint64_t x = pick_node(plan.target_leader);
        f.nodes = {x};
        for (uint64_t other : nodes_) {
          if (other == x) continue;
          if (plan.kind != FaultKind::kOneWayIn) f.links.emplace_back(x, other);
          if (plan.kind != FaultKind::kOneWayOut) f.links.emplace_back(other, x);
        }
        break;
      }
      case FaultKind::kSplit: {
        const size_t minority = 1 + rng_() % ((nodes_.size() - 1) / 2);
        std::vector<uint64_t> order = nodes_;
        std::shuffle(order.begin(), order.end(), rng_);
        if (plan.target_leader) {
          const uint64_t leader = find_leader();
          auto it = std::find(order.begin(), order.end(), leader);
          if (it != order.end()) std::iter_swap(order.begin(), it);
        }
        const std::set<uint64_t> side(order.begin(), order.begin() + minority);
        f.nodes.assign(side.begin(), side.end());
        for (uint64_t a : nodes_) {
          for (uint64_t b : nodes_) {
            if (side.count(a) && !side.count(b)) {
              f.links.emplace_back(a, b);
              f.links.emplace_back(b, a);
            }
          }
        }
        break;
      }
      case FaultKind::kKillAll: {
        for (uint64_t id : nodes_) {
          if (cluster_.running(id) && !cluster_.paused(id)) f.nodes.push_back(id);
        }
        if (f.nodes.empty()) {
          f.note = "skipped: no node is up";
          break;
        }
        for (uint64_t id : f.nodes) cluster_.kill(id);
        break;
      }
      case FaultKind::kLinkCut: {
        const uint64_t a = pick_node(plan.target_leader);
        uint64_t b = a;
        while (b == a) b = nodes_[rng_() % nodes_.size()];
        f.links.emplace_back(a, b);
        if (plan.both_ways) f.links.emplace_back(b, a);
        break;
      }
    }
    for (const auto& [a, b] : f.links) links_.cut(a, b, mode);
    if (f.note.empty()) {
      f.applied_us = history_.now_us();
      ++applied_count_;
    }
    active_[index] = applied_.size();
    applied_.push_back(f);
    if (options_.verbose) std::cerr << "  + " << describe(f) << "\n" << std::flush;
  }

  void end(size_t index) {
    auto it = active_.find(index);
    if (it == active_.end()) return;
    AppliedFault& f = applied_[it->second];
    if (f.applied_us < 0) {  // skipped
      active_.erase(it);
      return;
    }
    const LinkMode mode = f.plan.blackhole ? LinkMode::kBlackhole : LinkMode::kRefuse;
    switch (f.plan.kind) {
      case FaultKind::kKill:
      case FaultKind::kKillAll:
        for (uint64_t id : f.nodes) {
          if (!cluster_.running(id)) cluster_.start(id);
        }
        break;
      case FaultKind::kPause:
        if (cluster_.running(f.nodes[0]) && cluster_.paused(f.nodes[0])) {
          cluster_.resume(f.nodes[0]);
        }
        break;
      default:
        for (const auto& [a, b] : f.links) links_.uncut(a, b, mode);
        break;
    }
    f.healed_us = history_.now_us();
    active_.erase(it);
    notice_exits();
    if (options_.verbose) std::cerr << "  - " << describe(f) << "\n" << std::flush;
  }

  void end_all() {
    std::vector<size_t> open;
    for (const auto& [index, at] : active_) open.push_back(index);
    for (size_t index : open) end(index);
    notice_exits();
  }

  uint64_t applied_count() const { return applied_count_; }

 private:
  // The node that says it leads in the highest term, among those that answer; 0 if none.
  uint64_t find_leader() {
    uint64_t leader = 0, term = 0;
    for (uint64_t id : nodes_) {
      if (!cluster_.running(id) || cluster_.paused(id)) continue;
      auto s = cluster_.status(id, 300ms);
      if (s && s->role() == "leader" && s->term() >= term) {
        leader = id;
        term = s->term();
      }
    }
    return leader;
  }

  uint64_t pick_node(bool leader) {
    const uint64_t random = nodes_[rng_() % nodes_.size()];
    if (!leader) return random;
    const uint64_t l = find_leader();
    return l != 0 ? l : random;
  }

  // A node that exited without being killed crashed on its own: that is a finding. It is
  // restarted so that the run can go on.
  void notice_exits() {
    for (uint64_t id : nodes_) {
      if (expected_down(id) || cluster_.running(id)) continue;
      violations_.push_back(Violation{"node " + std::to_string(id) +
                                          " exited on its own; last log lines:\n" +
                                          last_lines(cluster_.log_text(id), 30),
                                      {}});
      cluster_.start(id);
    }
  }

  bool expected_down(uint64_t id) const {
    for (const auto& [index, at] : active_) {
      const AppliedFault& f = applied_[at];
      const bool kills = f.plan.kind == FaultKind::kKill || f.plan.kind == FaultKind::kKillAll;
      if (kills && f.applied_us >= 0 && std::count(f.nodes.begin(), f.nodes.end(), id)) {
        return true;
      }
    }
    return false;
  }

  static std::string last_lines(const std::string& text, size_t lines) {
    size_t pos = text.size();
    for (size_t seen = 0; pos > 0 && seen <= lines; ++seen) {
      pos = text.rfind('\n', pos - 1);
      if (pos == std::string::npos) return text;
    }
    return text.substr(pos);
  }

  Cluster& cluster_;
  LinkState links_;
  History& history_;
  const RunOptions& options_;
  std::mt19937_64 rng_;
  std::vector<AppliedFault>& applied_;
  std::vector<Violation>& violations_;
  const std::vector<uint64_t> nodes_;
  std::map<size_t, size_t> active_;  // plan index -> position in applied_
  uint64_t applied_count_ = 0;
};

// Submits one probe event until it commits or `timeout` passes; records every attempt.
bool probe_progress(Load& load, size_t client, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const uint64_t subject = 99000000 + load.seed % 1000000;
  Op op;
  op.client = client;
  op.kind = OpKind::kSubmit;
  op.event_ids = {"f" + std::to_string(load.seed) + "-probe"};
  op.event_subjects = {subject};
  const std::vector<v1::SignedEvent> events = {integration::signed_event(
      op.event_ids[0], ledger_test::kSamr, ledger_test::enterprise(subject))};
  for (int attempt = 0; std::chrono::steady_clock::now() < deadline; ++attempt) {
    Op a = op;
    a.attempt = attempt;
    a.node = load.nodes[static_cast<size_t>(attempt) % load.nodes.size()];
    a.start_us = load.history.now_us();
    const integration::SubmitResult r =
        integration::submit(load.cluster, a.node, "agency:samr", events, 5s);
    a.end_us = load.history.now_us();
    a.ok = r.status.ok();
    if (a.ok) {
      a.receipts.assign(r.response.receipts().begin(), r.response.receipts().end());
    } else {
      a.error = integration::describe(r.status);
    }
    load.history.add(std::move(a));
    if (r.status.ok()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

// Runs a command line through the shell with its output in `log`; returns its exit code.
int run_command(const std::string& command, const std::string& log) {
  const std::string line = command + " >" + log + " 2>&1";
  const int status = std::system(line.c_str());
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits for the node to serve a checkpoint cosigned by a quorum at height `head`.
bool quorum_checkpoint_at(Cluster& cluster, uint64_t node, uint64_t head) {
  const auto deadline = std::chrono::steady_clock::now() + kCheckpointTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    v1::CheckpointResponse response;
    auto context = integration::context_as("", 2s);
    const grpc::Status s =
        cluster.audit(node)->GetCheckpoint(context.get(), v1::GetCheckpointRequest(), &response);
    if (s.ok() && response.quorum() && response.checkpoint().height() == head) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// credctl export + credctl checkpoint + credaudit verify for one node; a violation if any fails.
void audit_node(Cluster& cluster, uint64_t node, uint64_t head, RunReport& report) {
  const std::string base = cluster.dir() + "/audit-node" + std::to_string(node);
  std::filesystem::create_directories(base);
  auto fail = [&](const std::string& step, const std::string& log) {
    report.check.violations.push_back(Violation{
        "node " + std::to_string(node) + ": " + step + " failed:\n" + read_text(log), {}});
  };
  if (!quorum_checkpoint_at(cluster, node, head)) {
    report.check.violations.push_back(
        Violation{"node " + std::to_string(node) + " served no quorum checkpoint of head " +
                      std::to_string(head) + " within 15 s after healing",
                  {}});
    return;
  }
  const std::string credctl =
      std::string(CREDCTL_PATH) + " --insecure --endpoints " + cluster.address(node);
  const std::string chain = base + "/chain.bin";
  const std::string cp = base + "/cp.json";
  if (run_command(credctl + " --role auditor:faults export --out " + chain, base + "/export.log") !=
      0) {
    return fail("credctl export", base + "/export.log");
  }
  if (run_command(credctl + " checkpoint --out " + cp, base + "/checkpoint.log") != 0) {
    return fail("credctl checkpoint", base + "/checkpoint.log");
  }
  const std::string verify = std::string(CREDAUDIT_PATH) + " verify --genesis " +
                             cluster.genesis_path() + " --chain " + chain + " --checkpoint " + cp +
                             " --quiet --threads 2 --work-dir " + base;
  if (run_command(verify, base + "/verify.log") != 0) {
    return fail("credaudit verify", base + "/verify.log");
  }
  ++report.audits_passed;
}

// Once converged, every node's view and event index must agree with the chain: for every
// subject, a LOCAL status lists exactly the accepted events about it; for a sample of events
// (every 7th, and the last ones), GetEvent gives the chain's receipt and place. A node that
// caught up by block sync or restarted mid-apply rebuilt both from blocks: this checks that too.
void check_final_views(Cluster& cluster, const std::vector<uint64_t>& nodes,
                       const std::vector<Op>& ops, const std::vector<v1::Block>& chain,
                       RunReport& report) {
  std::map<std::string, uint64_t> subject_of;
  for (const Op& op : ops) {
    for (size_t i = 0; i < op.event_ids.size(); ++i) {
      subject_of[op.event_ids[i]] = op.event_subjects[i];
    }
  }
  std::map<uint64_t, std::set<std::string>> expected;  // subject -> accepted events about it
  std::vector<v1::Receipt> sample;
  const uint64_t accepted = report.check.stats.accepted_on_chain;
  for (const v1::Block& block : chain) {
    for (const v1::Receipt& r : block.receipts()) {
      if (!r.accepted()) continue;
      const auto it = subject_of.find(r.event_id());
      if (it != subject_of.end()) expected[it->second].insert(r.event_id());
      if (r.sequence() % 7 == 0 || r.sequence() + 20 >= accepted) sample.push_back(r);
    }
  }
  const int64_t now = integration::wall_ms();
  for (uint64_t node : nodes) {
    size_t reported = 0;
    auto violation = [&](const std::string& what) {
      if (reported++ < 10) {
        report.check.violations.push_back(
            Violation{"node " + std::to_string(node) + ": " + what, {}});
      }
    };
    for (const auto& [subject, events] : expected) {
      v1::StatusRequest request;
      *request.mutable_subject() = ledger_test::enterprise(subject);
      request.set_as_of_ms(now);
      v1::SubjectStatus response;
      auto context = integration::context_as("relying:faults", 5s);
      const grpc::Status s =
          cluster.query(node)->GetSubjectStatus(context.get(), request, &response);
      if (!s.ok()) {
        violation("status of subject " + std::to_string(subject) + ": " + integration::describe(s));
        continue;
      }
      std::set<std::string> seen;
      for (const auto& e : response.active_penalties()) seen.insert(e.event_id());
      for (const auto& e : response.blacklist_entries()) seen.insert(e.event_id());
      if (seen != events || response.event_count() != events.size()) {
        violation("the view of subject " + std::to_string(subject) + " lists " +
                  std::to_string(seen.size()) + " active entries and event_count " +
                  std::to_string(response.event_count()) + "; the chain has " +
                  std::to_string(events.size()) + " accepted events about it");
      }
    }
    for (const v1::Receipt& receipt : sample) {
      const integration::EventResult e =
          integration::get_event(cluster, node, receipt.event_id(), "auditor:faults");
      const bool same = e.status.ok() &&
                        e.response.receipt().SerializeAsString() == receipt.SerializeAsString() &&
                        e.response.height() == receipt.height() &&
                        e.response.index() == receipt.index();
      if (!same) {
        violation("GetEvent " + receipt.event_id() + ": " + integration::describe(e.status) + " " +
                  e.response.receipt().ShortDebugString() + "; the chain has " +
                  receipt.ShortDebugString());
      }
    }
    if (reported > 10) {
      report.check.violations.push_back(Violation{"node " + std::to_string(node) + ": " +
                                                      std::to_string(reported - 10) +
                                                      " more view or event-index mismatches",
                                                  {}});
    }
  }
  report.view_subjects_checked = expected.size();
  report.events_looked_up = sample.size();
}

}  // namespace

bool compacts_aggressively(uint64_t seed) { return seed % 2 == 1; }

std::string RunReport::summary() const {
  std::ostringstream o;
  o << "seed " << options.seed << ", " << options.nodes << " nodes, " << options.fault_seconds
    << " s of faults"
    << (compacts_aggressively(options.seed) ? ", log compacted every 64 entries" : "") << ": "
    << faults_applied << " faults applied (";
  bool first = true;
  for (size_t k = 0; k < kFaultKinds; ++k) {
    if (applied_by_kind[k] == 0) continue;
    o << (first ? "" : ", ") << fault_kind_name(static_cast<FaultKind>(k)) << " "
      << applied_by_kind[k];
    first = false;
  }
  o << "); " << operations << " operations (submits " << submits_ok << "/" << submits
    << " ok, linearizable reads " << reads_linearizable_ok << "/" << reads_linearizable
    << " ok, local reads " << reads_local_ok << "/" << reads_local << " ok); "
    << check.stats.acknowledged_events << " acknowledged events, " << check.stats.accepted_on_chain
    << " accepted on a chain of " << check.stats.blocks << " blocks ("
    << check.stats.unacknowledged_committed << " committed without acknowledgement, "
    << check.stats.rejected_duplicates << " raced retries rejected as duplicates); "
    << check.stats.linearizable_reads_checked << " linearizable reads checked; views of "
    << view_subjects_checked << " subjects and " << events_looked_up
    << " event lookups checked on every node; final term " << final_term
    << "; credaudit verify passed on " << audits_passed << " of " << options.nodes << " nodes; "
    << static_cast<int64_t>(wall_seconds) << " s in all; " << (ok() ? "PASS" : "FAIL");
  if (!ok()) o << " (" << check.violations.size() << " violations)";
  return o.str();
}

RunReport run_faults(const RunOptions& options) {
  RunReport report;
  report.options = options;
  const auto started = std::chrono::steady_clock::now();
  REQUIRE((options.nodes == 3 || options.nodes == 5));
  std::cerr << "fault run: seed " << options.seed << ", " << options.nodes << " nodes, "
            << options.fault_seconds << " s of faults\n"
            << std::flush;

  ProxyNet net;
  integration::ClusterOptions cluster_options;
  cluster_options.nodes = options.nodes;
  cluster_options.tick_ms = options.tick_ms;
  cluster_options.election_ticks = options.election_ticks;
  cluster_options.submit_timeout_ms = 4000;
  if (compacts_aggressively(options.seed)) cluster_options.auto_compact_entries = 64;
  cluster_options.peer_route = [&net](uint64_t from, uint64_t to, const std::string& address) {
    return net.add_link(from, to, address);
  };
  Cluster cluster(cluster_options);
  ScheduleOnThrow print_schedule{options, report.faults};
  report.cluster_dir = cluster.dir();
  cluster.start_all();
  cluster.wait_for_leader();

  History history;
  SubjectRegistry subjects;
  Load load{cluster, history, subjects, options.seed, cluster.ids()};
  const size_t clients = options.clients ? options.clients : 2 * options.nodes;
  std::vector<std::thread> threads;
  JoinOnExit join{load.stop, threads};
  for (size_t c = 0; c < clients; ++c) threads.emplace_back([&load, c] { run_client(load, c); });

  // The schedule, on this thread (it forks and reaps the nodes).
  ScheduleOptions schedule;
  schedule.nodes = options.nodes;
  schedule.phase_ms = options.fault_seconds * 1000;
  schedule.election_timeout_ms = static_cast<int64_t>(options.tick_ms * options.election_ticks);
  const std::vector<PlannedFault> plan = plan_faults(options.seed, schedule);
  struct Action {
    int64_t at_ms;
    bool end;
    size_t index;
  };
  std::vector<Action> actions;
  for (size_t i = 0; i < plan.size(); ++i) {
    actions.push_back({plan[i].start_ms, false, i});
    actions.push_back({plan[i].start_ms + plan[i].duration_ms, true, i});
  }
  std::stable_sort(actions.begin(), actions.end(), [](const Action& a, const Action& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.end > b.end;
  });
  FaultDriver driver(cluster, net, history, options, report.faults, report.check.violations);
  const int64_t phase_start_us = history.now_us();
  for (const Action& a : actions) {
    // Faults still on at the end of the phase are healed below with the rest.
    if (a.at_ms > schedule.phase_ms) break;
    const int64_t wait_us = phase_start_us + a.at_ms * 1000 - history.now_us();
    if (wait_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
    if (a.end) {
      driver.end(a.index);
    } else {
      driver.start(a.index, plan[a.index]);
    }
  }
  const int64_t remaining_us = phase_start_us + schedule.phase_ms * 1000 - history.now_us();
  if (remaining_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(remaining_us));

  // Heal, let the load run on a little, then stop it.
  driver.end_all();
  std::this_thread::sleep_for(kHealedLoad);
  load.stop = true;
  for (auto& t : threads) t.join();
  threads.clear();

  report.faults_applied = driver.applied_count();
  for (const AppliedFault& f : report.faults) {
    if (f.applied_us >= 0) ++report.applied_by_kind[static_cast<size_t>(f.plan.kind)];
  }

  std::vector<Violation> run_violations = std::move(report.check.violations);
  const bool progressed = probe_progress(load, clients, kProgressTimeout);
  if (!progressed) {
    run_violations.push_back(Violation{"no submit committed within 30 s after healing", {}});
  }
  const std::vector<uint64_t> nodes = cluster.ids();
  std::map<uint64_t, std::vector<v1::Block>> chains;
  std::map<uint64_t, v1::ClusterStatusResponse> heads;
  if (progressed) {
    cluster.wait_for_leader();
    const auto statuses = cluster.wait_applied_equal(nodes, kConvergeTimeout);
    for (size_t i = 0; i < nodes.size(); ++i) {
      heads[nodes[i]] = statuses[i];
      report.final_term = std::max(report.final_term, statuses[i].term());
      chains[nodes[i]] = integration::all_blocks(cluster, nodes[i]);
    }
  }
  const std::vector<Op> ops = history.snapshot();
  if (progressed) {
    report.check = check_run(ops, chains, heads);
    check_final_views(cluster, nodes, ops, chains.begin()->second, report);
    for (uint64_t node : nodes) audit_node(cluster, node, heads.at(node).height(), report);
  }
  report.check.violations.insert(report.check.violations.begin(), run_violations.begin(),
                                 run_violations.end());

  report.operations = ops.size();
  for (const Op& op : ops) {
    switch (op.kind) {
      case OpKind::kSubmit:
        ++report.submits;
        report.submits_ok += op.ok;
        break;
      case OpKind::kReadLinearizable:
        ++report.reads_linearizable;
        report.reads_linearizable_ok += op.ok;
        break;
      case OpKind::kReadLocal:
        ++report.reads_local;
        report.reads_local_ok += op.ok;
        break;
    }
  }

  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!report.ok()) {
    cluster.keep_dir();
    std::ostringstream o;
    o << "FAULT RUN FAILED: seed " << options.seed << ", " << options.nodes << " nodes, "
      << options.fault_seconds << " s of faults (replay: credledger_faults --seed " << options.seed
      << " --nodes " << options.nodes << " --seconds " << options.fault_seconds
      << ")\ncluster directory (logs, exports): " << cluster.dir()
      << "\nfault schedule as applied (times on the operation clock):\n"
      << schedule_text(report.faults) << "violations:\n";
    std::set<uint64_t> offending;
    for (const Violation& v : report.check.violations) {
      o << "  - " << v.what;
      if (!v.ops.empty()) {
        o << " [ops";
        for (uint64_t id : v.ops) o << " " << id;
        o << "]";
      }
      o << "\n";
      offending.insert(v.ops.begin(), v.ops.end());
    }
    o << "offending operations:\n";
    size_t listed = 0;
    for (uint64_t id : offending) {
      if (id < ops.size() && listed++ < 40) o << "  " << describe(ops[id]) << "\n";
    }
    report.failure = o.str();
  }
  return report;
}

}  // namespace faults
