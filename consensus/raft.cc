#include "consensus/raft.h"

#include <algorithm>

#include "base/assert.h"
#include "consensus/internal/bug_injection.h"
#include "consensus/internal/quorum.h"

namespace consensus {

using base::Result;
using base::Status;
using internal::Progress;
using internal::ProgressState;

const char* message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResponse: return "PreVoteResponse";
    case MessageType::kVote: return "Vote";
    case MessageType::kVoteResponse: return "VoteResponse";
    case MessageType::kAppend: return "Append";
    case MessageType::kAppendResponse: return "AppendResponse";
    case MessageType::kHeartbeat: return "Heartbeat";
    case MessageType::kHeartbeatResponse: return "HeartbeatResponse";
    case MessageType::kTimeoutNow: return "TimeoutNow";
  }
  return "Unknown";
}

const char* role_name(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

// ---- Membership encoding ----
//
// Format v1 (all integers little-endian):
//   u8 version = 1 | u32 voter_count | u64 voter... | u32 learner_count | u64 learner...
// Voters and learners are sorted, unique and disjoint.

namespace {

constexpr uint8_t kMembershipFormatV1 = 1;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
bool get_uint(const std::string& in, size_t& pos, int bytes, uint64_t& v) {
  if (in.size() - pos < static_cast<size_t>(bytes)) return false;
  v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[pos + i])) << (8 * i);
  }
  pos += bytes;
  return true;
}

bool sorted_unique(const std::vector<NodeId>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kNoNode) return false;
    if (i > 0 && ids[i - 1] >= ids[i]) return false;
  }
  return true;
}

bool contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::binary_search(ids.begin(), ids.end(), id);
}

void insert_sorted(std::vector<NodeId>& ids, NodeId id) {
  ids.insert(std::lower_bound(ids.begin(), ids.end(), id), id);
}

void erase_sorted(std::vector<NodeId>& ids, NodeId id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it != ids.end() && *it == id) ids.erase(it);
}

uint64_t data_bytes(const std::vector<Entry>& entries) {
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.data.size();
  return bytes;
}

}  // namespace

std::string encode_membership(const Membership& membership) {
  std::string out;
  out.push_back(static_cast<char>(kMembershipFormatV1));
  put_u32(out, static_cast<uint32_t>(membership.voters.size()));
  for (NodeId id : membership.voters) put_u64(out, id);
  put_u32(out, static_cast<uint32_t>(membership.learners.size()));
  for (NodeId id : membership.learners) put_u64(out, id);
  return out;
}

Result<Membership> decode_membership(const std::string& data) {
  size_t pos = 0;
  uint64_t v = 0;
  if (!get_uint(data, pos, 1, v) || v != kMembershipFormatV1) {
    return Status::corruption("membership: unknown format version");
  }
  Membership m;
  for (std::vector<NodeId>* list : {&m.voters, &m.learners}) {
    uint64_t count = 0;
    if (!get_uint(data, pos, 4, count)) return Status::corruption("membership: truncated count");
    if (count > (data.size() - pos) / 8) return Status::corruption("membership: truncated ids");
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t id = 0;
      get_uint(data, pos, 8, id);
      list->push_back(id);
    }
  }
  if (pos != data.size()) return Status::corruption("membership: trailing bytes");
  if (!sorted_unique(m.voters) || !sorted_unique(m.learners)) {
    return Status::corruption("membership: ids not sorted and unique");
  }
  for (NodeId id : m.learners) {
    if (contains(m.voters, id)) return Status::corruption("membership: learner is also a voter");
  }
  if (m.voters.empty()) return Status::corruption("membership: no voters");
  return m;
}

Result<Membership> apply_membership_change(const Membership& current,
                                           const MembershipChange& change) {
  if (change.node == kNoNode) return Status::invalid_argument("membership change: node id 0");
  Membership next = current;
  bool voter = contains(current.voters, change.node);
  bool learner = contains(current.learners, change.node);
  std::string node = "node " + std::to_string(change.node);
  switch (change.type) {
    case MembershipChangeType::kAddVoter:
      if (voter) return Status::invalid_argument(node + " is already a voter");
      if (learner) return Status::invalid_argument(node + " is a learner; promote it instead");
      insert_sorted(next.voters, change.node);
      break;
    case MembershipChangeType::kAddLearner:
      if (voter || learner) return Status::invalid_argument(node + " is already a member");
      insert_sorted(next.learners, change.node);
      break;
    case MembershipChangeType::kPromoteLearner:
      if (!learner) return Status::invalid_argument(node + " is not a learner");
      erase_sorted(next.learners, change.node);
      insert_sorted(next.voters, change.node);
      break;
    case MembershipChangeType::kRemove:
      if (!voter && !learner) return Status::invalid_argument(node + " is not a member");
      if (voter && current.voters.size() == 1) {
        return Status::invalid_argument("cannot remove the last voter " + node);
      }
      erase_sorted(next.voters, change.node);
      erase_sorted(next.learners, change.node);
      break;
  }
  return next;
}

// ---- Config ----

Status Config::validate() const {
  if (id == kNoNode) return Status::invalid_argument("raft config: id must not be 0");
  if (heartbeat_ticks == 0) return Status::invalid_argument("raft config: heartbeat_ticks is 0");
  if (election_timeout_ticks <= heartbeat_ticks) {
    return Status::invalid_argument(
        "raft config: election_timeout_ticks must exceed heartbeat_ticks");
  }
  if (max_inflight_msgs == 0) return Status::invalid_argument("raft config: max_inflight_msgs is 0");
  if (max_inflight_bytes == 0) {
    return Status::invalid_argument("raft config: max_inflight_bytes is 0");
  }
  if (max_size_per_msg_bytes == 0) {
    return Status::invalid_argument("raft config: max_size_per_msg_bytes is 0");
  }
  if (max_entry_bytes == 0) return Status::invalid_argument("raft config: max_entry_bytes is 0");
  if (max_uncommitted_bytes < max_entry_bytes) {
    return Status::invalid_argument(
        "raft config: max_uncommitted_bytes must be at least max_entry_bytes");
  }
  if (max_committed_bytes_per_ready == 0) {
    return Status::invalid_argument("raft config: max_committed_bytes_per_ready is 0");
  }
  if (max_pending_reads == 0) return Status::invalid_argument("raft config: max_pending_reads is 0");
  return Status::ok();
}

// ---- Construction ----

Result<std::unique_ptr<Raft>> Raft::create(const Config& config, LogStorage& storage, Rng& rng) {
  RETURN_IF_ERROR(config.validate());
  std::unique_ptr<Raft> raft(new Raft(config, storage, rng));
  RETURN_IF_ERROR(raft->load());
  return raft;
}

Raft::Raft(const Config& config, LogStorage& storage, Rng& rng)
    : config_(config), rng_(rng), log_(storage) {}

Status Raft::load() {
  LogStorage& storage = log_.storage();
  HardState hs = storage.hard_state();
  term_ = hs.term;
  vote_ = hs.vote;
  CompactionPoint point = storage.compaction_point();
  base_membership_ = point.membership;
  if (base_membership_.voters.empty() && base_membership_.learners.empty()) {
    base_membership_ = storage.membership();
  }
  if (base_membership_.voters.empty()) {
    return Status::invalid_argument("raft: storage has no initial membership");
  }
  // Rebuild the configuration history from the stored log (bounded: the log is compacted
  // behind the applied index).
  uint64_t next = storage.first_index();
  uint64_t last = storage.last_index();
  while (next <= last) {
    ASSIGN_OR_RETURN(std::vector<Entry> batch, storage.entries(next, last + 1, 4ULL << 20));
    LEDGER_ASSERT(!batch.empty());
    for (const Entry& e : batch) {
      if (e.type != EntryType::kConfChange) continue;
      Result<Membership> m = decode_membership(e.data);
      if (!m.is_ok()) {
        return m.status().with_context("raft: entry " + std::to_string(e.index));
      }
      conf_entries_.emplace_back(e.index, std::move(m).value());
    }
    next = batch.back().index + 1;
  }
  if (config_.applied > log_.committed()) {
    return Status::invalid_argument("raft: config.applied " + std::to_string(config_.applied) +
                                    " is beyond the persisted commit index " +
                                    std::to_string(log_.committed()));
  }
  log_.set_applied(config_.applied);
  handed_out_applied_ = log_.applied();
  prev_hard_state_ = hs;
  become_follower(term_, kNoNode);
  prev_soft_state_ = SoftState{leader_, role_};
  membership_dirty_ = true;
  checked_term_ = term_;
  checked_vote_ = vote_;
  return Status::ok();
}

// ---- Membership ----

const Membership& Raft::membership() const {
  return conf_entries_.empty() ? base_membership_ : conf_entries_.back().second;
}

Result<Membership> Raft::membership_at(uint64_t index) const {
  if (index + 1 < log_.first_index()) return Status::not_found("index compacted");
  if (index > log_.last_index()) return Status::not_found("index beyond last index");
  const Membership* m = &base_membership_;
  for (const auto& [conf_index, conf] : conf_entries_) {
    if (conf_index > index) break;
    m = &conf;
  }
  return *m;
}

bool Raft::is_voter(NodeId id) const { return contains(membership().voters, id); }

bool Raft::is_member(NodeId id) const {
  return is_voter(id) || contains(membership().learners, id);
}

bool Raft::promotable() const {
  if (is_voter(config_.id)) return true;
  // Our removal is appended but not committed: we were a voter of the configuration before it.
  // Campaigning under the new configuration (without us) is as safe as leading it, which a
  // leader does until its own removal commits; and we may hold the only log that can win.
  if (conf_entries_.empty() || conf_entries_.back().first <= log_.committed()) return false;
  const Membership& previous =
      conf_entries_.size() >= 2 ? conf_entries_[conf_entries_.size() - 2].second : base_membership_;
  return contains(previous.voters, config_.id);
}

std::vector<NodeId> Raft::peers() const {
  std::vector<NodeId> out;
  const Membership& m = membership();
  std::merge(m.voters.begin(), m.voters.end(), m.learners.begin(), m.learners.end(),
             std::back_inserter(out));
  out.erase(std::remove(out.begin(), out.end(), config_.id), out.end());
  return out;
}

Status Raft::on_entries_appended(uint64_t first_changed, const std::vector<Entry>& entries) {
  bool changed = false;
  while (!conf_entries_.empty() && conf_entries_.back().first >= first_changed) {
    conf_entries_.pop_back();  // the entry was truncated: back to the previous configuration
    changed = true;
  }
  for (const Entry& e : entries) {
    if (e.index < first_changed || e.type != EntryType::kConfChange) continue;
    Result<Membership> m = decode_membership(e.data);
    // Messages are validated before their entries are appended.
    LEDGER_ASSERT(m.is_ok());
    conf_entries_.emplace_back(e.index, std::move(m).value());
    changed = true;
  }
  if (changed) membership_changed();
  return Status::ok();
}

void Raft::membership_changed() {
  membership_dirty_ = true;
  if (role_ != Role::kLeader) return;
  const Membership& m = membership();
  // Drop progress of departed members; keep our own (the quorum code skips us if we left).
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (it->first != config_.id && !is_member(it->first)) {
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  for (NodeId id : peers()) {
    if (progress_.count(id) == 0) {
      progress_.emplace(id, Progress(log_.last_index() + 1, config_.max_inflight_msgs,
                                     config_.max_inflight_bytes));
    }
  }
  for (auto& [id, pr] : progress_) pr.is_learner = contains(m.learners, id);
  if (lead_transferee_ != kNoNode && !is_voter(lead_transferee_)) abort_transfer();
  // A smaller voter set may already hold a majority for more entries.
  if (maybe_commit()) broadcast_append();
}

void Raft::check_self_removal() {
  if (role_ != Role::kLeader || is_voter(config_.id)) return;
  // We stay leader of a configuration without us until it commits, so the change itself gets
  // replicated; after that the remaining voters elect a leader among themselves.
  LEDGER_ASSERT(!conf_entries_.empty());
  if (log_.committed() >= conf_entries_.back().first) become_follower(term_, kNoNode);
}

// ---- Role changes ----

void Raft::reset(uint64_t term) {
  if (term_ != term) {
    LEDGER_ASSERT(term > term_);
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_transfer();
  votes_.clear();
  progress_.clear();
  drop_pending_reads();
  committed_in_term_ = false;
  uncommitted_bytes_ = 0;
  leader_start_index_ = 0;
}

void Raft::reset_randomized_election_timeout() {
  randomized_election_timeout_ =
      config_.election_timeout_ticks + rng_.uniform(config_.election_timeout_ticks);
}

void Raft::become_follower(uint64_t term, NodeId leader) {
  reset(term);
  leader_ = leader;
  role_ = Role::kFollower;
}

void Raft::become_pre_candidate() {
  LEDGER_ASSERT(role_ != Role::kLeader);
  // Neither term nor vote change: a pre-vote round that fails leaves no trace.
  votes_.clear();
  leader_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Raft::become_candidate() {
  LEDGER_ASSERT(role_ != Role::kLeader);
  reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Raft::become_leader() {
  LEDGER_ASSERT(role_ == Role::kCandidate);
  reset(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  uint64_t last = log_.last_index();
  progress_.emplace(config_.id, Progress(last + 1, config_.max_inflight_msgs,
                                         config_.max_inflight_bytes));
  progress_.at(config_.id).match = last;
  for (NodeId id : peers()) {
    progress_.emplace(id, Progress(last + 1, config_.max_inflight_msgs,
                                   config_.max_inflight_bytes));
  }
  for (auto& [id, pr] : progress_) {
    pr.is_learner = contains(membership().learners, id);
    pr.recent_active = id == config_.id;
  }
  leader_start_index_ = last + 1;
  // An empty entry of our term: committing it commits everything before it (§5.4.2) and lets
  // ReadIndex know our commit index is current.
  append_own({Entry{0, 0, EntryType::kNormal, ""}});
}

void Raft::start_election(bool pre_vote, bool transfer) {
  uint64_t vote_term;
  MessageType type;
  if (pre_vote) {
    become_pre_candidate();
    vote_term = term_ + 1;
    type = MessageType::kPreVote;
  } else {
    become_candidate();
    vote_term = term_;
    type = MessageType::kVote;
  }
  votes_[config_.id] = 1;
  if (internal::vote_result(membership().voters, [&](NodeId id) {
        auto it = votes_.find(id);
        return it == votes_.end() ? -1 : it->second;
      }) == internal::VoteResult::kWon) {
    // A single-voter cluster wins at once.
    if (pre_vote) {
      start_election(false, transfer);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId id : membership().voters) {
    if (id == config_.id) continue;
    Message m;
    m.type = type;
    m.to = id;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
}

void Raft::campaign() {
  if (role_ == Role::kLeader || !promotable()) return;
  start_election(config_.pre_vote, false);
}

// ---- Ticks ----

void Raft::tick() {
  if (role_ == Role::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    start_election(config_.pre_vote, false);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_timeout_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      auto result = internal::vote_result(membership().voters, [&](NodeId id) {
        auto it = progress_.find(id);
        return it != progress_.end() && it->second.recent_active ? 1 : 0;
      });
      if (result != internal::VoteResult::kWon) {
        // We cannot hear a majority: a leader elsewhere may be serving; stop claiming to be one.
        become_follower(term_, kNoNode);
        return;
      }
      for (auto& [id, pr] : progress_) pr.recent_active = id == config_.id;
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (lead_transferee_ != kNoNode) abort_transfer();
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    broadcast_heartbeat();
  }
}

// ---- Sending ----

void Raft::send(Message message) {
  message.from = config_.id;
  if (message.term == 0) message.term = term_;
  msgs_.push_back(std::move(message));
}

bool Raft::send_append_once(NodeId to, bool send_if_empty) {
  auto it = progress_.find(to);
  LEDGER_ASSERT(it != progress_.end());
  Progress& pr = it->second;
  if (pr.is_paused()) return false;
  uint64_t prev_index = pr.next - 1;
  Result<uint64_t> prev_term = log_.term(prev_index);
  std::vector<Entry> entries;
  bool compacted = !prev_term.is_ok();
  if (!compacted && pr.next <= log_.last_index()) {
    Result<std::vector<Entry>> got =
        log_.entries(pr.next, log_.last_index() + 1, config_.max_size_per_msg_bytes);
    if (got.is_ok()) {
      entries = std::move(got).value();
    } else {
      compacted = true;
    }
  }
  if (compacted) {
    // The peer needs entries we no longer hold; the owner must bring it up to date.
    pr.become_catch_up(pr.next);
    catch_ups_.push_back(CatchUp{to, pr.next});
    return false;
  }
  if (entries.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev_index;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  uint64_t last = entries.empty() ? prev_index : entries.back().index;
  pr.sent_entries(last, entries.size(), data_bytes(entries));
  m.entries = std::move(entries);
  send(std::move(m));
  return true;
}

void Raft::send_append(NodeId to, bool send_if_empty) {
  // Committing our own removal can end our leadership in the middle of a leader action.
  if (role_ != Role::kLeader) return;
  if (!send_append_once(to, send_if_empty)) return;
  // Pipelining: in replicate state keep sending until the window is full or nothing is left.
  while (send_append_once(to, false)) {
  }
}

void Raft::send_heartbeat(NodeId to) {
  auto it = progress_.find(to);
  LEDGER_ASSERT(it != progress_.end());
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // Never tell a peer a commit index beyond what it is known to hold.
  m.commit = std::min(it->second.match, log_.committed());
  m.read_seq = read_seq_;
  send(std::move(m));
}

void Raft::broadcast_append() {
  for (NodeId id : peers()) send_append(id, true);
}

void Raft::broadcast_heartbeat() {
  for (NodeId id : peers()) send_heartbeat(id);
}

// ---- Leader bookkeeping ----

uint64_t Raft::match_of(NodeId peer) const {
  auto it = progress_.find(peer);
  return it == progress_.end() ? 0 : it->second.match;
}

bool Raft::maybe_commit() {
  if (role_ != Role::kLeader) return false;
  uint64_t index = internal::committed_index(
      membership().voters, [&](NodeId id) { return match_of(id); });
  if (index <= log_.committed()) return false;
  // Raft §5.4.2: only an entry of our own term is committed by counting replicas; earlier
  // entries commit with it.
  if (log_.term_or_zero(index) != term_ && !RAFT_BUG(kCommitEarlierTermByCount)) return false;
  log_.commit_to(index);
  if (!committed_in_term_ && index >= leader_start_index_) on_own_term_commit();
  check_self_removal();
  return true;
}

void Raft::append_own(std::vector<Entry> entries) {
  LEDGER_ASSERT(role_ == Role::kLeader);
  uint64_t first = log_.last_index() + 1;
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].index = first + i;
    entries[i].term = term_;
  }
  log_.append(entries);
  progress_.at(config_.id).maybe_update(log_.last_index());
  LEDGER_ASSERT(on_entries_appended(first, entries).is_ok());
  maybe_commit();
}

void Raft::abort_transfer() { lead_transferee_ = kNoNode; }

void Raft::drop_pending_reads() {
  for (PendingRead& r : pending_reads_) dropped_reads_.push_back(std::move(r.context));
  for (std::string& c : reads_before_commit_) dropped_reads_.push_back(std::move(c));
  pending_reads_.clear();
  reads_before_commit_.clear();
}

void Raft::on_own_term_commit() {
  committed_in_term_ = true;
  if (reads_before_commit_.empty()) return;
  std::vector<std::string> waiting = std::move(reads_before_commit_);
  reads_before_commit_.clear();
  register_reads(std::move(waiting));
}

void Raft::register_reads(std::vector<std::string> contexts) {
  LEDGER_ASSERT(role_ == Role::kLeader);
  LEDGER_ASSERT(committed_in_term_);
  if (membership().voters.size() == 1 && is_voter(config_.id)) {
    // We are the whole quorum: nobody else can be leader.
    for (std::string& c : contexts) read_states_.push_back({log_.committed(), std::move(c)});
    return;
  }
  ++read_seq_;
  for (std::string& c : contexts) {
    pending_reads_.push_back({read_seq_, log_.committed(), std::move(c)});
  }
  progress_.at(config_.id).read_ack_seq = read_seq_;
  broadcast_heartbeat();
}

void Raft::release_reads() {
  size_t done = 0;
  while (done < pending_reads_.size()) {
    uint64_t seq = pending_reads_[done].seq;
    auto result = internal::vote_result(membership().voters, [&](NodeId id) {
      auto it = progress_.find(id);
      return it != progress_.end() && it->second.read_ack_seq >= seq ? 1 : -1;
    });
    if (result != internal::VoteResult::kWon) break;
    read_states_.push_back({pending_reads_[done].index, std::move(pending_reads_[done].context)});
    ++done;
  }
  pending_reads_.erase(pending_reads_.begin(), pending_reads_.begin() + done);
}

// ---- Client requests ----

Result<uint64_t> Raft::propose(std::string data) {
  if (role_ != Role::kLeader) return Status::not_leader("raft: not the leader");
  if (lead_transferee_ != kNoNode) {
    return Status::busy("raft: leadership transfer in progress");
  }
  if (data.size() > config_.max_entry_bytes) {
    return Status::invalid_argument("raft: proposal of " + std::to_string(data.size()) +
                                    " bytes exceeds max_entry_bytes");
  }
  if (uncommitted_bytes_ > 0 &&
      uncommitted_bytes_ + data.size() > config_.max_uncommitted_bytes) {
    return Status::busy("raft: max_uncommitted_bytes reached");
  }
  uncommitted_bytes_ += data.size();
  append_own({Entry{0, 0, EntryType::kNormal, std::move(data)}});
  uint64_t index = log_.last_index();
  for (NodeId id : peers()) send_append(id, false);
  return index;
}

Result<uint64_t> Raft::propose_membership(const MembershipChange& change) {
  if (role_ != Role::kLeader) return Status::not_leader("raft: not the leader");
  if (lead_transferee_ != kNoNode) {
    return Status::busy("raft: leadership transfer in progress");
  }
  if (!committed_in_term_) {
    return Status::busy("raft: leader has not yet committed an entry of its term");
  }
  if (!conf_entries_.empty() && conf_entries_.back().first > log_.committed()) {
    return Status::busy("raft: the previous membership change is not committed yet");
  }
  ASSIGN_OR_RETURN(Membership next, apply_membership_change(membership(), change));
  append_own({Entry{0, 0, EntryType::kConfChange, encode_membership(next)}});
  uint64_t index = log_.last_index();
  for (NodeId id : peers()) send_append(id, false);
  return index;
}

Status Raft::read_index(std::string context) {
  if (role_ != Role::kLeader) return Status::not_leader("raft: not the leader");
  if (pending_reads_.size() + reads_before_commit_.size() >= config_.max_pending_reads) {
    return Status::busy("raft: max_pending_reads reached");
  }
  if (RAFT_BUG(kReadIndexWithoutHeartbeat)) {
    read_states_.push_back({log_.committed(), std::move(context)});
    return Status::ok();
  }
  if (!committed_in_term_) {
    // Our commit index may lag the previous leader's until we commit in our term.
    reads_before_commit_.push_back(std::move(context));
    return Status::ok();
  }
  std::vector<std::string> one;
  one.push_back(std::move(context));
  register_reads(std::move(one));
  return Status::ok();
}

Status Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return Status::not_leader("raft: not the leader");
  if (to == config_.id) return Status::ok();
  if (!is_voter(to)) {
    return Status::invalid_argument("raft: transfer target " + std::to_string(to) +
                                    " is not a voter");
  }
  if (lead_transferee_ == to) return Status::ok();
  lead_transferee_ = to;
  // The transfer gets one election timeout to finish (see tick_heartbeat).
  election_elapsed_ = 0;
  Progress& pr = progress_.at(to);
  if (pr.match == log_.last_index()) {
    Message m;
    m.type = MessageType::kTimeoutNow;
    m.to = to;
    send(std::move(m));
  } else {
    send_append(to, true);
  }
  return Status::ok();
}

// ---- Compaction and catch-up ----

Status Raft::compacted(uint64_t index) {
  if (index > log_.applied()) {
    return Status::invalid_argument("raft: compacted beyond the applied index");
  }
  if (index + 1 != log_.first_index()) {
    return Status::invalid_argument("raft: storage was not compacted to " +
                                    std::to_string(index));
  }
  size_t drop = 0;
  while (drop < conf_entries_.size() && conf_entries_[drop].first <= index) {
    base_membership_ = conf_entries_[drop].second;
    ++drop;
  }
  conf_entries_.erase(conf_entries_.begin(), conf_entries_.begin() + drop);
  return Status::ok();
}

Status Raft::report_catch_up(NodeId peer, uint64_t index, bool ok) {
  if (role_ != Role::kLeader) return Status::not_leader("raft: not the leader");
  auto it = progress_.find(peer);
  if (it == progress_.end()) return Status::not_found("raft: not a member");
  Progress& pr = it->second;
  if (pr.state != ProgressState::kCatchUp) return Status::ok();  // stale report
  if (ok) pr.next = std::max(pr.next, index + 1);
  // Probe from there: the peer's answer tells us where its log really stands.
  pr.become_probe();
  send_append(peer, true);
  return Status::ok();
}

Status Raft::reset_log(const CompactionPoint& point) {
  if (ready_outstanding_) return Status::busy("raft: reset_log while a Ready is outstanding");
  if (point.index <= log_.committed()) {
    return Status::invalid_argument("raft: catch-up point is not beyond the commit index");
  }
  LogStorage& storage = log_.storage();
  if (storage.first_index() != point.index + 1 || storage.last_index() != point.index) {
    return Status::invalid_argument("raft: storage was not reset to the catch-up point");
  }
  log_.reset(point);
  handed_out_applied_ = point.index;
  base_membership_ = point.membership;
  conf_entries_.clear();
  membership_changed();
  return Status::ok();
}

// ---- Step ----

Status Raft::validate_message(const Message& m) const {
  if (m.from == kNoNode || m.from == config_.id) {
    return Status::invalid_argument("raft: message from an invalid sender");
  }
  if (m.to != config_.id) return Status::invalid_argument("raft: message for another node");
  if (m.term == 0) return Status::invalid_argument("raft: message without term");
  if (m.type == MessageType::kAppend) {
    uint64_t prev_term = m.log_term;
    for (size_t i = 0; i < m.entries.size(); ++i) {
      const Entry& e = m.entries[i];
      if (e.index != m.index + 1 + i) {
        return Status::invalid_argument("raft: append entries are not contiguous");
      }
      if (e.term < prev_term || e.term > m.term) {
        return Status::invalid_argument("raft: append entry terms out of order");
      }
      prev_term = e.term;
      if (e.type == EntryType::kConfChange && !decode_membership(e.data).is_ok()) {
        return Status::invalid_argument("raft: append carries an undecodable membership");
      }
    }
  } else if (!m.entries.empty()) {
    return Status::invalid_argument("raft: entries on a message that carries none");
  }
  return Status::ok();
}

Status Raft::step(const Message& m) {
  RETURN_IF_ERROR(validate_message(m));
  if (m.term > term_) {
    if (m.type == MessageType::kPreVote || m.type == MessageType::kVote) {
      // Leader lease (with check-quorum): a node that heard from a leader within the election
      // timeout does not help unseat it, so a removed or partitioned server cannot disrupt.
      bool in_lease = config_.check_quorum && leader_ != kNoNode &&
                      election_elapsed_ < config_.election_timeout_ticks;
      if (in_lease && !m.transfer) return Status::ok();
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote does not change our term.
    } else if (m.type == MessageType::kPreVoteResponse && !m.reject) {
      // The term we would campaign in; we move there only when we start the real election.
    } else if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      // A stale leader (e.g. after a partition healed, with our term raised by pre-vote-less
      // elections) learns our term and steps down instead of being ignored forever.
      Message r;
      r.type = MessageType::kAppendResponse;
      r.to = m.from;
      send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResponse;
      r.to = m.from;
      r.reject = true;
      send(std::move(r));
    }
    return Status::ok();
  }

  if (m.type == MessageType::kPreVote || m.type == MessageType::kVote) {
    handle_vote_request(m);
    return Status::ok();
  }
  switch (role_) {
    case Role::kLeader: return step_leader(m);
    case Role::kCandidate:
    case Role::kPreCandidate: return step_candidate(m);
    case Role::kFollower: return step_follower(m);
  }
  return Status::ok();
}

void Raft::handle_vote_request(const Message& m) {
  bool pre = m.type == MessageType::kPreVote;
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                  (pre && m.term > term_);
  bool up_to_date = log_.is_up_to_date(m.index, m.log_term) || RAFT_BUG(kVoteWithoutLogCheck);
  Message r;
  r.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  r.to = m.from;
  if (can_vote && up_to_date) {
    // A granted pre-vote answers in the candidate's future term so it can count it.
    r.term = m.term;
    if (!pre) {
      LEDGER_ASSERT(m.term == term_);
      LEDGER_ASSERT(vote_ == kNoNode || vote_ == m.from);
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  send(std::move(r));
}

Status Raft::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResponse: handle_append_response(m); break;
    case MessageType::kHeartbeatResponse: handle_heartbeat_response(m); break;
    default: break;  // nothing else is meaningful to a leader in its own term
  }
  return Status::ok();
}

Status Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      become_follower(term_, m.from);
      return handle_append(m);
    case MessageType::kHeartbeat:
      become_follower(term_, m.from);
      handle_heartbeat(m);
      return Status::ok();
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse: {
      bool pre = m.type == MessageType::kPreVoteResponse;
      if (pre != (role_ == Role::kPreCandidate)) return Status::ok();  // from another round
      if (pre && !m.reject && m.term != term_ + 1) return Status::ok();  // stale grant
      votes_.emplace(m.from, m.reject ? 0 : 1);
      auto result = internal::vote_result(membership().voters, [&](NodeId id) {
        auto it = votes_.find(id);
        return it == votes_.end() ? -1 : it->second;
      });
      if (result == internal::VoteResult::kWon) {
        if (pre) {
          start_election(false, false);
        } else {
          become_leader();
          broadcast_append();
        }
      } else if (result == internal::VoteResult::kLost) {
        become_follower(term_, kNoNode);
      }
      return Status::ok();
    }
    default: return Status::ok();
  }
}

Status Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      leader_ = m.from;
      return handle_append(m);
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      handle_heartbeat(m);
      return Status::ok();
    case MessageType::kTimeoutNow: handle_timeout_now(m); return Status::ok();
    default: return Status::ok();
  }
}

Status Raft::handle_append(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResponse;
  r.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches any leader's log; say so and skip the rest.
    r.index = log_.committed();
    send(std::move(r));
    return Status::ok();
  }
  uint64_t first_changed = 0;
  std::optional<uint64_t> last_new =
      log_.maybe_append(m.index, m.log_term, m.entries, &first_changed);
  if (last_new) {
    if (first_changed != 0) {
      RETURN_IF_ERROR(on_entries_appended(first_changed, m.entries));
    }
    log_.commit_to(std::min(m.commit, *last_new));
    r.index = *last_new;
  } else {
    // Conflict hint (fast back-off): the last index at or below the rejected one whose term is
    // not above the leader's term there. The leader skips a whole term per round trip.
    uint64_t hint = log_.find_conflict_by_term(m.index, m.log_term);
    r.reject = true;
    r.index = m.index;
    r.reject_hint = hint;
    r.log_term = log_.term_or_zero(hint);
  }
  send(std::move(r));
  return Status::ok();
}

void Raft::handle_heartbeat(const Message& m) {
  // The leader sends at most our match index; min() only guards against a broken peer.
  log_.commit_to(std::min(m.commit, log_.last_index()));
  Message r;
  r.type = MessageType::kHeartbeatResponse;
  r.to = m.from;
  r.read_seq = m.read_seq;
  send(std::move(r));
}

void Raft::handle_timeout_now(const Message& m) {
  if (!promotable()) return;
  // The leader asked us to take over: skip pre-vote and tell voters to ignore their lease.
  start_election(false, true);
}

void Raft::handle_append_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.reject) {
    uint64_t hint = m.reject_hint;
    if (m.log_term > 0) hint = log_.find_conflict_by_term(m.reject_hint, m.log_term);
    if (pr.maybe_decrease_to(m.index, hint)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      send_append(m.from, true);
    }
    return;
  }
  if (m.index > log_.last_index()) return;  // a broken peer; ignore
  if (!pr.maybe_update(m.index)) return;
  if (pr.state == ProgressState::kProbe) {
    pr.become_replicate();
  } else if (pr.state == ProgressState::kReplicate) {
    pr.inflights.free_le(m.index);
  }
  if (maybe_commit()) {
    broadcast_append();  // carry the new commit index
  } else {
    send_append(m.from, false);
  }
  if (role_ != Role::kLeader) return;  // stepped down after committing our own removal
  if (m.from == lead_transferee_ && pr.match == log_.last_index()) {
    Message t;
    t.type = MessageType::kTimeoutNow;
    t.to = m.from;
    send(std::move(t));
  }
}

void Raft::handle_heartbeat_response(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  // A full window whose acknowledgements were lost would otherwise block forever.
  if (pr.state == ProgressState::kReplicate && pr.inflights.full()) pr.inflights.free_first_one();
  if (pr.match < log_.last_index()) send_append(m.from, true);
  if (m.read_seq > pr.read_ack_seq) {
    pr.read_ack_seq = m.read_seq;
    release_reads();
  }
}

// ---- Ready ----

bool Raft::has_ready() const {
  if (ready_outstanding_) return false;
  HardState hs = hard_state();
  if (RAFT_BUG(kVoteNotPersisted)) hs.vote = kNoNode;
  return SoftState{leader_, role_} != prev_soft_state_ || hs != prev_hard_state_ ||
         log_.has_unstable() || !msgs_.empty() || log_.committed() > handed_out_applied_ ||
         !read_states_.empty() || !dropped_reads_.empty() || !catch_ups_.empty() ||
         membership_dirty_;
}

Ready Raft::ready() {
  LEDGER_ASSERT(!ready_outstanding_);
  Ready rd;
  SoftState ss{leader_, role_};
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs = hard_state();
  if (RAFT_BUG(kVoteNotPersisted)) hs.vote = kNoNode;
  bool term_or_vote_changed = hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote;
  if (hs != prev_hard_state_) {
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  rd.entries = log_.unstable_entries();
  rd.must_sync = !rd.entries.empty() || term_or_vote_changed;
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.committed_entries =
      log_.next_committed(handed_out_applied_, config_.max_committed_bytes_per_ready);
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.dropped_reads = std::move(dropped_reads_);
  dropped_reads_.clear();
  rd.catch_ups = std::move(catch_ups_);
  catch_ups_.clear();
  if (membership_dirty_) {
    rd.membership = membership();
    membership_dirty_ = false;
  }

  ready_outstanding_ = true;
  ready_last_entry_index_ = rd.entries.empty() ? 0 : rd.entries.back().index;
  ready_last_entry_term_ = rd.entries.empty() ? 0 : rd.entries.back().term;
  if (!rd.committed_entries.empty()) {
    handed_out_applied_ = rd.committed_entries.back().index;
    if (role_ == Role::kLeader) {
      // Uncommitted bytes count our own proposals; they leave the budget when applied.
      for (const Entry& e : rd.committed_entries) {
        if (e.index < leader_start_index_) continue;
        uncommitted_bytes_ -= std::min<uint64_t>(uncommitted_bytes_, e.data.size());
      }
    }
  }
  ready_applied_to_ = handed_out_applied_;
  return rd;
}

void Raft::advance() {
  LEDGER_ASSERT(ready_outstanding_);
  if (ready_last_entry_index_ != 0) {
    log_.stable_to(ready_last_entry_index_, ready_last_entry_term_);
  }
  if (ready_applied_to_ > log_.applied()) log_.applied_to(ready_applied_to_);
  ready_outstanding_ = false;
}

// ---- Invariants ----

Status Raft::check_invariants() {
  auto fail = [&](const std::string& what) {
    return Status::corruption("raft " + std::to_string(config_.id) + " invariant: " + what);
  };
  if (term_ < checked_term_) return fail("term decreased");
  if (term_ == checked_term_ && checked_vote_ != kNoNode && vote_ != checked_vote_) {
    return fail("second vote in term " + std::to_string(term_));
  }
  checked_term_ = term_;
  checked_vote_ = vote_;
  if (log_.committed() > log_.last_index()) return fail("commit index beyond last index");
  if (log_.applied() > log_.committed()) return fail("applied beyond commit index");
  if (handed_out_applied_ < log_.applied()) return fail("handed-out apply index behind applied");
  if (handed_out_applied_ > log_.committed()) return fail("handed out uncommitted entries");
  if (log_.committed() + 1 < log_.first_index()) return fail("commit index below compaction");
  const Membership& m = membership();
  if (m.voters.empty()) return fail("no voters");
  if (!sorted_unique(m.voters) || !sorted_unique(m.learners)) return fail("membership order");
  for (NodeId id : m.learners) {
    if (contains(m.voters, id)) return fail("learner is also a voter");
  }
  for (size_t i = 1; i < conf_entries_.size(); ++i) {
    if (conf_entries_[i - 1].first >= conf_entries_[i].first) return fail("conf entries order");
  }
  if (!conf_entries_.empty() && conf_entries_.back().first > log_.last_index()) {
    return fail("membership from an entry beyond the log");
  }
  switch (role_) {
    case Role::kLeader:
      if (leader_ != config_.id) return fail("leader does not know itself as leader");
      if (vote_ != config_.id) return fail("leader did not vote for itself");
      if (progress_.count(config_.id) == 0) return fail("leader has no progress for itself");
      for (const auto& [id, pr] : progress_) {
        if (pr.match >= pr.next) return fail("progress match >= next");
        if (pr.match > log_.last_index()) return fail("progress match beyond last index");
        if (id != config_.id && !is_member(id)) return fail("progress for a non-member");
      }
      for (NodeId id : peers()) {
        if (progress_.count(id) == 0) return fail("member without progress");
      }
      if (committed_in_term_ && log_.committed() < leader_start_index_) {
        return fail("own-term commit flag without commit");
      }
      break;
    case Role::kCandidate:
      if (vote_ != config_.id) return fail("candidate did not vote for itself");
      [[fallthrough]];
    case Role::kPreCandidate:
    case Role::kFollower:
      if (!progress_.empty()) return fail("non-leader keeps progress");
      if (lead_transferee_ != kNoNode) return fail("non-leader transferring leadership");
      if (!pending_reads_.empty() || !reads_before_commit_.empty()) {
        return fail("non-leader holds pending reads");
      }
      if (leader_ == config_.id) return fail("non-leader names itself leader");
      break;
  }
  return Status::ok();
}

}  // namespace consensus
