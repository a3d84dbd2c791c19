// node::Replica: the loop's decisions, without I/O. See replica.h for the way of an event.
#include "node/replica.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "base/replica_bugs.h"
#include "ledger/event.h"
#include "ledger/validation.h"

namespace node {

using consensus::NodeId;

// A Submit inside the replica. Invariant: answered (finished) exactly once.
struct Replica::Call {
  CallId id = 0;
  std::vector<v1::SignedEvent> events;
  std::vector<v1::CreditEvent> parsed;
  std::vector<ledger::Hash> hashes;
  std::vector<std::optional<v1::Receipt>> receipts;
  size_t pending = 0;
  int64_t deadline_ms = 0;
  bool finished = false;
};

// One committed (or, on a follower, appended) block entry and its signature checks.
// Invariant: ready to apply once jobs_left == 0.
struct Replica::Pending {
  consensus::Entry entry;  // data only when not parsed into payload
  std::shared_ptr<const v1::EntryPayload> payload;  // null: not a block entry
  std::vector<ledger::SignatureState> states;
  std::vector<ledger::Hash> hashes;
  size_t jobs_left = 0;
};

void Effects::merge(Effects&& other) {
  auto append = [](auto& to, auto& from) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  append(messages, other.messages);
  append(verify_jobs, other.verify_jobs);
  append(submit_replies, other.submit_replies);
  append(read_replies, other.read_replies);
  append(applied, other.applied);
  append(catch_ups, other.catch_ups);
  append(addresses, other.addresses);
  proposals += other.proposals;
  if (other.membership) membership = std::move(other.membership);
  if (other.leader) leader = other.leader;
  if (other.is_leader) is_leader = other.is_leader;
  if (other.flush_after_us) flush_after_us = other.flush_after_us;
  if (other.storage_failure) storage_failure = std::move(other.storage_failure);
}

Replica::Replica(NodeConfig config, ledger::Ledger& ledger, consensus::Rng& rng, ReplicaEnv env)
    : config_(std::move(config)), ledger_(ledger), rng_(rng), env_(std::move(env)) {}

Replica::~Replica() = default;

base::Status Replica::open(std::unique_ptr<consensus::LogStorage> storage, Effects& out) {
  LEDGER_ASSERT(storage != nullptr);
  // The core refers to the store: it goes first.
  raft_.reset();
  storage_ = std::move(storage);
  apply_queue_.clear();
  preverified_.clear();
  jobs_.clear();
  consensus::Config rc;
  rc.id = config_.node_id;
  rc.election_timeout_ticks = config_.raft.election_ticks;
  rc.heartbeat_ticks = config_.raft.heartbeat_ticks;
  rc.max_inflight_msgs = config_.raft.max_inflight_msgs;
  rc.max_size_per_msg_bytes = config_.raft.max_size_per_msg_bytes;
  rc.max_uncommitted_bytes = config_.raft.max_uncommitted_bytes;
  rc.max_entry_bytes = config_.limits.grpc_max_message_bytes - kMessageEnvelopeBytes;
  // Synced blocks advance the cursor, so the ledger may be ahead of the Raft log, and of its
  // persisted commit index, after a catch-up by block sync that was interrupted before the log
  // was reset, or that kept the log. The core refuses an applied index it does not know to be
  // committed; entries it hands out again are skipped by apply_entry (index <= cursor).
  const uint64_t committed =
      std::max(storage_->hard_state().commit, storage_->compaction_point().index);
  rc.applied = std::min({ledger_.cursor(), storage_->last_index(), committed});
  auto core = consensus::Raft::create(rc, *storage_, rng_);
  if (!core.is_ok()) return core.status();
  raft_ = std::move(core).value();
  halted_ = false;
  if (is_leader_) on_leadership_change(false, out);
  known_leader_ = 0;
  out.leader = 0;
  out.membership = raft_->membership();
  return base::Status::ok();
}

consensus::NodeId Replica::leader() const {
  return halted_ || !raft_ ? 0 : raft_->leader();
}

consensus::CompactionPoint Replica::compaction_point() const {
  return storage_->compaction_point();
}

// ---- the Ready loop ----

Effects Replica::process() {
  Effects out;
  drain(out);
  return out;
}

void Replica::drain(Effects& out) {
  // A replica that cannot write leaves its core alone: nothing is persisted, so nothing may be
  // sent or applied; open() replaces the core once writes succeed.
  while (!halted_ && raft_->has_ready()) {
    consensus::Ready rd = raft_->ready();
    // A Ready that writes needs disk space; without it the Ready is dropped unsent along with
    // the core. One that only sends goes on.
    if (env_.check_disk_space &&
        (!rd.entries.empty() || rd.hard_state || !rd.committed_entries.empty())) {
      if (auto space = env_.check_disk_space(); !space.is_ok()) {
        return storage_failed("raft write", space, out);
      }
    }
    // 1. persist, synced: a vote or an acknowledgement below promises durable state.
    if (!rd.entries.empty()) {
      if (auto s = storage_->append(rd.entries); !s.is_ok()) {
        return storage_failed("raft log append", s, out);
      }
    }
    if (rd.hard_state) {
      if (auto s = storage_->set_hard_state(*rd.hard_state); !s.is_ok()) {
        return storage_failed("raft hard state write", s, out);
      }
    }
    // 2. send (the owner sends these before anything it is handed after them).
    out.messages.insert(out.messages.end(), std::make_move_iterator(rd.messages.begin()),
                        std::make_move_iterator(rd.messages.end()));
    // A follower starts checking the signatures of what it just acknowledged; apply collects
    // the results. (The leader verified its own proposals before proposing them.)
    if (!is_leader_) {
      for (const consensus::Entry& entry : rd.entries) preverify(entry, out);
    }
    if (REPLICA_BUG(kReceiptBeforeCommit) && is_leader_) {
      // The injected bug: the leader applies its own entries as soon as they are appended
      // here, before a quorum holds them, and answers from those blocks.
      for (const consensus::Entry& entry : rd.entries) queue_committed(entry, out);
    }
    // 3. apply: committed entries join the apply queue in log order.
    for (const consensus::Entry& entry : rd.committed_entries) queue_committed(entry, out);
    if (rd.membership) out.membership = *rd.membership;
    if (rd.soft_state) {
      const bool leader_now = rd.soft_state->role == consensus::Role::kLeader;
      if (leader_now != is_leader_) on_leadership_change(leader_now, out);
      if (rd.soft_state->leader != known_leader_) {
        known_leader_ = rd.soft_state->leader;
        out.leader = known_leader_;
      }
    }
    for (const consensus::ReadState& rs : rd.read_states) {
      auto it = reads_waiting_index_.find(rs.context);
      if (it == reads_waiting_index_.end()) continue;
      reads_waiting_apply_.emplace(rs.index, it->second);
      reads_waiting_index_.erase(it);
    }
    for (const std::string& context : rd.dropped_reads) {
      auto it = reads_waiting_index_.find(context);
      if (it == reads_waiting_index_.end()) continue;
      out.read_replies.push_back(
          {it->second, base::Status::unavailable("leadership changed during the read; retry")});
      reads_waiting_index_.erase(it);
    }
    for (const consensus::CatchUp& cu : rd.catch_ups) {
      if (catching_up_.insert(cu.peer).second) out.catch_ups.push_back(cu.peer);
    }
    // 4. advance. Entries handed out are the replica's to apply now (apply_queue_): a restart
    // or reopen() builds the core from the ledger's cursor, and the core hands them out again.
    raft_->advance();
    apply_ready(out);
  }
  serve_ready_reads(out);
}

// ---- apply ----

std::shared_ptr<Replica::Pending> Replica::block_pending(
    const consensus::Entry& entry, std::shared_ptr<const v1::EntryPayload> payload,
    size_t job_events_min, Effects& out) {
  auto pending = std::make_shared<Pending>();
  pending->entry.index = entry.index;
  pending->entry.term = entry.term;
  pending->entry.type = entry.type;
  const v1::BlockBody& body = payload->block();
  const size_t n = static_cast<size_t>(body.events_size());
  pending->states.assign(n, ledger::SignatureState::kUnchecked);
  pending->hashes.resize(n);
  VerifyJob job;
  for (size_t i = 0; i < n; ++i) {
    pending->hashes[i] = ledger::event_hash(body.events(static_cast<int>(i)));
    if (verified_.count(pending->hashes[i])) {
      pending->states[i] = ledger::SignatureState::kValid;  // checked before proposing/forwarding
    } else {
      job.indexes.push_back(i);
    }
  }
  pending->payload = payload;
  // Fewer than job_events_min left unchecked: apply checks them itself.
  if (!job.indexes.empty() && job.indexes.size() >= job_events_min) {
    job.id = ++job_counter_;
    job.payload = std::move(payload);
    pending->jobs_left = 1;
    jobs_[job.id] = pending;
    out.verify_jobs.push_back(std::move(job));
  }
  return pending;
}

void Replica::preverify(const consensus::Entry& entry, Effects& out) {
  if (entry.type != consensus::EntryType::kNormal || entry.data.empty()) return;
  auto payload = std::make_shared<v1::EntryPayload>();
  if (!payload->ParseFromString(entry.data) || !payload->has_block()) return;
  // The pool checks every signature while the entry waits to commit.
  preverified_[entry.index] = block_pending(entry, std::move(payload), 1, out);
}

void Replica::queue_committed(const consensus::Entry& entry, Effects& out) {
  std::shared_ptr<Pending> pending;
  auto it = preverified_.find(entry.index);
  if (it != preverified_.end() && it->second->entry.term == entry.term) pending = it->second;
  // Entries at or below this index are committed (or were replaced): nothing will ask again.
  preverified_.erase(preverified_.begin(), preverified_.upper_bound(entry.index));
  if (!pending && entry.type == consensus::EntryType::kNormal && !entry.data.empty() &&
      entry.index > ledger_.cursor()) {
    auto payload = std::make_shared<v1::EntryPayload>();
    if (payload->ParseFromString(entry.data)) {
      if (payload->has_block()) {
        // A leader's own proposals were checked before proposing; many unchecked ones (a
        // restart handing entries out again) go to the pool while the loop goes on.
        pending = block_pending(entry, std::move(payload), 2 * kVerifyChunkEvents, out);
      } else {
        pending = std::make_shared<Pending>();
        pending->entry.index = entry.index;
        pending->entry.term = entry.term;
        pending->entry.type = entry.type;
        pending->payload = std::move(payload);
      }
    }
  }
  if (!pending) {
    // Not a payload, or already applied: apply_entry looks at the entry itself.
    pending = std::make_shared<Pending>();
    pending->entry = entry;
  }
  apply_queue_.push_back(std::move(pending));
}

Effects Replica::verified(uint64_t job_id, std::vector<ledger::SignatureState> states) {
  Effects out;
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return out;  // the core was re-created meanwhile
  std::shared_ptr<Pending> pending = it->second;
  jobs_.erase(it);
  LEDGER_ASSERT(pending->jobs_left == 1);
  LEDGER_ASSERT(states.size() == pending->states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    if (states[i] != ledger::SignatureState::kUnchecked) pending->states[i] = states[i];
  }
  pending->jobs_left = 0;
  if (!halted_) {
    apply_ready(out);
    serve_ready_reads(out);
  }
  return out;
}

void Replica::apply_ready(Effects& out) {
  while (!halted_ && !apply_queue_.empty() && apply_queue_.front()->jobs_left == 0) {
    std::shared_ptr<Pending> pending = std::move(apply_queue_.front());
    apply_queue_.pop_front();
    if (!apply_entry(*pending, out)) return;
  }
}

bool Replica::apply_entry(Pending& pending, Effects& out) {
  const consensus::Entry& entry = pending.entry;
  if (entry.index <= ledger_.cursor()) {
    // Already in the ledger: applied before a restart, or covered by a block sync, which
    // carries blocks only. A member's address such an entry records is still learned (storing
    // it again is harmless); its blocks are not applied twice.
    if (entry.type == consensus::EntryType::kNormal) {
      v1::EntryPayload payload;
      const v1::EntryPayload* known = pending.payload.get();
      if (!known && !entry.data.empty() && payload.ParseFromString(entry.data)) known = &payload;
      if (known && known->has_member_address()) out.addresses.push_back(known->member_address());
    }
    return true;
  }
  auto advance_cursor = [&] {
    if (auto s = ledger_.set_cursor(entry.index); !s.is_ok()) {
      storage_failed("record applied index", s, out);
      return false;
    }
    return true;
  };
  if (entry.type != consensus::EntryType::kNormal || !pending.payload) {
    if (entry.type == consensus::EntryType::kNormal && !entry.data.empty()) {
      // Every node sees the same bytes and skips them alike; only a broken leader makes these.
      spdlog::error("committed entry {} is not an EntryPayload; skipped", entry.index);
    }
    return advance_cursor();
  }
  const v1::EntryPayload& payload = *pending.payload;
  if (payload.has_member_address()) {
    out.addresses.push_back(payload.member_address());
    return advance_cursor();
  }
  if (!payload.has_block()) return advance_cursor();
  ledger::ApplyInput input;
  input.signatures = &pending.states;
  input.event_hashes = &pending.hashes;
  input.log_index = entry.index;
  input.include_events = false;  // the AppliedBlock effect carries the events
  auto block = ledger_.apply(payload.block(), input);
  if (!block.is_ok()) {
    storage_failed("apply block from entry " + std::to_string(entry.index), block.status(), out);
    return false;
  }
  on_block_applied(*block, pending.payload, out);
  return true;
}

void Replica::on_block_applied(const v1::Block& block,
                               std::shared_ptr<const v1::EntryPayload> payload, Effects& out) {
  for (int i = 0; i < block.receipts_size(); ++i) {
    const v1::Receipt& r = block.receipts(i);
    const std::string& id = r.event_id();
    if (id.empty()) continue;
    auto hash = ledger::hash_from_bytes(r.event_hash());
    if (hash.is_ok()) verified_.erase(*hash);
    auto in = inflight_.find(id);
    if (in != inflight_.end() && ledger::as_view(in->second) == r.event_hash()) inflight_.erase(in);
    auto w = waiters_.find(id);
    if (w == waiters_.end()) continue;
    std::vector<Waiter> keep;
    for (Waiter& waiter : w->second) {
      Call& call = *waiter.call;
      if (call.finished) continue;
      if (ledger::as_view(call.hashes[waiter.index]) != r.event_hash()) {
        keep.push_back(std::move(waiter));
        continue;
      }
      v1::Receipt answer = r;
      if (!r.accepted() && r.reason() == v1::DUPLICATE_EVENT_ID) {
        // The same event was accepted earlier (a retry raced the original): that is the answer.
        auto original = ledger_.event(id);
        if (original.is_ok() && original->location.receipt().accepted() &&
            original->location.receipt().event_hash() == r.event_hash()) {
          answer = original->location.receipt();
        }
      }
      call.receipts[waiter.index] = std::move(answer);
      if (--call.pending == 0) answer_call(waiter.call, out);
    }
    if (keep.empty()) {
      waiters_.erase(w);
    } else {
      w->second = std::move(keep);
    }
  }
  out.applied.push_back(AppliedBlock{block, std::move(payload)});
  maybe_auto_compact(out);
}

void Replica::serve_ready_reads(Effects& out) {
  const uint64_t applied = ledger_.cursor();
  while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= applied) {
    out.read_replies.push_back({reads_waiting_apply_.begin()->second, base::Status::ok()});
    reads_waiting_apply_.erase(reads_waiting_apply_.begin());
  }
}

// ---- submit ----

base::Status Replica::unavailable_timed_out() const {
  return base::Status::unavailable(
      "not committed within " + std::to_string(config_.limits.submit_timeout_ms) +
      " ms; resubmitting the same events is safe (event ids are deduplicated)");
}

Effects Replica::submit(CheckedSubmit checked, int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  Effects out;
  LEDGER_ASSERT(checked.parsed.size() == checked.events.size());
  LEDGER_ASSERT(checked.hashes.size() == checked.events.size());
  auto call = std::make_shared<Call>();
  call->id = checked.id;
  call->events = std::move(checked.events);
  call->parsed = std::move(checked.parsed);
  call->hashes = std::move(checked.hashes);
  call->receipts.resize(call->events.size());
  call->deadline_ms = checked.deadline_ms;
  if (call->events.empty()) {
    answer_call(call, out);
    return out;
  }
  // Signature checks may have queued behind a backlog: the deadline still holds.
  if (call->deadline_ms <= now_ms_) {
    fail(call, unavailable_timed_out(), out);
    return out;
  }
  if (halted_) {
    fail(call, base::Status::unavailable("this node's storage refuses writes; ask another node"),
         out);
    return out;
  }
  if (!is_leader_) {
    fail(call, base::Status::not_leader("not the leader"), out);
    return out;
  }
  admit(std::move(call), out);
  drain(out);
  return out;
}

void Replica::admit(std::shared_ptr<Call> call, Effects& out) {
  const size_t n = call->events.size();
  std::set<std::string> seen;
  std::map<std::string, size_t> in_request;
  // Pass 1: decide everything before changing any state, so a refused call leaves no trace.
  std::vector<bool> propose(n, false);
  size_t new_events = 0;
  for (size_t i = 0; i < n; ++i) {
    const v1::CreditEvent& e = call->parsed[i];
    const std::string& id = e.event_id();
    auto refuse = [&](base::Status status) {
      fail(call,
           base::Status(status.code(),
                        "event " + std::to_string(i) + " ('" + id + "') " + status.message()),
           out);
    };
    if (!seen.insert(id).second) {
      return refuse(
          base::Status::invalid_argument("DUPLICATE_EVENT_ID: appears twice in this request"));
    }
    auto record = ledger_.event(id);
    if (!record.is_ok() && record.status().code() != base::Code::kNotFound) {
      return refuse(base::Status::io_error("lookup failed: " + record.status().to_string()));
    }
    if (record.is_ok() && record->location.receipt().accepted()) {
      if (record->location.receipt().event_hash() != ledger::as_view(call->hashes[i])) {
        return refuse(base::Status::already_exists(
            "DUPLICATE_EVENT_ID: event_id is already on the ledger at height " +
            std::to_string(record->location.height()) + " with different content"));
      }
      call->receipts[i] = record->location.receipt();  // an idempotent retry
      continue;
    }
    auto flight = inflight_.find(id);
    if (flight != inflight_.end()) {
      if (flight->second != call->hashes[i]) {
        return refuse(base::Status::already_exists(
            "DUPLICATE_EVENT_ID: an event with this id and different content is being "
            "committed"));
      }
      continue;  // the same event is already on its way: just wait for it
    }
    // Stateful rules against the applied ledger. A reference to an event still in flight (or
    // earlier in this request) is left to apply, which sees it.
    const bool refers_pending = !e.refers_to().empty() &&
                                (inflight_.count(e.refers_to()) || in_request.count(e.refers_to()));
    if (!refers_pending) {
      ledger::LedgerLookup lookup{
          [&](const std::string& other) {
            auto r = ledger_.event(other);
            return r.is_ok() && r->location.receipt().accepted();
          },
          [&](const std::string& other) -> std::optional<v1::ViewEntry> {
            auto r = ledger_.event(other);
            if (!r.is_ok() || !r->entry) return std::nullopt;
            return *r->entry;
          }};
      auto rejection = ledger::check_event_stateful(ledger_.consortium(), e, now_ms_, lookup);
      if (rejection) {
        return refuse(base::Status::invalid_argument(v1::RejectReason_Name(rejection->reason) +
                                                     ": " + rejection->message));
      }
    }
    in_request[id] = i;
    propose[i] = true;
    ++new_events;
  }
  if (inflight_.size() + batch_.size() + new_events > config_.batch.max_pending_events) {
    return fail(call,
                base::Status::busy("overloaded: " + std::to_string(inflight_.size()) +
                                   " events are waiting to commit; retry later"),
                out);
  }
  // Pass 2: wait for every event not already answered, and batch the new ones.
  for (size_t i = 0; i < n; ++i) {
    if (call->receipts[i]) continue;
    const std::string& id = call->parsed[i].event_id();
    waiters_[id].push_back(Waiter{call, i});
    ++call->pending;
    if (!propose[i]) continue;
    inflight_[id] = call->hashes[i];
    verified_.insert(call->hashes[i]);
    batch_bytes_ += call->events[i].ByteSizeLong();
    batch_.push_back(std::move(call->events[i]));
  }
  if (call->pending == 0) return answer_call(call, out);
  calls_.push_back(call);
  if (batch_.size() >= config_.batch.max_events || batch_bytes_ >= config_.batch.max_bytes) {
    flush_batch(out);
  } else if (!batch_.empty() && !flush_requested_) {
    flush_requested_ = true;
    out.flush_after_us = std::max<uint64_t>(1, config_.batch.max_delay_us);
  }
}

Effects Replica::flush(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  Effects out;
  flush_requested_ = false;
  if (halted_ || !is_leader_) return out;
  flush_batch(out);
  drain(out);
  return out;
}

void Replica::flush_batch(Effects& out) {
  // One entry (one block) holds at most the smaller of our batch bound and the consortium's
  // per-block limit; a larger backlog becomes several entries, proposed back to back.
  const size_t per_block = std::min<size_t>(
      config_.batch.max_events,
      static_cast<size_t>(ledger_.consortium().config().limits().max_events_per_block()));
  // Bytes too: the last call added may have taken the batch past batch.max_bytes, and a block
  // must fit in one append message (config.h).
  size_t start = 0;
  while (start < batch_.size()) {
    size_t end = start;
    uint64_t bytes = 0;
    while (end < batch_.size() && end - start < per_block) {
      const uint64_t event_bytes = batch_[end].ByteSizeLong();
      if (end > start && bytes + event_bytes > config_.batch.max_bytes) break;
      bytes += event_bytes;
      ++end;
    }
    v1::EntryPayload payload;
    v1::BlockBody* body = payload.mutable_block();
    body->set_timestamp_ms(now_ms_);
    for (size_t i = start; i < end; ++i) *body->add_events() = std::move(batch_[i]);
    start = end;
    auto proposed = raft_->propose(payload.SerializeAsString());
    if (proposed.is_ok()) {
      ++out.proposals;
      continue;
    }
    const base::Status why =
        proposed.status().code() == base::Code::kBusy
            ? base::Status::busy("not proposed: " + proposed.status().message())
            : base::Status::unavailable("not proposed: " + proposed.status().message());
    for (const v1::SignedEvent& e : body->events()) {
      const std::string id = ledger::parse_event_payload(e.payload())->event_id();
      inflight_.erase(id);
      auto it = waiters_.find(id);
      if (it == waiters_.end()) continue;
      for (auto& w : it->second) fail(w.call, why, out);
      waiters_.erase(it);
    }
  }
  batch_.clear();
  batch_bytes_ = 0;
}

void Replica::answer_call(const std::shared_ptr<Call>& call, Effects& out) {
  if (call->finished) return;
  call->finished = true;
  SubmitReply reply;
  reply.id = call->id;
  reply.receipts.reserve(call->receipts.size());
  for (auto& r : call->receipts) {
    LEDGER_ASSERT(r.has_value());
    reply.receipts.push_back(std::move(*r));
  }
  out.submit_replies.push_back(std::move(reply));
}

void Replica::fail(const std::shared_ptr<Call>& call, base::Status status, Effects& out) {
  if (call->finished) return;
  LEDGER_ASSERT(!status.is_ok());
  call->finished = true;
  out.submit_replies.push_back(SubmitReply{call->id, std::move(status), {}});
}

void Replica::on_leadership_change(bool leader_now, Effects& out) {
  is_leader_ = leader_now;
  out.is_leader = leader_now;
  if (leader_now) return;
  // Events batched here were never proposed: their callers must retry with the new leader.
  for (const v1::SignedEvent& e : batch_) {
    const std::string id = ledger::parse_event_payload(e.payload())->event_id();
    auto it = waiters_.find(id);
    if (it == waiters_.end()) continue;
    for (auto& w : it->second) {
      fail(w.call, base::Status::unavailable("leadership moved; retry"), out);
    }
    waiters_.erase(it);
  }
  batch_.clear();
  batch_bytes_ = 0;
  // Proposed events may still commit under the new leader; their waiters stay until deadline.
  inflight_.clear();
  verified_.clear();
}

Effects Replica::tick(int64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  Effects out;
  if (!halted_) raft_->tick();
  // Deadlines of submits that are still waiting for their events to commit.
  while (!calls_.empty() && (calls_.front()->finished || calls_.front()->deadline_ms <= now_ms_)) {
    auto call = calls_.front();
    calls_.pop_front();
    fail(call, unavailable_timed_out(), out);
  }
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto& list = it->second;
    std::erase_if(list, [](const Waiter& w) { return w.call->finished; });
    it = list.empty() ? waiters_.erase(it) : std::next(it);
  }
  drain(out);
  return out;
}

Effects Replica::step(const std::vector<consensus::Message>& messages) {
  Effects out;
  if (halted_) return out;  // cannot persist: no answer
  for (const consensus::Message& m : messages) {
    auto s = raft_->step(m);
    if (!s.is_ok()) spdlog::debug("raft message from {} ignored: {}", m.from, s.to_string());
  }
  drain(out);
  return out;
}

Effects Replica::read_index(CallId id) {
  Effects out;
  if (halted_) {
    out.read_replies.push_back({id, base::Status::unavailable("this node's disk is full; ask another node")});
    return out;
  }
  if (!is_leader_) {
    out.read_replies.push_back({id, base::Status::not_leader("not the leader")});
    return out;
  }
  const std::string context = std::to_string(++read_counter_);
  if (auto s = raft_->read_index(context); !s.is_ok()) {
    out.read_replies.push_back({id, s});
    return out;
  }
  reads_waiting_index_[context] = id;
  drain(out);
  return out;
}

Effects Replica::halt(const std::string& why) {
  Effects out;
  halted_ = true;
  known_leader_ = 0;
  out.leader = 0;
  // What waits on this core's future can no longer be answered by it.
  if (is_leader_) on_leadership_change(false, out);
  for (auto& [context, id] : reads_waiting_index_) {
    out.read_replies.push_back({id, base::Status::unavailable(why)});
  }
  reads_waiting_index_.clear();
  apply_queue_.clear();
  preverified_.clear();
  jobs_.clear();
  return out;
}

void Replica::storage_failed(const std::string& what, const base::Status& status, Effects& out) {
  out.storage_failure = std::make_pair(what, status);
  out.merge(halt(status.code() == base::Code::kBusy
                     ? "this node's disk is full; ask another node"
                     : "this node's storage failed (" + what + "); ask another node"));
}

Effects Replica::stop(const std::string& why) {
  Effects out = halt(why);
  for (auto& call : calls_) fail(call, base::Status::unavailable(why), out);
  calls_.clear();
  waiters_.clear();
  for (auto& [index, id] : reads_waiting_apply_) {
    out.read_replies.push_back({id, base::Status::unavailable(why)});
  }
  reads_waiting_apply_.clear();
  return out;
}

void Replica::note_verified(const std::vector<ledger::Hash>& hashes) {
  // Events the leader answers from the ledger (retries) never come back in a block: the set is
  // only a cache, so it is dropped whole rather than allowed to grow.
  if (verified_.size() > 4 * config_.batch.max_pending_events) verified_.clear();
  verified_.insert(hashes.begin(), hashes.end());
}

void Replica::forget_verified(const std::vector<ledger::Hash>& hashes) {
  for (const ledger::Hash& h : hashes) verified_.erase(h);
}

// ---- catch-up and compaction ----

Effects Replica::catch_up_done(NodeId peer, uint64_t index, bool ok) {
  Effects out;
  catching_up_.erase(peer);
  if (halted_) return out;
  (void)raft_->report_catch_up(peer, index, ok);  // a peer no longer a member: nothing to do
  drain(out);
  return out;
}

base::Status Replica::apply_synced_block(const v1::Block& block) {
  if (env_.check_disk_space) RETURN_IF_ERROR(env_.check_disk_space());
  return ledger_.apply_block(block, nullptr, block.log_index());
}

base::Status Replica::finish_sync(const consensus::CompactionPoint& point, Effects& out) {
  // A store that failed a write is replaced before it is used again.
  if (halted_) return base::Status::unavailable("this node's storage refuses writes");
  if (raft_->commit_index() >= point.index) return base::Status::ok();  // caught up meanwhile
  // If the log already holds the point's entry, entries after it may have been acknowledged
  // to the leader: keep them; the leader's probing finds the match.
  auto term = raft_->term_at(point.index);
  if (term.is_ok() && *term == point.term) return base::Status::ok();
  if (auto reset = storage_->reset(point); !reset.is_ok()) {
    if (reset.code() == base::Code::kBusy) storage_failed("reset raft log", reset, out);
    return reset;
  }
  RETURN_IF_ERROR(raft_->reset_log(point));
  // Entries up to the point are covered by the synced blocks: none of them is applied here.
  apply_queue_.clear();
  preverified_.erase(preverified_.begin(), preverified_.upper_bound(point.index));
  // Blocks of an earlier, interrupted sync may already reach past the point: the cursor
  // never moves back, or those entries would be applied twice.
  if (ledger_.cursor() < point.index || REPLICA_BUG(kSyncCursorMovesBack)) {
    RETURN_IF_ERROR(ledger_.set_cursor(point.index));
  }
  drain(out);
  return base::Status::ok();
}

base::Status Replica::compact(uint64_t index) {
  // Callers pass the ledger's cursor, which a block sync moves ahead of the core's applied
  // index; the core refuses a compaction beyond that (after storage has already compacted).
  index = std::min({index, raft_->last_applied(), ledger_.cursor()});
  const consensus::CompactionPoint point = storage_->compaction_point();
  if (index <= point.index) return base::Status::ok();
  // The blocks up to index must be durable before the entries they came from are dropped.
  if (env_.sync_blocks) RETURN_IF_ERROR(env_.sync_blocks());
  ASSIGN_OR_RETURN(consensus::Membership membership, raft_->membership_at(index));
  RETURN_IF_ERROR(storage_->compact(index, membership));
  RETURN_IF_ERROR(raft_->compacted(index));
  compaction_height_ = ledger_.head().height();
  spdlog::info("node {} compacted its raft log up to index {}", config_.node_id, index);
  return base::Status::ok();
}

void Replica::maybe_auto_compact(Effects& out) {
  const uint64_t keep = config_.raft.auto_compact_entries;
  if (keep == 0) return;
  const uint64_t applied = ledger_.cursor();
  const uint64_t compacted = storage_->compaction_point().index;
  // Keep `keep` entries behind the applied index so that briefly lagging followers catch up
  // from the log, not by block sync.
  if (applied < compacted + 2 * keep) return;
  if (auto s = compact(applied - keep); !s.is_ok()) {
    if (s.code() == base::Code::kBusy) return storage_failed("automatic compaction", s, out);
    spdlog::error("automatic compaction failed: {}", s.to_string());
  }
}

}  // namespace node
