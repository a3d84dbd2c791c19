// The replica simulator (replica_sim.h): real Replicas on real ledgers, one seed for every fault.
#include "tests/sim/replica_sim.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "consensus/raft.h"
#include "consensus/rocks_log_storage.h"
#include "ledger/block.h"
#include "ledger/db.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "ledger/validation.h"
#include "node/replica.h"
#include "tests/unit/ledger/fixture.h"

namespace replica_sim {

namespace v1 = credledger::v1;
using consensus::NodeId;

namespace {

constexpr int64_t kTickMs = 100;

std::string scratch_root() {
  std::error_code ec;
  const std::filesystem::path shm("/dev/shm");
  const std::filesystem::path base = std::filesystem::is_directory(shm, ec)
                                         ? shm
                                         : std::filesystem::temp_directory_path();
  return (base / ("credledger-replica-sim-" + std::to_string(::getpid()))).string();
}

// One node: its disk (a RocksDB directory) survives crashes; everything else is rebuilt.
struct SimNode {
  NodeId id = 0;
  std::string dir;
  bool up = false;
  std::unique_ptr<ledger::Database> db;
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<consensus::SplitMix64Rng> rng;
  std::unique_ptr<node::Replica> replica;
  uint64_t applied_height = 0;  // the last height this node applied, for the apply checker
  uint64_t restart_at = 0;      // tick at which a crashed node comes back
  uint64_t isolated_until = 0;  // tick until which the node's links are cut
};

struct InFlight {
  uint64_t deliver_at = 0;
  consensus::Message message;
};

struct Job {
  uint64_t done_at = 0;
  NodeId node = 0;
  node::VerifyJob job;
};

// A block sync the leader started: blocks go over one per step until the point is reached.
struct Sync {
  NodeId leader = 0;
  NodeId peer = 0;
  consensus::CompactionPoint point;
  uint64_t next_height = 0;
};

struct Submitted {
  v1::SignedEvent event;
  v1::CreditEvent parsed;
  ledger::Hash hash;
};

class Simulation {
 public:
  explicit Simulation(const Options& options)
      : options_(options), rng_(options.seed * 0x9E3779B97F4A7C15ULL + 17),
        consortium_(ledger_test::test_consortium()), root_(scratch_root() + "-" +
                                                           std::to_string(options.seed)) {}

  ~Simulation() {
    for (auto& [id, n] : nodes_) crash_quietly(*n);
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  Result run() {
    // The replicas' routine log lines (compactions, elections) would drown a failure's report.
    if (!options_.verbose) spdlog::set_level(spdlog::level::warn);
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    std::filesystem::create_directories(root_, ec);
    for (int i = 1; i <= options_.nodes; ++i) {
      auto n = std::make_unique<SimNode>();
      n->id = static_cast<NodeId>(i);
      n->dir = root_ + "/node" + std::to_string(i);
      nodes_[n->id] = std::move(n);
    }
    for (auto& [id, n] : nodes_) {
      if (!start(*n)) return result_;
    }
    for (tick_ = 1; tick_ <= options_.chaos_ticks && result_.ok; ++tick_) step(true);
    // Heal: every node up, no faults; all must reach the same head, holding a last event.
    for (auto& [id, n] : nodes_) {
      n->isolated_until = 0;
      if (!n->up && !start(*n)) return result_;
    }
    const uint64_t heal_end = tick_ + options_.heal_ticks_max;
    bool converged = false;
    for (; tick_ <= heal_end && result_.ok; ++tick_) {
      step(false);
      if (converged_heads()) {
        converged = true;
        break;
      }
    }
    if (result_.ok && !converged) violate("no common head within the heal phase");
    if (result_.ok) final_checks();
    result_.ticks = tick_;
    return result_;
  }

 private:
  // ---- deterministic randomness ----
  uint64_t next() { return rng_.next_u64(); }
  bool chance(uint64_t per_thousand) { return next() % 1000 < per_thousand; }
  uint64_t below(uint64_t bound) { return next() % bound; }

  void log(const std::string& what) {
    if (options_.verbose) std::fprintf(stderr, "[tick %llu] %s\n", static_cast<unsigned long long>(tick_), what.c_str());
  }

  void violate(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.violation = "tick " + std::to_string(tick_) + ": " + what;
    log("VIOLATION " + result_.violation);
  }

  int64_t now_ms() const { return ledger_test::kT0 + static_cast<int64_t>(tick_) * kTickMs; }

  node::NodeConfig config_for(NodeId id) const {
    node::NodeConfig c;
    c.node_id = id;
    for (const auto& [other, n] : nodes_) c.peers[other] = "sim:" + std::to_string(other);
    c.raft.tick_ms = kTickMs;
    c.raft.election_ticks = 10;
    c.raft.heartbeat_ticks = 1;
    c.raft.max_inflight_msgs = 16;
    c.raft.max_size_per_msg_bytes = 1 << 20;
    // Compact often, so that nodes that were down or cut off catch up by block sync, and at
    // different points on different nodes, as operators do: each leader syncs from its own.
    c.raft.auto_compact_entries = 4 + 4 * (id % 3);
    c.batch.max_events = 16;
    c.batch.max_pending_events = 1000;
    c.limits.submit_timeout_ms = 3000;
    return c;
  }

  // ---- node life ----

  bool start(SimNode& n) {
    ledger::Database::Options db_options;
    db_options.block_cache_bytes = 1 << 20;
    db_options.extra_column_families = {
        std::string(consensus::RocksLogStorage::kLogColumnFamily),
        std::string(consensus::RocksLogStorage::kStateColumnFamily)};
    auto db = ledger::Database::open(n.dir, db_options);
    if (!db.is_ok()) {
      violate("node " + std::to_string(n.id) + " cannot open its database: " +
              db.status().to_string());
      return false;
    }
    n.db = std::move(db).value();
    auto opened = ledger::Ledger::open(*n.db, consortium_, {.sync_writes = false});
    if (!opened.is_ok()) {
      violate("node " + std::to_string(n.id) + " cannot open its ledger: " +
              opened.status().to_string());
      return false;
    }
    n.ledger = std::move(opened).value();
    n.applied_height = n.ledger->head().height();
    n.rng = std::make_unique<consensus::SplitMix64Rng>(next());
    consensus::Membership initial;
    for (const auto& [id, other] : nodes_) initial.voters.push_back(id);
    auto storage = consensus::RocksLogStorage::attach(n.db->db(), n.db->cf("raft_log"),
                                                      n.db->cf("raft_state"), initial);
    if (!storage.is_ok()) {
      violate("node " + std::to_string(n.id) + " cannot open its raft log: " +
              storage.status().to_string());
      return false;
    }
    node::ReplicaEnv env;
    ledger::Database* db_ptr = n.db.get();
    env.sync_blocks = [db_ptr] {
      return ledger::from_rocks(db_ptr->db()->FlushWAL(/*sync=*/true), "sync blocks");
    };
    n.replica = std::make_unique<node::Replica>(config_for(n.id), *n.ledger, *n.rng, env);
    node::Effects effects;
    if (auto s = n.replica->open(std::move(storage).value(), effects); !s.is_ok()) {
      violate("node " + std::to_string(n.id) + " cannot open its replica: " + s.to_string());
      return false;
    }
    n.up = true;
    log("node " + std::to_string(n.id) + " up at height " + std::to_string(n.applied_height));
    handle(n, std::move(effects));
    return true;
  }

  void crash_quietly(SimNode& n) {
    n.replica.reset();
    n.ledger.reset();
    n.db.reset();
    n.up = false;
  }

  void crash(SimNode& n) {
    if (!n.up) return;
    log("node " + std::to_string(n.id) + " crashes");
    ++result_.crashes;
    crash_quietly(n);
    n.restart_at = tick_ + 5 + below(40);
    // What it had in flight is gone with it; what it sent is on the wire.
    std::erase_if(jobs_, [&](const Job& j) { return j.node == n.id; });
    std::vector<Sync> cut;
    std::erase_if(syncs_, [&](const Sync& s) {
      if (s.peer != n.id && s.leader != n.id) return false;
      cut.push_back(s);
      return true;
    });
    for (const Sync& s : cut) cut_sync(s);  // may crash the leader in turn
  }

  void cut_sync(const Sync& s) {
    ++result_.block_syncs_cut;
    SimNode& leader = *nodes_[s.leader];
    if (leader.up && s.leader != s.peer) handle(leader, leader.replica->catch_up_done(s.peer, 0, false));
  }

  // ---- effects ----

  void handle(SimNode& n, node::Effects fx) {
    if (!result_.ok) return;
    // A crash right after the writes, before the messages and replies leave.
    if (options_.faults && in_chaos_ && chance(1)) return crash(n);
    for (consensus::Message& m : fx.messages) {
      uint64_t delay = 0;
      if (options_.faults && in_chaos_) {
        if (chance(20)) continue;  // lost
        delay = below(3);
      }
      network_.push_back(InFlight{tick_ + delay, std::move(m)});
    }
    for (node::VerifyJob& job : fx.verify_jobs) {
      const uint64_t delay = options_.faults && in_chaos_ ? below(3) : 0;
      jobs_.push_back(Job{tick_ + delay, n.id, std::move(job)});
    }
    for (const node::AppliedBlock& applied : fx.applied) on_applied(n, applied.block);
    for (const node::SubmitReply& reply : fx.submit_replies) on_reply(reply);
    for (NodeId peer : fx.catch_ups) {
      if (!nodes_.count(peer)) continue;
      Sync s;
      s.leader = n.id;
      s.peer = peer;
      s.point = n.replica->compaction_point();
      s.next_height = 0;
      syncs_.push_back(s);
      ++result_.block_syncs;
      log("node " + std::to_string(n.id) + " starts a block sync of node " + std::to_string(peer) +
          " to index " + std::to_string(s.point.index));
    }
    if (fx.flush_after_us) flush_due_.insert(n.id);
    if (fx.storage_failure) {
      violate("node " + std::to_string(n.id) + " storage failed: " + fx.storage_failure->first +
              ": " + fx.storage_failure->second.to_string());
    }
  }

  // ---- checkers ----

  void on_applied(SimNode& n, const v1::Block& block) {
    const uint64_t height = block.header().height();
    if (height != n.applied_height + 1) {
      return violate("node " + std::to_string(n.id) + " applied height " + std::to_string(height) +
                     " after " + std::to_string(n.applied_height));
    }
    n.applied_height = height;
    record_block(n.id, block);
  }

  void record_block(NodeId id, const v1::Block& block) {
    const uint64_t height = block.header().height();
    auto computed = ledger::block_hash(block.header());
    if (!computed.is_ok()) return violate("a block header does not hash: " + computed.status().to_string());
    const std::string hash = ledger::to_string(*computed);
    auto [it, first] = chain_.emplace(height, hash);
    if (!first) {
      if (it->second != hash) {
        violate("node " + std::to_string(id) + " has another block at height " +
                std::to_string(height) + " than the first node that reached it");
      }
      return;
    }
    receipts_[height].assign(block.receipts().begin(), block.receipts().end());
    for (const v1::Receipt& r : block.receipts()) {
      if (!r.accepted()) continue;
      auto [pos, fresh] = accepted_at_.emplace(r.event_id(), std::make_pair(height, r.index()));
      if (!fresh) {
        violate("event '" + r.event_id() + "' is accepted twice on the chain: at height " +
                std::to_string(pos->second.first) + " and " + std::to_string(height));
        return;
      }
    }
    check_acks_at(height);
  }

  void on_reply(const node::SubmitReply& reply) {
    auto it = calls_.find(reply.id);
    if (it == calls_.end()) return violate("a reply to an unknown call");
    const std::vector<std::string> ids = std::move(it->second);
    calls_.erase(it);
    if (!reply.status.is_ok()) return;  // the client tries again later
    if (reply.receipts.size() != ids.size()) return violate("a reply with the wrong receipt count");
    for (size_t i = 0; i < ids.size(); ++i) {
      const v1::Receipt& r = reply.receipts[i];
      if (r.event_id() != ids[i]) return violate("a receipt for another event");
      if (!r.accepted()) {
        return violate("event '" + ids[i] + "' answered with a rejection: " +
                       v1::RejectReason_Name(r.reason()));
      }
      auto [ack, fresh] = acks_.emplace(ids[i], r);
      if (!fresh && (ack->second.height() != r.height() || ack->second.index() != r.index())) {
        return violate("event '" + ids[i] + "' acknowledged at two positions");
      }
      if (fresh) ++result_.events_acknowledged;
      check_ack(ids[i], r);
    }
  }

  // An acknowledged event must be where its receipt says, in the one chain.
  void check_ack(const std::string& id, const v1::Receipt& r) {
    auto block = receipts_.find(r.height());
    if (block == receipts_.end()) {
      if (!chain_.count(r.height())) return;  // checked when that height appears
      return violate("no receipts known at height " + std::to_string(r.height()));
    }
    if (r.index() >= block->second.size() || block->second[r.index()].event_id() != id ||
        !block->second[r.index()].accepted() ||
        block->second[r.index()].event_hash() != r.event_hash()) {
      violate("event '" + id + "' was acknowledged at height " + std::to_string(r.height()) +
              " index " + std::to_string(r.index()) + ", where the chain holds something else");
    }
  }

  void check_acks_at(uint64_t height) {
    for (const auto& [id, r] : acks_) {
      if (r.height() == height) check_ack(id, r);
    }
  }

  bool converged_heads() {
    std::optional<uint64_t> height;
    for (const auto& [id, n] : nodes_) {
      if (!n->up) return false;
      const uint64_t h = n->ledger->head().height();
      if (height && *height != h) return false;
      height = h;
    }
    // Every acknowledged event is on the common chain, and the last one of the run too.
    if (!height || *height == 0) return false;
    for (const auto& [id, r] : acks_) {
      if (r.height() > *height) return false;
    }
    return last_event_acked_;
  }

  void final_checks() {
    for (const auto& [id, n] : nodes_) {
      // Every acknowledged event is on this node where its receipt says.
      for (const auto& [event_id, r] : acks_) {
        auto record = n->ledger->event(event_id);
        if (!record.is_ok() || record->location.height() != r.height() ||
            record->location.index() != r.index() || !record->location.receipt().accepted()) {
          return violate("node " + std::to_string(id) + " lacks acknowledged event '" + event_id +
                         "' at height " + std::to_string(r.height()));
        }
      }
      // Its view is what replaying its chain gives: every header field, receipt and root.
      const std::string dir = root_ + "/replay" + std::to_string(id);
      {
        ledger::Database::Options db_options;
        db_options.block_cache_bytes = 1 << 20;
        auto db = ledger::Database::open(dir, db_options);
        if (!db.is_ok()) return violate("cannot open a replay ledger: " + db.status().to_string());
        auto replay = ledger::Ledger::open(**db, consortium_, {.sync_writes = false});
        if (!replay.is_ok()) return violate("cannot open a replay ledger");
        const uint64_t head = n->ledger->head().height();
        for (uint64_t h = 1; h <= head; ++h) {
          auto block = n->ledger->block(h);
          if (!block.is_ok()) {
            return violate("node " + std::to_string(id) + " cannot read its block " +
                           std::to_string(h) + ": " + block.status().to_string());
          }
          if (auto s = (*replay)->apply_block(*block); !s.is_ok()) {
            return violate("node " + std::to_string(id) + "'s block " + std::to_string(h) +
                           " does not replay: " + s.to_string());
          }
        }
        if ((*replay)->head_hash() != n->ledger->head_hash()) {
          return violate("node " + std::to_string(id) + "'s head differs from its replay");
        }
        for (const auto& [event_id, r] : acks_) {
          const v1::Subject& subject = subjects_[event_id];
          auto mine = n->ledger->status(subject, now_ms());
          auto replayed = (*replay)->status(subject, now_ms());
          if (!mine.is_ok() || !replayed.is_ok() ||
              mine->SerializeAsString() != replayed->SerializeAsString()) {
            return violate("node " + std::to_string(id) + "'s view of " + subject.id() +
                           " differs from a replay of its chain");
          }
          break;  // one subject per node is enough to compare the views' answers
        }
      }
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    result_.blocks = chain_.empty() ? 0 : chain_.rbegin()->first;
  }

  // ---- one tick ----

  void step(bool chaos) {
    in_chaos_ = chaos && options_.faults;
    if (in_chaos_) faults();
    for (auto& [id, n] : nodes_) {
      if (!n->up) {
        if (n->restart_at <= tick_ && !start(*n)) return;
        continue;
      }
      handle(*n, n->replica->tick(now_ms()));
      if (!result_.ok) return;
    }
    deliver();
    complete_jobs();
    advance_syncs();
    clients(chaos);
    flushes();
  }

  void faults() {
    if (chance(8)) {
      // Crash a node, most often the leader (whose entries are in flight).
      std::vector<NodeId> up;
      for (auto& [id, n] : nodes_) {
        if (n->up) up.push_back(id);
      }
      if (up.size() > static_cast<size_t>(options_.nodes / 2)) {
        NodeId victim = up[below(up.size())];
        for (NodeId id : up) {
          if (nodes_[id]->replica->is_leader() && chance(600)) victim = id;
        }
        crash(*nodes_[victim]);
      }
    }
    if (chance(6)) {
      SimNode& n = *nodes_[1 + below(static_cast<uint64_t>(options_.nodes))];
      n.isolated_until = tick_ + 10 + below(60);
      log("node " + std::to_string(n.id) + " cut off until tick " + std::to_string(n.isolated_until));
    }
  }

  bool linked(NodeId a, NodeId b) const {
    return nodes_.at(a)->isolated_until <= tick_ && nodes_.at(b)->isolated_until <= tick_;
  }

  void deliver() {
    std::map<NodeId, std::vector<consensus::Message>> due;
    std::deque<InFlight> later;
    for (InFlight& f : network_) {
      if (f.deliver_at > tick_) {
        later.push_back(std::move(f));
        continue;
      }
      if (!linked(f.message.from, f.message.to)) continue;
      due[f.message.to].push_back(std::move(f.message));
    }
    network_ = std::move(later);
    for (auto& [to, messages] : due) {
      SimNode& n = *nodes_[to];
      if (!n.up) continue;
      handle(n, n.replica->step(messages));
      if (!result_.ok) return;
    }
  }

  void complete_jobs() {
    std::vector<Job> due;
    std::erase_if(jobs_, [&](Job& j) {
      if (j.done_at > tick_) return false;
      due.push_back(std::move(j));
      return true;
    });
    for (Job& j : due) {
      SimNode& n = *nodes_[j.node];
      if (!n.up) continue;
      const v1::BlockBody& body = j.job.payload->block();
      std::vector<ledger::SignatureState> states(static_cast<size_t>(body.events_size()),
                                                 ledger::SignatureState::kUnchecked);
      for (size_t i : j.job.indexes) {
        states[i] = ledger::verify_event_signature(*consortium_, body.events(static_cast<int>(i)))
                        ? ledger::SignatureState::kValid
                        : ledger::SignatureState::kInvalid;
      }
      handle(n, n.replica->verified(j.job.id, std::move(states)));
      if (!result_.ok) return;
    }
  }

  // Each sync moves a few blocks per tick, leader to follower, as GetBlocks would; it may be cut.
  void advance_syncs() {
    std::vector<Sync> active = std::move(syncs_);
    syncs_.clear();
    for (Sync& s : active) {
      SimNode& leader = *nodes_[s.leader];
      SimNode& peer = *nodes_[s.peer];
      if (!leader.up || !peer.up) continue;  // crash() reported it
      if (!linked(s.leader, s.peer) || (in_chaos_ && chance(30))) {
        log("block sync of node " + std::to_string(s.peer) + " cut");
        cut_sync(s);
        continue;
      }
      if (s.next_height == 0) s.next_height = peer.ledger->head().height() + 1;
      bool reached = false;
      bool cut = false;
      for (int k = 0; k < 4 && !reached; ++k) {
        auto block = leader.ledger->block(s.next_height);
        if (!block.is_ok() || block->log_index() > s.point.index) {
          reached = true;
          break;
        }
        if (auto st = peer.replica->apply_synced_block(*block); !st.is_ok()) {
          // Not the next height: the peer applied it from its log meanwhile; credd's catch-up
          // fails the same way and the leader asks again. Anything else is a fork.
          if (st.code() != base::Code::kInvalidArgument) {
            return violate("node " + std::to_string(s.peer) + " refused synced block " +
                           std::to_string(s.next_height) + ": " + st.to_string());
          }
          log("block sync of node " + std::to_string(s.peer) + " failed: " + st.to_string());
          cut = true;
          break;
        }
        if (s.next_height != peer.applied_height + 1) {
          return violate("node " + std::to_string(s.peer) + " synced height " +
                         std::to_string(s.next_height) + " after " +
                         std::to_string(peer.applied_height));
        }
        peer.applied_height = s.next_height;
        record_block(s.peer, *block);
        ++s.next_height;
      }
      if (!result_.ok) return;
      if (cut) {
        cut_sync(s);
        continue;
      }
      if (!reached) {
        syncs_.push_back(s);
        continue;
      }
      if (in_chaos_ && chance(350)) {
        // Every block is there but the log reset never happens: the leader failed first.
        log("block sync of node " + std::to_string(s.peer) + " cut before its log reset");
        ++result_.block_syncs_cut;
        crash(leader);
        continue;
      }
      node::Effects effects;
      if (auto st = peer.replica->finish_sync(s.point, effects); !st.is_ok()) {
        log("finish_sync failed: " + st.to_string());
        cut_sync(s);
        continue;
      }
      handle(peer, std::move(effects));
      if (!result_.ok || !leader.up) return;
      handle(leader, leader.replica->catch_up_done(s.peer, s.point.index, true));
      if (!result_.ok) return;
    }
  }

  Submitted make_event(uint64_t n) {
    Submitted s;
    const std::string id = "sim-" + std::to_string(options_.seed) + "-" + std::to_string(n);
    const v1::Subject subject = ledger_test::enterprise(1000 + n % 17);
    s.parsed = ledger_test::penalty(id, ledger_test::kSamr, subject, v1::GENERAL, v1::MINOR,
                                    ledger_test::kT0, 90);
    s.event = ledger_test::sign(s.parsed);
    s.hash = ledger::event_hash(s.event);
    subjects_[id] = subject;
    return s;
  }

  void clients(bool chaos) {
    // New events while the faults run; in the heal phase one last event, retried until it
    // is acknowledged, so liveness is checked on a real write.
    const uint64_t submits = chaos ? below(3) : (last_event_acked_ ? 0 : 1);
    for (uint64_t k = 0; k < submits; ++k) {
      std::vector<Submitted> batch;
      if (!chaos) {
        if (!last_event_) last_event_ = next_event_++;
        batch.push_back(make_event(*last_event_));
      } else if (!events_.empty() && chance(100)) {
        // A retry of any earlier event, through any node: it must not land twice.
        batch.push_back(events_[below(events_.size())]);
      } else if (chance(500) && retry_unacknowledged(batch)) {
        // An impatient client: an event not acknowledged yet goes again, through another node,
        // while the first attempt may still be on its way (the race duplicates come from).
      } else {
        const uint64_t count = 1 + below(4);
        for (uint64_t i = 0; i < count; ++i) {
          events_.push_back(make_event(next_event_++));
          batch.push_back(events_.back());
        }
      }
      SimNode& n = *nodes_[1 + below(static_cast<uint64_t>(options_.nodes))];
      if (!n.up) continue;
      node::CheckedSubmit call;
      call.id = ++call_counter_;
      std::vector<std::string> ids;
      for (const Submitted& s : batch) {
        call.events.push_back(s.event);
        call.parsed.push_back(s.parsed);
        call.hashes.push_back(s.hash);
        ids.push_back(s.parsed.event_id());
      }
      call.deadline_ms = now_ms() + 3000;
      calls_[call.id] = ids;
      handle(n, n.replica->submit(std::move(call), now_ms()));
      if (!result_.ok) return;
    }
    if (last_event_ && !last_event_acked_) {
      const std::string id = "sim-" + std::to_string(options_.seed) + "-" + std::to_string(*last_event_);
      last_event_acked_ = acks_.count(id) > 0;
    }
  }

  bool retry_unacknowledged(std::vector<Submitted>& batch) {
    if (events_.empty()) return false;
    const size_t from = events_.size() > 64 ? events_.size() - 64 : 0;
    for (int attempt = 0; attempt < 8; ++attempt) {
      const Submitted& s = events_[from + below(events_.size() - from)];
      if (!acks_.count(s.parsed.event_id())) {
        batch.push_back(s);
        return true;
      }
    }
    return false;
  }

  void flushes() {
    std::set<NodeId> due = std::move(flush_due_);
    flush_due_.clear();
    for (NodeId id : due) {
      SimNode& n = *nodes_[id];
      if (!n.up) continue;
      handle(n, n.replica->flush(now_ms()));
      if (!result_.ok) return;
    }
  }

  Options options_;
  consensus::SplitMix64Rng rng_;
  std::shared_ptr<const ledger::Consortium> consortium_;
  std::string root_;
  Result result_;
  uint64_t tick_ = 0;
  bool in_chaos_ = false;
  std::map<NodeId, std::unique_ptr<SimNode>> nodes_;
  std::deque<InFlight> network_;
  std::vector<Job> jobs_;
  std::vector<Sync> syncs_;
  std::set<NodeId> flush_due_;
  // Clients.
  node::CallId call_counter_ = 0;
  std::map<node::CallId, std::vector<std::string>> calls_;  // call -> event ids
  std::vector<Submitted> events_;
  uint64_t next_event_ = 1;
  std::optional<uint64_t> last_event_;
  bool last_event_acked_ = false;
  std::map<std::string, v1::Subject> subjects_;
  // What the checkers know: the one chain, and what was acknowledged.
  std::map<uint64_t, std::string> chain_;                       // height -> block hash
  std::map<uint64_t, std::vector<v1::Receipt>> receipts_;       // height -> receipts
  std::map<std::string, std::pair<uint64_t, uint32_t>> accepted_at_;  // event -> position
  std::map<std::string, v1::Receipt> acks_;                     // event -> acknowledged receipt
};

}  // namespace

Result run(const Options& options) {
  Simulation simulation(options);
  return simulation.run();
}

std::string describe(const Options& options) {
  std::ostringstream out;
  out << "seed=" << options.seed << " nodes=" << options.nodes
      << " chaos_ticks=" << options.chaos_ticks << (options.faults ? "" : " no-faults");
  return out.str();
}

}  // namespace replica_sim
