#include "tests/sim/simulator.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <unordered_set>
#include <vector>

#include "consensus/memory_log_storage.h"
#include "consensus/raft.h"
#include "tests/sim/checkers.h"

namespace sim {
namespace {

using consensus::CompactionPoint;
using consensus::Config;
using consensus::Entry;
using consensus::EntryType;
using consensus::Membership;
using consensus::MembershipChange;
using consensus::MembershipChangeType;
using consensus::Message;
using consensus::MessageType;
using consensus::NodeId;
using consensus::Raft;
using consensus::Ready;
using consensus::Role;

// Fault rates are in parts per million per opportunity, so a run uses only integer arithmetic.
struct Faults {
  uint64_t delay_max_ticks = 1;
  uint64_t loss_ppm = 0;
  uint64_t duplicate_ppm = 0;
  uint64_t crash_ppm = 0;            // per tick, one random node
  uint64_t crash_mid_ready_ppm = 0;  // per Ready handled
  uint64_t partition_ppm = 0;        // per tick, a new partition (or a heal)
  uint64_t propose_ppm = 0;
  uint64_t read_ppm = 0;
  uint64_t membership_ppm = 0;
  uint64_t transfer_ppm = 0;
  uint64_t compact_ppm = 0;  // per node per tick
  uint64_t leader_crash_percent = 50;  // share of crashes aimed at the leader
  uint64_t restart_ticks_max = 40;
};

struct Envelope {
  uint64_t deliver_at;
  uint64_t seq;
  Message message;
  bool operator>(const Envelope& o) const {
    return deliver_at != o.deliver_at ? deliver_at > o.deliver_at : seq > o.seq;
  }
};

struct CatchUpTransfer {
  uint64_t deliver_at;
  NodeId from;
  NodeId to;
};

struct Node {
  NodeId id = 0;
  std::unique_ptr<consensus::MemoryLogStorage> storage;  // survives crashes
  std::unique_ptr<consensus::SplitMix64Rng> rng;
  std::unique_ptr<Raft> raft;  // null while crashed
  // The durable state machine (the ledger in credledger): how far it applied. Survives crashes.
  uint64_t applied_index = 0;
  uint64_t commit_seen = 0;  // commit index already reported to the checkers
  uint64_t restart_at = 0;
  bool up() const { return raft != nullptr; }
};

class Simulation {
 public:
  explicit Simulation(const Options& options) : options_(options), rng_(options.seed) {}

  Result run();

 private:
  bool chance(uint64_t ppm) { return ppm > 0 && rng_.uniform(1'000'000) < ppm; }
  void log(const std::string& line) {
    if (options_.verbose) std::fprintf(stderr, "[t=%llu] %s\n", (unsigned long long)now_, line.c_str());
  }
  void fail(const std::string& what) { checkers_.fail(what); }

  Config make_config(NodeId id, uint64_t applied) const;
  void start(Node& node);
  void crash(Node& node, const char* when);
  void check(Node& node);
  void handle_ready(Node& node);
  void send(const Message& m);
  void check_leader_commit(Node& leader, uint64_t index);
  void deliver_due();
  void deliver_catch_ups();
  void tick_all();
  void chaos_events();
  void client_events(bool allow_config_changes);
  void new_partition();
  void heal();
  Node* highest_leader();
  std::vector<Node*> leaders();

  Options options_;
  consensus::SplitMix64Rng rng_;
  Faults faults_;
  Checkers checkers_;
  Result result_;
  uint64_t now_ = 0;
  std::vector<Node> nodes_;  // nodes_[id - 1]
  std::priority_queue<Envelope, std::vector<Envelope>, std::greater<Envelope>> network_;
  uint64_t send_seq_ = 0;
  std::vector<CatchUpTransfer> catch_ups_;
  std::set<std::pair<NodeId, NodeId>> blocked_;  // (from, to) links that drop everything
  bool network_faults_ = true;
  bool fifo_links_ = false;  // else messages on one link may overtake each other
  std::map<std::pair<NodeId, NodeId>, uint64_t> link_last_delivery_;
  bool crashes_ = true;
  uint64_t write_counter_ = 0;
  uint64_t read_counter_ = 0;
  uint64_t probe_counter_ = 0;
  std::unordered_set<std::string> acked_writes_;
  std::map<std::string, uint64_t> read_started_;  // context -> max acked index at start
};

Config Simulation::make_config(NodeId id, uint64_t applied) const {
  Config c;
  c.id = id;
  c.election_timeout_ticks = 12;
  c.heartbeat_ticks = 2;
  // Small bounds so pipelining, flow control and back-off are exercised constantly.
  c.max_inflight_msgs = 3;
  c.max_inflight_bytes = 64;
  c.max_size_per_msg_bytes = options_.profile == Profile::kLeaderChurn ? 4 : 8;
  c.max_uncommitted_bytes = 4096;
  c.max_entry_bytes = 64;
  c.max_committed_bytes_per_ready = 64;
  c.max_pending_reads = 64;
  c.applied = applied;
  return c;
}

void Simulation::start(Node& node) {
  auto created = Raft::create(make_config(node.id, node.applied_index), *node.storage, *node.rng);
  if (!created.is_ok()) {
    fail("node " + std::to_string(node.id) + " failed to restart: " + created.status().to_string());
    return;
  }
  node.raft = std::move(created).value();
  node.commit_seen = node.raft->commit_index();
  log("start node " + std::to_string(node.id) + " term " + std::to_string(node.raft->term()) +
      " last " + std::to_string(node.raft->last_index()) + " commit " +
      std::to_string(node.raft->commit_index()));
  check(node);
}

void Simulation::crash(Node& node, const char* when) {
  log("crash node " + std::to_string(node.id) + " " + when);
  node.raft.reset();
  node.restart_at = now_ + 1 + rng_.uniform(faults_.restart_ticks_max);
  ++result_.crashes;
}

void Simulation::check(Node& node) {
  if (!node.up()) return;
  base::Status s = node.raft->check_invariants();
  if (!s.is_ok()) fail(s.message());
}

void Simulation::send(const Message& m) {
  if (m.type == MessageType::kVoteResponse && !m.reject) {
    checkers_.on_vote_granted(m.from, m.term, m.to);
  }
  if (m.to == 0 || m.to > nodes_.size()) return;
  int copies = 1;
  if (network_faults_) {
    if (chance(faults_.loss_ppm)) return;
    if (chance(faults_.duplicate_ppm)) copies = 2;
  }
  for (int i = 0; i < copies; ++i) {
    uint64_t deliver_at = now_ + 1 + rng_.uniform(faults_.delay_max_ticks);
    if (fifo_links_) {
      // A stream transport (TCP, gRPC) keeps each link in order; ties keep send order.
      uint64_t& last = link_last_delivery_[{m.from, m.to}];
      deliver_at = std::max(deliver_at, last);
      last = deliver_at;
    }
    network_.push(Envelope{deliver_at, send_seq_++, m});
  }
}

void Simulation::handle_ready(Node& node) {
  while (node.up() && node.raft->has_ready() && checkers_.ok()) {
    Ready rd = node.raft->ready();
    if (crashes_ && chance(faults_.crash_mid_ready_ppm)) {
      crash(node, "before persisting a Ready");
      return;
    }
    // 1. Persist.
    if (!rd.entries.empty()) {
      uint64_t first = rd.entries.front().index;
      base::Result<uint64_t> prev = node.storage->term(first - 1);
      uint64_t prev_term = prev.is_ok() ? *prev : 0;
      std::vector<Entry> replaced;
      uint64_t replaced_hi = std::min(node.storage->last_index(), rd.entries.back().index);
      if (first <= replaced_hi) {
        auto old = node.storage->entries(first, replaced_hi + 1, UINT64_MAX);
        if (old.is_ok()) replaced = std::move(old).value();
      }
      base::Status s = node.storage->append(rd.entries);
      if (!s.is_ok()) return fail("append: " + s.to_string());
      checkers_.on_persisted(node.id, rd.entries, replaced, prev_term);
    }
    if (rd.hard_state) {
      base::Status s = node.storage->set_hard_state(*rd.hard_state);
      if (!s.is_ok()) return fail("set_hard_state: " + s.to_string());
    }
    if (rd.hard_state && rd.hard_state->commit > node.commit_seen) {
      checkers_.on_committed(node.id, node.commit_seen, rd.hard_state->commit, *node.raft);
      node.commit_seen = rd.hard_state->commit;
      if (node.raft->role() == Role::kLeader) check_leader_commit(node, rd.hard_state->commit);
    }
    if (crashes_ && chance(faults_.crash_mid_ready_ppm)) {
      crash(node, "after persisting, before sending");
      return;
    }
    // 2. Send.
    for (const Message& m : rd.messages) send(m);
    if (crashes_ && chance(faults_.crash_mid_ready_ppm)) {
      crash(node, "after sending, before applying");
      return;
    }
    // 3. Apply, serve reads, start catch-ups.
    for (const Entry& e : rd.committed_entries) {
      if (e.index != node.applied_index + 1) {
        return fail("node " + std::to_string(node.id) + " handed entry " +
                    std::to_string(e.index) + " to apply after " +
                    std::to_string(node.applied_index));
      }
      checkers_.on_applied(node.id, e);
      node.applied_index = e.index;
      if (e.type == EntryType::kNormal && !e.data.empty()) {
        if (e.data[0] == 'w' && acked_writes_.insert(e.data).second) {
          checkers_.on_write_acked(e.index);
        }
      }
      result_.entries_committed = std::max(result_.entries_committed, e.index);
    }
    for (const consensus::ReadState& rs : rd.read_states) {
      auto it = read_started_.find(rs.context);
      if (it == read_started_.end()) {
        return fail("node " + std::to_string(node.id) + " returned unknown read " + rs.context);
      }
      checkers_.on_read(node.id, rs.index, it->second);
      read_started_.erase(it);
      ++result_.reads_served;
    }
    for (const std::string& ctx : rd.dropped_reads) read_started_.erase(ctx);
    for (const consensus::CatchUp& cu : rd.catch_ups) {
      log("catch-up notice: node " + std::to_string(cu.peer) + " from " +
          std::to_string(cu.from_index));
      catch_ups_.push_back({now_ + 1 + rng_.uniform(faults_.delay_max_ticks), node.id, cu.peer});
    }
    if (rd.soft_state && rd.soft_state->role == Role::kLeader) {
      log("node " + std::to_string(node.id) + " leader of term " +
          std::to_string(node.raft->term()));
      ++result_.elections;
      checkers_.on_leader(node.id, node.raft->term(), *node.raft);
    }
    // 4. Advance.
    node.raft->advance();
    check(node);
  }
}

void Simulation::check_leader_commit(Node& leader, uint64_t index) {
  base::Result<std::vector<Entry>> got = leader.raft->entries(index, index + 1);
  if (!got.is_ok() || got->empty()) return;
  const Entry& e = got->front();
  std::vector<Checkers::LogSummary> logs;
  for (NodeId id : leader.raft->membership().voters) {
    const consensus::MemoryLogStorage& st = *nodes_[id - 1].storage;
    uint64_t last = st.last_index();
    base::Result<uint64_t> last_term = st.term(last);
    base::Result<uint64_t> t = st.term(index);
    bool holds = index < st.first_index() || (t.is_ok() && *t == e.term);
    logs.push_back({id, last, last_term.is_ok() ? *last_term : 0, holds});
  }
  checkers_.on_leader_commit(leader.id, e, logs);
}

void Simulation::deliver_due() {
  while (!network_.empty() && network_.top().deliver_at <= now_ && checkers_.ok()) {
    Envelope env = network_.top();
    network_.pop();
    const Message& m = env.message;
    Node& to = nodes_[m.to - 1];
    if (!to.up() || blocked_.count({m.from, m.to})) continue;
    ++result_.messages_delivered;
    base::Status s = to.raft->step(m);
    if (!s.is_ok()) {
      fail("node " + std::to_string(to.id) + " rejected " + consensus::message_type_name(m.type) +
           " from " + std::to_string(m.from) + ": " + s.to_string());
      return;
    }
    check(to);
    handle_ready(to);
  }
}

void Simulation::deliver_catch_ups() {
  // Handling a transfer may queue new ones (a leader that still cannot replicate asks again).
  std::vector<CatchUpTransfer> due;
  due.swap(catch_ups_);
  std::vector<CatchUpTransfer> later;
  for (const CatchUpTransfer& t : due) {
    if (!checkers_.ok()) return;
    if (t.deliver_at > now_) {
      later.push_back(t);
      continue;
    }
    Node& src = nodes_[t.from - 1];
    Node& dst = nodes_[t.to - 1];
    bool reachable = src.up() && dst.up() && !blocked_.count({t.from, t.to}) &&
                     !blocked_.count({t.to, t.from});
    uint64_t index = src.applied_index;
    if (!reachable || index <= (dst.up() ? dst.raft->commit_index() : 0)) {
      // Nothing to transfer (or no way to): the leader probes again from what the peer has.
      if (src.up() && src.raft->role() == Role::kLeader) {
        uint64_t have = dst.up() ? dst.raft->commit_index() : 0;
        (void)src.raft->report_catch_up(t.to, have, reachable);
        handle_ready(src);
      }
      continue;
    }
    base::Result<uint64_t> term = src.raft->term_at(index);
    base::Result<Membership> membership = src.raft->membership_at(index);
    if (!term.is_ok() || !membership.is_ok()) {
      fail("catch-up source " + std::to_string(src.id) + " cannot describe its applied index");
      return;
    }
    CompactionPoint point{index, *term, *membership};
    // A log that already holds the point's entry keeps its suffix: it may have acknowledged
    // those entries to the leader (see Raft::reset_log).
    if (!dst.raft->term_at(index).is_ok() || *dst.raft->term_at(index) != *term) {
      base::Status s = dst.storage->reset(point);
      if (s.is_ok()) s = dst.raft->reset_log(point);
      if (!s.is_ok()) return fail("catch-up reset on node " + std::to_string(dst.id) + ": " +
                                  s.to_string());
      dst.applied_index = index;
      dst.commit_seen = std::max(dst.commit_seen, index);
      ++result_.catch_ups;
      log("node " + std::to_string(dst.id) + " caught up to " + std::to_string(index) +
          " from node " + std::to_string(src.id));
    }
    check(dst);
    handle_ready(dst);
    if (src.raft->role() == Role::kLeader) {
      (void)src.raft->report_catch_up(t.to, index, true);
      handle_ready(src);
    }
  }
  catch_ups_.insert(catch_ups_.end(), later.begin(), later.end());
}

void Simulation::tick_all() {
  for (Node& node : nodes_) {
    if (!checkers_.ok()) return;
    if (!node.up()) {
      if (now_ >= node.restart_at) start(node);
      if (!node.up()) continue;
    }
    node.raft->tick();
    check(node);
    handle_ready(node);
  }
}

std::vector<Node*> Simulation::leaders() {
  std::vector<Node*> out;
  for (Node& node : nodes_) {
    if (node.up() && node.raft->role() == Role::kLeader) out.push_back(&node);
  }
  return out;
}

Node* Simulation::highest_leader() {
  Node* best = nullptr;
  for (Node* n : leaders()) {
    if (!best || n->raft->term() > best->raft->term()) best = n;
  }
  return best;
}

void Simulation::new_partition() {
  blocked_.clear();
  uint64_t kind = rng_.uniform(10);
  size_t n = nodes_.size();
  if (kind < 4) {
    log("network healed");
    return;
  }
  if (kind < 7) {
    // Symmetric split into two sides.
    std::vector<int> side(n);
    for (size_t i = 0; i < n; ++i) side[i] = static_cast<int>(rng_.uniform(2));
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b) {
        if (side[a] != side[b]) blocked_.insert({a + 1, b + 1});
      }
    }
    log("symmetric partition");
    return;
  }
  // Asymmetric: some one-way links fail (a node that can send but not hear, or the reverse).
  uint64_t links = 1 + rng_.uniform(n * 2);
  for (uint64_t i = 0; i < links; ++i) {
    NodeId a = 1 + rng_.uniform(n);
    NodeId b = 1 + rng_.uniform(n);
    if (a != b) blocked_.insert({a, b});
  }
  log("asymmetric partition (" + std::to_string(blocked_.size()) + " links)");
}

void Simulation::chaos_events() {
  if (chance(faults_.crash_ppm)) {
    // Leaders crash more often than their share: elections over logs that diverged under
    // earlier leaders are where commit and voting rules matter (Raft paper Figure 8).
    Node* leader = highest_leader();
    Node& node = leader && rng_.uniform(100) < faults_.leader_crash_percent ? *leader : nodes_[rng_.uniform(nodes_.size())];
    if (node.up()) crash(node, "at tick");
  }
  if (chance(faults_.partition_ppm)) new_partition();
}

void Simulation::client_events(bool allow_config_changes) {
  if (chance(faults_.propose_ppm)) {
    // Clients send to any node that believes it leads; a stale leader's entries that never
    // commit are what later leaders must overwrite safely.
    std::vector<Node*> ls = leaders();
    if (Node* l = ls.empty() ? nullptr : ls[rng_.uniform(ls.size())]) {
      std::string data = "w" + std::to_string(++write_counter_);
      if (l->raft->propose(data).is_ok()) log("propose " + data + " at " + std::to_string(l->id));
      check(*l);
      handle_ready(*l);
    }
  }
  if (options_.reads && chance(faults_.read_ppm)) {
    // Reads go to any node that believes it leads, stale ones included.
    std::vector<Node*> ls = leaders();
    if (!ls.empty()) {
      Node* l = ls[rng_.uniform(ls.size())];
      std::string ctx = "r" + std::to_string(++read_counter_);
      if (l->raft->read_index(ctx).is_ok()) read_started_[ctx] = checkers_.max_acked_index();
      check(*l);
      handle_ready(*l);
    }
  }
  if (allow_config_changes && options_.membership_changes && chance(faults_.membership_ppm)) {
    if (Node* l = highest_leader()) {
      const Membership& m = l->raft->membership();
      NodeId id = 1 + rng_.uniform(nodes_.size());
      bool voter = std::binary_search(m.voters.begin(), m.voters.end(), id);
      bool learner = std::binary_search(m.learners.begin(), m.learners.end(), id);
      MembershipChange change{MembershipChangeType::kAddLearner, id};
      uint64_t pick = rng_.uniform(2);
      if (voter) {
        change.type = MembershipChangeType::kRemove;
      } else if (learner) {
        change.type = pick ? MembershipChangeType::kPromoteLearner : MembershipChangeType::kRemove;
      } else {
        change.type = pick ? MembershipChangeType::kAddVoter : MembershipChangeType::kAddLearner;
      }
      auto r = l->raft->propose_membership(change);
      if (r.is_ok()) {
        ++result_.membership_changes;
        log("membership change " + std::to_string(static_cast<int>(change.type)) + " node " +
            std::to_string(id) + " at index " + std::to_string(*r));
      }
      check(*l);
      handle_ready(*l);
    }
  }
  if (allow_config_changes && options_.transfers && chance(faults_.transfer_ppm)) {
    if (Node* l = highest_leader()) {
      const Membership& m = l->raft->membership();
      NodeId to = m.voters[rng_.uniform(m.voters.size())];
      if (l->raft->transfer_leadership(to).is_ok()) {
        log("transfer leadership " + std::to_string(l->id) + " -> " + std::to_string(to));
      }
      check(*l);
      handle_ready(*l);
    }
  }
  if (options_.compaction) {
    for (Node& node : nodes_) {
      if (!node.up() || !chance(faults_.compact_ppm)) continue;
      uint64_t first = node.storage->first_index();
      uint64_t applied = node.raft->last_applied();
      if (applied < first + 2) continue;
      uint64_t index = applied - rng_.uniform(3);
      base::Result<Membership> m = node.raft->membership_at(index);
      if (!m.is_ok()) return fail("membership_at: " + m.status().to_string());
      base::Status s = node.storage->compact(index, *m);
      if (s.is_ok()) s = node.raft->compacted(index);
      if (!s.is_ok()) return fail("compaction on node " + std::to_string(node.id) + ": " +
                                  s.to_string());
      check(node);
    }
  }
}

void Simulation::heal() {
  log("heal: network reliable, every node up");
  blocked_.clear();
  network_faults_ = false;
  fifo_links_ = true;
  crashes_ = false;
  // Liveness is about a healed cluster making progress, not about out-running an overload
  // (the churn profile proposes faster than its tiny flow-control windows replicate).
  faults_.propose_ppm = std::min<uint64_t>(faults_.propose_ppm, 100'000);
  for (Node& node : nodes_) {
    if (!node.up()) start(node);
  }
}

Result Simulation::run() {
  // Fault intensity varies by seed, so the seed space covers calm and hostile runs.
  faults_.delay_max_ticks = 1 + rng_.uniform(3);
  if (options_.faults) {
    faults_.loss_ppm = rng_.uniform(4) * 40'000;
    faults_.duplicate_ppm = rng_.uniform(3) * 20'000;
    faults_.crash_ppm = rng_.uniform(4) * 6'000;
    faults_.crash_mid_ready_ppm = rng_.uniform(3) * 1'000;
    faults_.partition_ppm = rng_.uniform(4) * 5'000;
  }
  faults_.propose_ppm = 200'000 + rng_.uniform(6) * 100'000;
  faults_.read_ppm = 100'000 + rng_.uniform(3) * 100'000;
  faults_.membership_ppm = 10'000;
  faults_.transfer_ppm = 4'000;
  faults_.compact_ppm = 10'000 + rng_.uniform(3) * 10'000;
  if (options_.profile == Profile::kLeaderChurn && options_.faults) {
    faults_.crash_ppm = 30'000 + rng_.uniform(4) * 10'000;
    faults_.leader_crash_percent = 80;
    faults_.restart_ticks_max = 15;
    faults_.propose_ppm = 900'000;
    faults_.partition_ppm = 10'000 + rng_.uniform(3) * 10'000;
  }
  network_faults_ = options_.faults;
  fifo_links_ = !options_.faults || rng_.uniform(2) == 0;
  crashes_ = options_.faults;

  size_t total = static_cast<size_t>(options_.nodes + options_.spare_nodes);
  Membership initial;
  for (int i = 1; i <= options_.nodes; ++i) initial.voters.push_back(static_cast<NodeId>(i));
  nodes_.resize(total);
  for (size_t i = 0; i < total; ++i) {
    Node& node = nodes_[i];
    node.id = i + 1;
    node.storage = std::make_unique<consensus::MemoryLogStorage>(initial);
    node.rng = std::make_unique<consensus::SplitMix64Rng>(options_.seed * 1000003 + node.id);
    start(node);
  }

  for (now_ = 1; now_ <= options_.chaos_ticks && checkers_.ok(); ++now_) {
    chaos_events();
    client_events(true);
    tick_all();
    deliver_due();
    deliver_catch_ups();
  }
  if (checkers_.ok()) {
    heal();
    uint64_t heal_start = now_;
    bool live = false;
    uint64_t probe_term = 0;
    uint64_t probe_index = 0;
    std::string probe_data;
    for (; now_ < heal_start + options_.heal_ticks_max && checkers_.ok(); ++now_) {
      client_events(false);
      tick_all();
      deliver_due();
      deliver_catch_ups();
      Node* l = highest_leader();
      if (!l) continue;
      if (probe_term != l->raft->term()) {
        std::string data = "p" + std::to_string(++probe_counter_);
        auto proposed = l->raft->propose(data);
        if (proposed.is_ok()) {
          probe_term = l->raft->term();
          probe_index = *proposed;
          probe_data = data;
          log("liveness probe " + data + " at " + std::to_string(l->id));
        }
        check(*l);
        handle_ready(*l);
      }
      // Done when the probe committed (it may have been overwritten after a leader change) and
      // every member of the leader's configuration applied it.
      if (probe_index == 0 || checkers_.committed_count() < probe_index ||
          checkers_.committed_entry(probe_index).data != probe_data) {
        continue;
      }
      const Membership& m = l->raft->membership();
      bool all = true;
      for (const auto* list : {&m.voters, &m.learners}) {
        for (NodeId id : *list) all = all && nodes_[id - 1].applied_index >= probe_index;
      }
      if (all) {
        live = true;
        break;
      }
    }
    if (checkers_.ok() && !live) {
      for (Node& node : nodes_) {
        if (!node.up()) continue;
        std::string line = "node " + std::to_string(node.id) + " " +
                           consensus::role_name(node.raft->role()) + " term " +
                           std::to_string(node.raft->term()) + " last " +
                           std::to_string(node.raft->last_index()) + " commit " +
                           std::to_string(node.raft->commit_index()) + " applied " +
                           std::to_string(node.applied_index) + " voters";
        for (NodeId v : node.raft->membership().voters) line += " " + std::to_string(v);
        line += " learners";
        for (NodeId v : node.raft->membership().learners) line += " " + std::to_string(v);
        for (const auto& [id, pr] : node.raft->progress()) {
          line += " [" + std::to_string(id) + ": match " + std::to_string(pr.match) + " next " +
                  std::to_string(pr.next) + " state " +
                  std::to_string(static_cast<int>(pr.state)) + "]";
        }
        log(line);
      }
      fail("liveness: no leader committed a new entry on every member within " +
           std::to_string(options_.heal_ticks_max) + " ticks of healing");
    }
  }
  result_.ticks = now_;
  if (!checkers_.ok()) {
    result_.ok = false;
    // The run stops at the tick a violation is first seen.
    result_.violation = "tick " + std::to_string(now_) + ": " + *checkers_.violation();
  }
  return result_;
}

}  // namespace

std::string describe(const Options& o) {
  return "seed=" + std::to_string(o.seed) + " nodes=" + std::to_string(o.nodes) +
         " chaos_ticks=" + std::to_string(o.chaos_ticks) +
         (o.profile == Profile::kLeaderChurn ? " profile=leader-churn" : "") +
         (o.faults ? "" : " faults=off") + (o.membership_changes ? "" : " membership=off");
}

Result run(const Options& options) {
  Simulation simulation(options);
  return simulation.run();
}

}  // namespace sim
