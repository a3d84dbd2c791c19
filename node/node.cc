#include "node/node.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <rocksdb/write_batch.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <latch>

#include "base/tsan.h"
#include "ledger/event.h"
#include "ledger/validation.h"
#include "node/services.h"

namespace node {

namespace asio = boost::asio;
using consensus::NodeId;

namespace {

constexpr size_t kVerifyChunk = 64;
// Blocks re-checked at start-up (node/storage_faults.cc); operators check all on command.
constexpr uint64_t kStartupCheckBlocks = 64;

std::string subject_key(const v1::Subject& s) {
  return std::to_string(static_cast<int>(s.kind())) + "/" + s.id();
}

std::string read_text(const std::string& path, base::Status& error) {
  std::ifstream in(path);
  if (!in) {
    error = base::Status::not_found("cannot read " + path);
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

grpc::Status grpc_status(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

}  // namespace

int64_t Node::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One Submit forwarded to the leader. `redirect` is set by the loop (on a leader change, or
// when the node stops) before it cancels the context; the completion, on a gRPC thread, reads it.
struct Node::Forward {
  uint64_t number = 0;
  NodeId leader = 0;
  grpc::ClientContext context;
  v1::SubmitRequest request;
  v1::SubmitResponse response;
  std::atomic<bool> redirect{false};
};

Node::Node(NodeConfig config)
    : config_(std::move(config)),
      loop_work_(asio::make_work_guard(loop_)),
      tick_timer_(loop_),
      batch_timer_(loop_),
      checkpoint_timer_(loop_),
      storage_retry_timer_(loop_) {}

Node::~Node() { stop(); }

base::Result<std::unique_ptr<Node>> Node::create(NodeConfig config) {
  RETURN_IF_ERROR(config.validate());
  std::unique_ptr<Node> n(new Node(std::move(config)));
  RETURN_IF_ERROR(n->open());
  return n;
}

base::Status Node::open() {
  ASSIGN_OR_RETURN(consortium_, ledger::Consortium::load_file(config_.genesis_file));
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) {
    return base::Status::io_error("cannot create data_dir " + config_.data_dir + ": " +
                                  ec.message());
  }
  ledger::Database::Options db_options;
  db_options.extra_column_families = {std::string(consensus::RocksLogStorage::kLogColumnFamily),
                                      std::string(consensus::RocksLogStorage::kStateColumnFamily),
                                      "node_meta", "access", "checkpoints"};
  ASSIGN_OR_RETURN(db_, ledger::Database::open(config_.data_dir + "/db", db_options));
  // Blocks are written without their own fsync: every block comes from a Raft entry that is
  // already synced in the Raft log of this same database, and the next synced Raft write makes
  // the block's WAL record durable too. A crash can only lose blocks whose entries the log still
  // holds (compact_log syncs the WAL first), and the node re-applies them after the restart.
  auto opened = ledger::Ledger::open(*db_, consortium_, {.sync_writes = false});
  if (!opened.is_ok()) {
    return opened.status().with_context("data_dir " + config_.data_dir +
                                        " does not match genesis " + config_.genesis_file);
  }
  ledger_ = std::move(opened).value();

  uint64_t seed = 0;
  randombytes_buf(&seed, sizeof seed);
  rng_ = std::make_unique<consensus::SplitMix64Rng>(seed);
  RETURN_IF_ERROR(open_raft());

  // Addresses: the config's peers, then every address recorded in the replicated log.
  directory_ = config_.peers;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf("node_meta")));
    for (it->Seek("addr/"); it->Valid() && it->key().starts_with("addr/"); it->Next()) {
      directory_[std::stoull(it->key().ToString().substr(5))] = it->value().ToString();
    }
    std::unique_ptr<rocksdb::Iterator> last(
        db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf("access")));
    last->SeekToLast();
    if (last->Valid() && last->key().size() == 8) {
      access_sequence_ = ledger::get_u64(std::string_view(last->key().data(), 8));
    }
  }

  origin_ = ledger::checkpoint_origin(consortium_->config().consortium_id());
  if (!config_.agency_key_file.empty()) {
    ASSIGN_OR_RETURN(ledger::KeyFile key, ledger::read_key_file(config_.agency_key_file));
    const auto* known = consortium_->find_key(key.key_id);
    if (known == nullptr || known->public_key != key.keys.public_key ||
        known->agency->id() != key.agency) {
      return base::Status::invalid_argument("agency_key " + config_.agency_key_file + " (key '" +
                                            key.key_id + "' of '" + key.agency +
                                            "') is not a key of that agency in the genesis");
    }
    agency_key_ = std::move(key);
  }
  {
    std::string value;
    auto st = db_->db()->Get(rocksdb::ReadOptions(), db_->cf("node_meta"), "trusted_checkpoint",
                             &value);
    if (st.ok() && value.size() == 8) trusted_checkpoint_height_ = ledger::get_u64(value);
  }

  if (config_.tls.insecure_plaintext) {
    peer_credentials_ = grpc::InsecureChannelCredentials();
  } else {
    base::Status error;
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = read_text(config_.tls.ca_file, error);
    ssl.pem_cert_chain = read_text(config_.tls.cert_file, error);
    ssl.pem_private_key = read_text(config_.tls.key_file, error);
    RETURN_IF_ERROR(error);
    peer_credentials_ = grpc::SslCredentials(ssl);
  }
  const uint64_t max_message = config_.limits.grpc_max_message_bytes;
  const bool insecure = config_.tls.insecure_plaintext;
  const NodeId self = config_.node_id;
  auto creds = peer_credentials_;
  transport_ = std::make_unique<PeerTransport>(
      config_.node_id,
      [creds, max_message, insecure, self](const std::string& address) {
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(static_cast<int>(max_message));
        args.SetMaxSendMessageSize(static_cast<int>(max_message));
        args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
        args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
        return grpc::CreateCustomChannel(address, creds, args);
      },
      [&] {
        TransportOptions options;
        options.batch_bytes_max = config_.raft.max_size_per_msg_bytes + kMessageEnvelopeBytes;
        options.observe_write_bytes = [this](uint64_t bytes) {
          metrics_.observe_message_bytes(Metrics::Path::kRaft, bytes);
        };
        if (insecure) options.metadata.emplace_back("x-credledger-role", "node:" + std::to_string(self));
        return options;
      }());
  const size_t threads = config_.limits.verify_threads
                             ? config_.limits.verify_threads
                             : std::max(1u, std::thread::hardware_concurrency());
  verify_pool_ = std::make_unique<asio::thread_pool>(threads);
  {
    // A cheap look at the newest blocks: what a crash or a bad disk most likely hit.
    const uint64_t head = ledger_->head().height();
    ASSIGN_OR_RETURN(startup_damages_,
                     ledger_->verify_stored(head > kStartupCheckBlocks ? head - kStartupCheckBlocks + 1 : 1,
                                            head));
    if (!startup_damages_.empty()) {
      damaged_height_ = startup_damages_.front().height;
      damage_reason_ = startup_damages_.front().reason;
    }
  }
  metrics_.height = ledger_->head().height();
  metrics_.tree_size = ledger_->head().tree_size();
  metrics_.applied_index = ledger_->cursor();
  spdlog::info("node {} opened {}: height {}, applied index {}, raft last index {}",
               config_.node_id, config_.data_dir, ledger_->head().height(), ledger_->cursor(),
               storage_->last_index());
  return base::Status::ok();
}

base::Status Node::open_raft() {
  // The core refers to the store: it goes first.
  raft_.reset();
  storage_.reset();
  consensus::Membership initial;
  for (const auto& [id, address] : config_.peers) initial.voters.push_back(id);
  ASSIGN_OR_RETURN(storage_, consensus::RocksLogStorage::attach(
                                 db_->db(), db_->cf("raft_log"), db_->cf("raft_state"), initial));

  consensus::Config rc;
  rc.id = config_.node_id;
  rc.election_timeout_ticks = config_.raft.election_ticks;
  rc.heartbeat_ticks = config_.raft.heartbeat_ticks;
  rc.max_inflight_msgs = config_.raft.max_inflight_msgs;
  rc.max_size_per_msg_bytes = config_.raft.max_size_per_msg_bytes;
  rc.max_uncommitted_bytes = config_.raft.max_uncommitted_bytes;
  rc.max_entry_bytes = config_.limits.grpc_max_message_bytes - kMessageEnvelopeBytes;
  rc.applied = ledger_->cursor();
  // Synced blocks advance the cursor, so the ledger may be ahead of the Raft log, and of its
  // persisted commit index, after a catch-up by block sync that was interrupted before the log
  // was reset, or that kept the log. The core refuses an applied index it does not know to be
  // committed; entries it hands out again are skipped by apply_entry (index <= cursor).
  const uint64_t committed =
      std::max(storage_->hard_state().commit, storage_->compaction_point().index);
  rc.applied = std::min({rc.applied, storage_->last_index(), committed});
  ASSIGN_OR_RETURN(raft_, consensus::Raft::create(rc, *storage_, *rng_));
  return base::Status::ok();
}

base::Status Node::start() {
  if (config_.tls.insecure_plaintext) {
    spdlog::warn("*** INSECURE PLAINTEXT MODE: no TLS, roles come from a request header. ***");
    spdlog::warn("*** For development on 127.0.0.1 only; never run a real node like this.  ***");
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (config_.tls.insecure_plaintext) {
    creds = grpc::InsecureServerCredentials();
  } else {
    base::Status error;
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = read_text(config_.tls.ca_file, error);
    ssl.pem_key_cert_pairs.push_back(
        {read_text(config_.tls.key_file, error), read_text(config_.tls.cert_file, error)});
    RETURN_IF_ERROR(error);
    creds = grpc::SslServerCredentials(ssl);
  }
  int bound_port = 0;
  builder.AddListeningPort(config_.listen, creds, &bound_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.limits.grpc_max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.limits.grpc_max_message_bytes));
  services_ = make_services(*this);
  for (auto& service : services_) builder.RegisterService(service.get());
  builder.experimental().SetInterceptorCreators(make_status_interceptors());
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    return base::Status::unavailable("cannot listen on " + config_.listen +
                                     " (address in use or not local?)");
  }
  if (!config_.metrics_listen.empty()) {
    RETURN_IF_ERROR(metrics_server_.start(config_.metrics_listen));
  }
  update_peers(raft_->membership());
  loop_thread_ = std::thread([this] { loop_.run(); });
  on_damage_found(std::move(startup_damages_));
  asio::post(loop_, [this] {
    on_tick();
    checkpoint_round();
    schedule_ready();
  });
  spdlog::info("node {} serving on {} (metrics {})", config_.node_id, config_.listen,
               config_.metrics_listen.empty() ? "off" : config_.metrics_listen);
  return base::Status::ok();
}

void Node::stop() {
  if (stopped_.exchange(true)) return;
  if (loop_thread_.joinable()) spdlog::info("node {} stopping", config_.node_id);
  // 1. Answer everything that waits on the loop, while the loop still runs: the server's
  //    Shutdown waits for every call to finish, and a call waiting forever would hang it.
  auto drain = [this] {
    tick_timer_.cancel();
    batch_timer_.cancel();
    checkpoint_timer_.cancel();
    for (auto& call : calls_) fail_call(call, grpc_status(grpc::UNAVAILABLE, "node is stopping"));
    calls_.clear();
    for (auto& [call, old_leader] : calls_awaiting_leader_) {
      fail_call(call, grpc_status(grpc::UNAVAILABLE, "node is stopping"));
    }
    calls_awaiting_leader_.clear();
    // Forwards in flight end now (their completions see stopped_ and answer UNAVAILABLE).
    for (auto& [number, fwd] : forwards_) {
      fwd->redirect = true;
      fwd->context.TryCancel();
    }
    for (auto& [ctx, fn] : reads_waiting_index_) fn(base::Status::unavailable("node is stopping"));
    reads_waiting_index_.clear();
    for (auto& [index, fn] : reads_waiting_apply_) fn(base::Status::unavailable("node is stopping"));
    reads_waiting_apply_.clear();
  };
  if (loop_thread_.joinable()) {
    std::promise<void> drained;
    asio::post(loop_, [&] {
      drain();
      drained.set_value();
    });
    drained.get_future().wait();
  }
  // 2. Stop serving; calls that arrive meanwhile are refused (stopped_ is set).
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  {
    std::unique_lock<std::mutex> lock(catch_up_mu_);
    catch_up_cv_.wait_for(lock, std::chrono::seconds(30),
                          [this] { return catch_ups_running_ == 0 && background_jobs_ == 0; });
  }
  // 3. Stop the loop, then everything it used.
  if (loop_thread_.joinable()) {
    asio::post(loop_, [this, drain] {
      drain();  // anything that arrived during Shutdown
      loop_work_.reset();
      loop_.stop();
    });
    loop_thread_.join();
  }
  if (verify_pool_) verify_pool_->join();
  if (transport_) transport_->stop();
  metrics_server_.stop();
  server_.reset();
  raft_.reset();
  storage_.reset();
  ledger_.reset();
  db_.reset();
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
  }
  stop_cv_.notify_all();
}

void Node::wait() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait(lock, [this] { return stopped_.load(); });
}

void Node::fatal(const std::string& what, const base::Status& status) {
  spdlog::critical("node {}: {} failed: {}; stopping so that nothing wrong is acknowledged",
                   config_.node_id, what, status.to_string());
  spdlog::default_logger()->flush();
  std::_Exit(70);
}

std::shared_ptr<grpc::Channel> Node::channel_to(NodeId id) const {
  if (id == 0 || id == config_.node_id) return nullptr;
  return transport_->channel(id);
}

// ---------------------------------------------------------------------------------------------
// The Raft loop

void Node::schedule_ready() {
  if (ready_scheduled_) return;
  ready_scheduled_ = true;
  asio::post(loop_, [this] {
    ready_scheduled_ = false;
    process_ready();
  });
}

void Node::process_ready() {
  // A node that cannot write leaves its Raft core alone: nothing is persisted, so nothing may
  // be sent or applied; retry_storage() replaces the core once writes succeed.
  if (stopped_.load() || storage_degraded_.load()) return;
  while (raft_->has_ready()) {
    consensus::Ready rd = raft_->ready();
    // A Ready that writes (entries, hard state, blocks) needs disk space; without it the Ready
    // is dropped unsent along with the core (storage_faults.cc). One that only sends goes on.
    if (!rd.entries.empty() || rd.hard_state || !rd.committed_entries.empty()) {
      if (auto space = check_disk_space(); !space.is_ok()) {
        return on_storage_write_failure("raft write", space);
      }
    }
    // 1. persist, synced: a vote or an acknowledgement below promises durable state.
    if (!rd.entries.empty()) {
      if (auto s = storage_->append(rd.entries); !s.is_ok()) {
        return on_storage_write_failure("raft log append", s);
      }
    }
    if (rd.hard_state) {
      if (auto s = storage_->set_hard_state(*rd.hard_state); !s.is_ok()) {
        return on_storage_write_failure("raft hard state write", s);
      }
    }
    // 2. send.
    if (!rd.messages.empty()) transport_->send(rd.messages);
    // A follower starts checking the signatures of what it just acknowledged; apply collects
    // the results. (The leader verified its own proposals before proposing them.)
    if (!is_leader_) {
      for (const consensus::Entry& entry : rd.entries) preverify(entry);
    }
    // 3. apply.
    for (const consensus::Entry& entry : rd.committed_entries) {
      apply_entry(entry);
      if (storage_degraded_.load()) return;  // not applied: the new core hands it out again
    }
    if (rd.membership) update_peers(*rd.membership);
    if (rd.soft_state) {
      leader_id_ = rd.soft_state->leader;
      metrics_.leader_id = rd.soft_state->leader;
      const bool leader_now = rd.soft_state->role == consensus::Role::kLeader;
      if (leader_now != is_leader_) on_leadership_change(leader_now);
      if (rd.soft_state->leader != known_leader_) on_leader_changed(rd.soft_state->leader);
    }
    for (const consensus::ReadState& rs : rd.read_states) {
      auto it = reads_waiting_index_.find(rs.context);
      if (it == reads_waiting_index_.end()) continue;
      reads_waiting_apply_.emplace(rs.index, std::move(it->second));
      reads_waiting_index_.erase(it);
    }
    for (const std::string& ctx : rd.dropped_reads) {
      auto it = reads_waiting_index_.find(ctx);
      if (it == reads_waiting_index_.end()) continue;
      auto fn = std::move(it->second);
      reads_waiting_index_.erase(it);
      fn(base::Status::unavailable("leadership changed during the read; retry"));
    }
    serve_ready_reads();
    for (const consensus::CatchUp& cu : rd.catch_ups) start_catch_up(cu);
    // 4. advance.
    raft_->advance();
  }
  metrics_.term = raft_->term();
  metrics_.commit_index = raft_->commit_index();
  metrics_.applied_index = ledger_->cursor();
}

void Node::on_tick() {
  if (stopped_.load()) return;
  if (!storage_degraded_.load()) raft_->tick();
  // Deadlines of submits that are still waiting for their events to commit.
  const auto now = std::chrono::steady_clock::now();
  while (!calls_.empty() && (calls_.front()->finished || calls_.front()->deadline <= now)) {
    auto call = calls_.front();
    calls_.pop_front();
    fail_call(call, submit_timed_out());
  }
  while (!calls_awaiting_leader_.empty() && calls_awaiting_leader_.front().first->deadline <= now) {
    auto [call, old_leader] = std::move(calls_awaiting_leader_.front());
    calls_awaiting_leader_.pop_front();
    fail_call(call, grpc_status(grpc::UNAVAILABLE,
                                "leader " + std::to_string(old_leader) +
                                    " lost its leadership and no new leader was elected within " +
                                    std::to_string(config_.limits.submit_timeout_ms) +
                                    " ms; resubmitting the same events is safe"));
  }
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto& list = it->second;
    std::erase_if(list, [](const Waiter& w) { return w.call->finished; });
    it = list.empty() ? waiters_.erase(it) : std::next(it);
  }
  if (is_leader_) {
    const uint64_t last = raft_->last_index();
    for (const auto& [peer, progress] : raft_->progress()) {
      if (peer == config_.node_id) continue;
      const uint64_t match = raft_->match_of(peer);
      metrics_.set_peer_lag(peer, last > match ? last - match : 0);
    }
  }
  schedule_ready();
  tick_timer_.expires_after(std::chrono::milliseconds(config_.raft.tick_ms));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_tick();
  });
}

void Node::on_leadership_change(bool leader_now) {
  is_leader_ = leader_now;
  metrics_.is_leader = leader_now ? 1 : 0;
  spdlog::info("node {} is {} in term {}", config_.node_id, leader_now ? "leader" : "follower",
               raft_->term());
  if (leader_now) return;
  // Events batched here were never proposed: their callers must retry with the new leader.
  for (const v1::SignedEvent& e : batch_) {
    const std::string id = ledger::parse_event_payload(e.payload())->event_id();
    auto it = waiters_.find(id);
    if (it == waiters_.end()) continue;
    for (auto& w : it->second) {
      fail_call(w.call, grpc_status(grpc::UNAVAILABLE, "leadership moved; retry"));
    }
    waiters_.erase(it);
  }
  batch_.clear();
  batch_bytes_ = 0;
  // Proposed events may still commit under the new leader; their waiters stay until deadline.
  inflight_.clear();
  verified_.clear();
}

void Node::update_peers(const consensus::Membership& membership) {
  std::set<NodeId> members(membership.voters.begin(), membership.voters.end());
  members.insert(membership.learners.begin(), membership.learners.end());
  for (NodeId id : members) {
    if (id == config_.node_id) continue;
    auto it = directory_.find(id);
    if (it == directory_.end()) {
      spdlog::warn("member {} has no known address yet", id);
      continue;
    }
    transport_->set_peer(id, it->second);
  }
  for (const auto& [id, address] : transport_->addresses()) {
    if (!members.count(id)) transport_->remove_peer(id);
  }
}

void Node::persist_address(NodeId id, const std::string& address) {
  directory_[id] = address;
  auto s = db_->db()->Put(rocksdb::WriteOptions(), db_->cf("node_meta"),
                          "addr/" + std::to_string(id), address);
  if (!s.ok()) spdlog::error("cannot record address of node {}: {}", id, s.ToString());
}

// ---------------------------------------------------------------------------------------------
// Applying committed entries

// Signature results of one block entry, filled by the verify pool.
struct Node::PreVerified {
  uint64_t term = 0;
  std::shared_ptr<const v1::EntryPayload> payload;
  std::vector<ledger::SignatureState> states;
  std::vector<ledger::Hash> hashes;
  std::mutex mu;
  std::condition_variable cv;
  size_t chunks_left = 0;  // GUARDED_BY(mu)

  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return chunks_left == 0; });
  }
};

void Node::learn_member_address(const v1::MemberAddress& ma) {
  persist_address(ma.id(), ma.address());
  if (ma.id() == config_.node_id) return;
  const auto& m = raft_->membership();
  const bool member = std::count(m.voters.begin(), m.voters.end(), ma.id()) ||
                      std::count(m.learners.begin(), m.learners.end(), ma.id());
  if (member) transport_->set_peer(ma.id(), ma.address());
}

void Node::apply_entry(const consensus::Entry& entry) {
  if (entry.index <= ledger_->cursor()) {
    // Already in the ledger: applied before a restart, or covered by a block sync, which
    // carries blocks only. A member's address such an entry records is still learned (storing
    // it again is harmless); its blocks are not applied twice.
    if (entry.type == consensus::EntryType::kNormal && !entry.data.empty()) {
      v1::EntryPayload payload;
      if (payload.ParseFromString(entry.data) && payload.has_member_address()) {
        learn_member_address(payload.member_address());
      }
    }
    return;
  }
  auto advance_cursor = [&] {
    if (auto s = ledger_->set_cursor(entry.index); !s.is_ok()) {
      on_storage_write_failure("record applied index", s);
    }
  };
  if (entry.type != consensus::EntryType::kNormal || entry.data.empty()) {
    advance_cursor();
    return;
  }
  std::shared_ptr<PreVerified> pre = take_preverified(entry);
  v1::EntryPayload parsed;
  if (!pre && !parsed.ParseFromString(entry.data)) {
    // Every node sees the same bytes and skips them alike; only a broken leader makes these.
    spdlog::error("committed entry {} is not an EntryPayload; skipped", entry.index);
    advance_cursor();
    return;
  }
  const v1::EntryPayload& payload = pre ? *pre->payload : parsed;
  if (payload.has_member_address()) {
    learn_member_address(payload.member_address());
    advance_cursor();
    return;
  }
  if (payload.has_block()) {
    apply_block_entry(entry, payload.block(), pre.get());
    return;
  }
  advance_cursor();
}

void Node::preverify(const consensus::Entry& entry) {
  if (entry.type != consensus::EntryType::kNormal || entry.data.empty()) return;
  auto payload = std::make_shared<v1::EntryPayload>();
  if (!payload->ParseFromString(entry.data) || !payload->has_block()) return;
  auto pre = std::make_shared<PreVerified>();
  pre->term = entry.term;
  const v1::BlockBody& body = payload->block();
  const size_t n = static_cast<size_t>(body.events_size());
  pre->states.assign(n, ledger::SignatureState::kUnchecked);
  pre->hashes.resize(n);
  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i) {
    pre->hashes[i] = ledger::event_hash(body.events(static_cast<int>(i)));
    if (verified_.count(pre->hashes[i])) {
      pre->states[i] = ledger::SignatureState::kValid;  // checked before forwarding it
    } else {
      todo.push_back(i);
    }
  }
  pre->payload = std::move(payload);
  // A later append at the same index (a new leader's log) replaces this one; apply also
  // compares terms.
  preverified_[entry.index] = pre;
  const size_t chunks = (todo.size() + kVerifyChunk - 1) / kVerifyChunk;
  pre->chunks_left = chunks;
  auto shared_todo = std::make_shared<std::vector<size_t>>(std::move(todo));
  for (size_t c = 0; c < chunks; ++c) {
    asio::post(*verify_pool_, [this, pre, shared_todo, c] {
      const auto& todo = *shared_todo;
      const v1::BlockBody& body = pre->payload->block();
      const size_t end = std::min(todo.size(), (c + 1) * kVerifyChunk);
      for (size_t k = c * kVerifyChunk; k < end; ++k) {
        const size_t i = todo[k];
        pre->states[i] = ledger::verify_event_signature(*consortium_, body.events(static_cast<int>(i)))
                             ? ledger::SignatureState::kValid
                             : ledger::SignatureState::kInvalid;
      }
      std::lock_guard<std::mutex> lock(pre->mu);
      if (--pre->chunks_left == 0) pre->cv.notify_all();
    });
  }
}

std::shared_ptr<Node::PreVerified> Node::take_preverified(const consensus::Entry& entry) {
  std::shared_ptr<PreVerified> pre;
  auto it = preverified_.find(entry.index);
  if (it != preverified_.end() && it->second->term == entry.term) pre = it->second;
  // Entries at or below this index are applied (or were replaced): nothing will ask for them.
  preverified_.erase(preverified_.begin(), preverified_.upper_bound(entry.index));
  if (pre) pre->wait();
  return pre;
}

std::vector<ledger::SignatureState> Node::verify_block_signatures(const v1::BlockBody& body,
                                                                  std::vector<ledger::Hash>& hashes) {
  const size_t n = static_cast<size_t>(body.events_size());
  std::vector<ledger::SignatureState> out(n, ledger::SignatureState::kUnchecked);
  hashes.resize(n);
  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i) {
    hashes[i] = ledger::event_hash(body.events(static_cast<int>(i)));
    if (verified_.count(hashes[i])) {
      out[i] = ledger::SignatureState::kValid;  // this node checked it before proposing
    } else {
      todo.push_back(i);
    }
  }
  if (todo.size() < 2 * kVerifyChunk) return out;  // apply verifies the few that are left
  // Verify the rest on all cores while the loop waits: this is the follower's main cost.
  const size_t chunks = (todo.size() + kVerifyChunk - 1) / kVerifyChunk;
  std::latch done(static_cast<std::ptrdiff_t>(chunks));
  for (size_t c = 0; c < chunks; ++c) {
    asio::post(*verify_pool_, [&, c] {
      const size_t end = std::min(todo.size(), (c + 1) * kVerifyChunk);
      for (size_t k = c * kVerifyChunk; k < end; ++k) {
        const size_t i = todo[k];
        out[i] = ledger::verify_event_signature(*consortium_, body.events(static_cast<int>(i)))
                     ? ledger::SignatureState::kValid
                     : ledger::SignatureState::kInvalid;
      }
      done.count_down();
    });
  }
  done.wait();
  return out;
}

void Node::apply_block_entry(const consensus::Entry& entry, const v1::BlockBody& body,
                             PreVerified* pre) {
  std::vector<ledger::Hash> hashes;
  std::vector<ledger::SignatureState> signatures;
  if (pre) {
    hashes = std::move(pre->hashes);
    signatures = std::move(pre->states);
  } else {
    signatures = verify_block_signatures(body, hashes);
  }
  ledger::ApplyInput input;
  input.signatures = &signatures;
  input.event_hashes = &hashes;
  input.log_index = entry.index;
  input.include_events = false;  // on_block_applied reads the events from the body
  auto block = ledger_->apply(body, input);
  if (!block.is_ok()) {
    return on_storage_write_failure("apply block from entry " + std::to_string(entry.index),
                                    block.status());
  }
  on_block_applied(*block, body);
}

void Node::on_block_applied(const v1::Block& block, const v1::BlockBody& body) {
  const v1::BlockHeader& h = block.header();
  metrics_.height = h.height();
  metrics_.tree_size = h.tree_size();
  metrics_.events_accepted += h.accepted_count();
  std::set<std::string> touched;
  bool any_watchers = false;
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    any_watchers = watcher_count_ > 0;
  }
  for (int i = 0; i < block.receipts_size(); ++i) {
    const v1::Receipt& r = block.receipts(i);
    if (!r.accepted()) metrics_.count_rejected(v1::RejectReason_Name(r.reason()));
    if (any_watchers && r.accepted()) {
      auto e = ledger::parse_event_payload(body.events(i).payload());
      if (e.is_ok()) touched.insert(subject_key(e->subject()));
    }
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
      SubmitCall& call = *waiter.call;
      if (call.finished) continue;
      if (ledger::as_view(call.hashes[waiter.index]) != r.event_hash()) {
        keep.push_back(std::move(waiter));
        continue;
      }
      v1::Receipt answer = r;
      if (!r.accepted() && r.reason() == v1::DUPLICATE_EVENT_ID) {
        // The same event was accepted earlier (a retry raced the original): that is the answer.
        auto original = ledger_->event(id);
        if (original.is_ok() && original->location.receipt().accepted() &&
            original->location.receipt().event_hash() == r.event_hash()) {
          answer = original->location.receipt();
        }
      }
      call.receipts[waiter.index] = std::move(answer);
      if (--call.pending == 0) finish_call(waiter.call);
    }
    if (keep.empty()) {
      waiters_.erase(w);
    } else {
      w->second = std::move(keep);
    }
  }
  if (!touched.empty()) {
    std::lock_guard<std::mutex> lock(watch_mu_);
    for (const std::string& key : touched) {
      auto it = watchers_.find(key);
      if (it == watchers_.end()) continue;
      for (SubjectWatcher* watcher : it->second) watcher->changed();
    }
  }
  serve_ready_reads();
  maybe_auto_compact();
}

void Node::serve_ready_reads() {
  const uint64_t applied = ledger_->cursor();
  while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= applied) {
    auto fn = std::move(reads_waiting_apply_.begin()->second);
    reads_waiting_apply_.erase(reads_waiting_apply_.begin());
    fn(base::Status::ok());
  }
}

// ---------------------------------------------------------------------------------------------
// Submit

void Node::submit(std::shared_ptr<SubmitCall> call) {
  const size_t n = call->events.size();
  call->started = std::chrono::steady_clock::now();
  call->deadline = call->started + std::chrono::milliseconds(config_.limits.submit_timeout_ms);
  call->checks.resize(n);
  call->hashes.resize(n);
  call->receipts.resize(n);
  if (n == 0) {
    call->done(grpc::Status::OK, {});
    return;
  }
  // Signatures and static rules on the pool, in chunks so that one large batch uses every core.
  const size_t chunks = (n + kVerifyChunk - 1) / kVerifyChunk;
  auto remaining = std::make_shared<std::atomic<size_t>>(chunks);
  for (size_t c = 0; c < chunks; ++c) {
    asio::post(*verify_pool_, [this, call, remaining, c, n] {
      const size_t end = std::min(n, (c + 1) * kVerifyChunk);
      for (size_t i = c * kVerifyChunk; i < end; ++i) {
        call->checks[i] = ledger::check_event_static(*consortium_, call->events[i],
                                                     ledger::SignatureState::kUnchecked);
        call->hashes[i] = ledger::event_hash(call->events[i]);
      }
      if (remaining->fetch_sub(1) != 1) return;
      for (size_t i = 0; i < n; ++i) {
        const auto& rejection = call->checks[i].rejection;
        if (!rejection) continue;
        metrics_.submits_refused++;
        const grpc::StatusCode code = rejection->reason == v1::OVERSIZE
                                          ? grpc::RESOURCE_EXHAUSTED
                                          : grpc::INVALID_ARGUMENT;
        const std::string id = call->checks[i].parsed
                                   ? call->checks[i].event.event_id()
                                   : ledger::claimed_event_id(call->events[i]);
        call->done(grpc_status(code, "event " + std::to_string(i) + " ('" + id + "') " +
                                         v1::RejectReason_Name(rejection->reason) + ": " +
                                         rejection->message),
                   {});
        return;
      }
      asio::post(loop_, [this, call] { on_submit_verified(call); });
    });
  }
}

void Node::fail_call(const std::shared_ptr<SubmitCall>& call, const grpc::Status& status) {
  if (call->finished) return;
  call->finished = true;
  call->done(status, {});
}

void Node::finish_call(const std::shared_ptr<SubmitCall>& call) {
  if (call->finished) return;
  call->finished = true;
  std::vector<v1::Receipt> receipts;
  receipts.reserve(call->receipts.size());
  for (auto& r : call->receipts) {
    LEDGER_ASSERT(r.has_value());
    receipts.push_back(std::move(*r));
  }
  metrics_.submit_latency.observe_us(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                            call->started)
          .count()));
  call->done(grpc::Status::OK, std::move(receipts));
}

void Node::on_submit_verified(std::shared_ptr<SubmitCall> call) {
  if (stopped_.load()) return fail_call(call, grpc_status(grpc::UNAVAILABLE, "node is stopping"));
  // Signature checks may have queued behind a backlog: the deadline still holds.
  if (call->deadline <= std::chrono::steady_clock::now()) {
    return fail_call(call, submit_timed_out());
  }
  if (auto refused = refuse_writes_if_degraded(); !refused.ok()) return fail_call(call, refused);
  if (!is_leader_) {
    const NodeId leader = leader_id_.load();
    if (leader == 0 || leader == config_.node_id) {
      return fail_call(call, grpc_status(grpc::UNAVAILABLE, "no leader elected yet; retry shortly"));
    }
    return forward_submit(call, leader);
  }
  const size_t n = call->events.size();
  std::set<std::string> seen;
  std::map<std::string, size_t> in_request;
  // Pass 1: decide everything before changing any state, so a refused call leaves no trace.
  std::vector<bool> propose(n, false);
  size_t new_events = 0;
  for (size_t i = 0; i < n; ++i) {
    const v1::CreditEvent& e = call->checks[i].event;
    const std::string& id = e.event_id();
    auto refuse = [&](grpc::StatusCode code, const std::string& what) {
      metrics_.submits_refused++;
      fail_call(call, grpc_status(code, "event " + std::to_string(i) + " ('" + id + "') " + what));
    };
    if (!seen.insert(id).second) {
      return refuse(grpc::INVALID_ARGUMENT, "DUPLICATE_EVENT_ID: appears twice in this request");
    }
    auto record = ledger_->event(id);
    if (!record.is_ok() && record.status().code() != base::Code::kNotFound) {
      return refuse(grpc::INTERNAL, "lookup failed: " + record.status().to_string());
    }
    if (record.is_ok() && record->location.receipt().accepted()) {
      if (record->location.receipt().event_hash() != ledger::as_view(call->hashes[i])) {
        return refuse(grpc::ALREADY_EXISTS,
                      "DUPLICATE_EVENT_ID: event_id is already on the ledger at height " +
                          std::to_string(record->location.height()) + " with different content");
      }
      call->receipts[i] = record->location.receipt();  // an idempotent retry
      continue;
    }
    auto flight = inflight_.find(id);
    if (flight != inflight_.end()) {
      if (flight->second != call->hashes[i]) {
        return refuse(grpc::ALREADY_EXISTS,
                      "DUPLICATE_EVENT_ID: an event with this id and different content is "
                      "being committed");
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
            auto r = ledger_->event(other);
            return r.is_ok() && r->location.receipt().accepted();
          },
          [&](const std::string& other) -> std::optional<v1::ViewEntry> {
            auto r = ledger_->event(other);
            if (!r.is_ok() || !r->entry) return std::nullopt;
            return *r->entry;
          }};
      auto rejection = ledger::check_event_stateful(*consortium_, e, now_ms(), lookup);
      if (rejection) {
        return refuse(grpc::INVALID_ARGUMENT,
                      v1::RejectReason_Name(rejection->reason) + ": " + rejection->message);
      }
    }
    in_request[id] = i;
    propose[i] = true;
    ++new_events;
  }
  if (inflight_.size() + batch_.size() + new_events > config_.batch.max_pending_events) {
    metrics_.submits_refused++;
    return fail_call(call, grpc_status(grpc::RESOURCE_EXHAUSTED,
                                       "overloaded: " + std::to_string(inflight_.size()) +
                                           " events are waiting to commit; retry later"));
  }
  // Pass 2: wait for every event not already answered, and batch the new ones.
  for (size_t i = 0; i < n; ++i) {
    if (call->receipts[i]) continue;
    const std::string& id = call->checks[i].event.event_id();
    waiters_[id].push_back(Waiter{call, i});
    ++call->pending;
    if (!propose[i]) continue;
    inflight_[id] = call->hashes[i];
    verified_.insert(call->hashes[i]);
    batch_bytes_ += call->events[i].ByteSizeLong();
    batch_.push_back(std::move(call->events[i]));
  }
  if (call->pending == 0) return finish_call(call);
  calls_.push_back(call);
  if (batch_.size() >= config_.batch.max_events || batch_bytes_ >= config_.batch.max_bytes) {
    flush_batch();
  } else if (!batch_.empty() && !batch_timer_armed_) {
    batch_timer_armed_ = true;
    batch_timer_.expires_after(std::chrono::microseconds(config_.batch.max_delay_us));
    batch_timer_.async_wait([this](const boost::system::error_code& ec) {
      batch_timer_armed_ = false;
      if (!ec) flush_batch();
    });
  }
}

void Node::flush_batch() {
  // One entry (one block) holds at most the smaller of our batch bound and the consortium's
  // per-block limit; a larger backlog becomes several entries, proposed back to back.
  const size_t per_block = std::min<size_t>(
      config_.batch.max_events,
      static_cast<size_t>(consortium_->config().limits().max_events_per_block()));
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
    body->set_timestamp_ms(now_ms());
    for (size_t i = start; i < end; ++i) *body->add_events() = std::move(batch_[i]);
    start = end;
    auto proposed = raft_->propose(payload.SerializeAsString());
    if (proposed.is_ok()) {
      metrics_.proposals++;
      continue;
    }
    const grpc::StatusCode code = proposed.status().code() == base::Code::kBusy
                                      ? grpc::RESOURCE_EXHAUSTED
                                      : grpc::UNAVAILABLE;
    for (const v1::SignedEvent& e : body->events()) {
      const std::string id = ledger::parse_event_payload(e.payload())->event_id();
      inflight_.erase(id);
      auto it = waiters_.find(id);
      if (it == waiters_.end()) continue;
      for (auto& w : it->second) {
        fail_call(w.call, grpc_status(code, "not proposed: " + proposed.status().message()));
      }
      waiters_.erase(it);
    }
  }
  batch_.clear();
  batch_bytes_ = 0;
  schedule_ready();
}

grpc::Status Node::submit_timed_out() const {
  return grpc_status(grpc::UNAVAILABLE,
                     "not committed within " + std::to_string(config_.limits.submit_timeout_ms) +
                         " ms; resubmitting the same events is safe (event ids are "
                         "deduplicated)");
}

void Node::forward_submit(std::shared_ptr<SubmitCall> call, NodeId leader) {
  auto channel = channel_to(leader);
  if (!channel) {
    return fail_call(call, grpc_status(grpc::UNAVAILABLE, "leader " + std::to_string(leader) +
                                                              " has no known address; retry"));
  }
  if (call->deadline <= std::chrono::steady_clock::now()) {
    return fail_call(call, submit_timed_out());
  }
  // The call leaves the loop's hands: the forwarded reply finishes it (or a leader change hands
  // it back to the loop, redispatch_submit).
  call->finished = true;
  // This node checked the signatures before forwarding: when the leader's block brings these
  // events back, apply need not check them again (on_block_applied forgets them; a failed
  // forward forgets them below).
  // Events the leader answers from the ledger (retries) never come back in a block: the set is
  // only a cache, so it is dropped whole rather than allowed to grow.
  if (verified_.size() > 4 * config_.batch.max_pending_events) verified_.clear();
  for (const ledger::Hash& h : call->hashes) verified_.insert(h);
  auto fwd = std::make_shared<Forward>();
  fwd->number = ++forward_counter_;
  fwd->leader = leader;
  // The forward ends by the call's own deadline, so that no Submit outlives submit_timeout_ms
  // here. It waits for a connection (riding out a moment of TRANSIENT_FAILURE), but not for a
  // leader that died: the election that follows names another leader, and on_leader_changed
  // cancels this forward and hands the call on.
  fwd->context.set_deadline(call->deadline - std::chrono::steady_clock::now() +
                            std::chrono::system_clock::now());
  if (insecure()) fwd->context.AddMetadata("x-credledger-role", "node:" + std::to_string(config_.node_id));
  fwd->context.set_wait_for_ready(true);
  for (auto& e : call->events) *fwd->request.add_events() = e;
  // No larger than the request this node received, which the server's receive limit bounded.
  metrics_.observe_message_bytes(Metrics::Path::kForwardSubmit, fwd->request.ByteSizeLong());
  forwards_[fwd->number] = fwd;
  auto stub = v1::LedgerService::NewStub(channel);
  stub->async()->Submit(
      &fwd->context, &fwd->request, &fwd->response,
      base::tsan_handoff([this, fwd, call, leader](grpc::Status status) {
        if (!status.ok() && fwd->redirect.load() && !stopped_.load()) {
          // Cancelled by the loop: the leader changed (or this node stops); the loop decides.
          asio::post(loop_, [this, fwd, call, leader] {
            forwards_.erase(fwd->number);
            redispatch_submit(call, leader);
          });
          return;
        }
        asio::post(loop_, [this, fwd, call, ok = status.ok()] {
          forwards_.erase(fwd->number);
          if (!ok) {
            for (const ledger::Hash& h : call->hashes) verified_.erase(h);
          }
        });
        if (stopped_.load() && status.error_code() == grpc::CANCELLED) {
          status = grpc_status(grpc::UNAVAILABLE, "node is stopping; resubmitting the same "
                                                  "events is safe");
        } else if (status.error_code() == grpc::UNAVAILABLE) {
          // Most often the leader died with the call in flight (the connection broke).
          status = grpc_status(grpc::UNAVAILABLE,
                               "forwarded to leader " + std::to_string(leader) + ", which failed (" +
                                   status.error_message() +
                                   "); leadership may be changing; resubmitting the same events "
                                   "is safe (event ids are deduplicated)");
        } else if (status.error_code() == grpc::DEADLINE_EXCEEDED) {
          // Our own bound, not the caller's: say what happened and that a retry is safe.
          status = grpc_status(grpc::UNAVAILABLE,
                               "leader " + std::to_string(leader) + " did not commit within " +
                                   std::to_string(config_.limits.submit_timeout_ms) +
                                   " ms; resubmitting the same events is safe (event ids are "
                                   "deduplicated)");
        }
        std::vector<v1::Receipt> receipts(fwd->response.receipts().begin(),
                                          fwd->response.receipts().end());
        call->done(status, std::move(receipts));
      }));
}

void Node::on_leader_changed(NodeId leader) {
  known_leader_ = leader;
  // Forwards to another node wait for a leader that is gone (or no longer leads): cancel them;
  // their completions bring the calls back to redispatch_submit.
  for (auto& [number, fwd] : forwards_) {
    if (fwd->leader == leader || fwd->redirect.load()) continue;
    fwd->redirect = true;
    fwd->context.TryCancel();
  }
  if (leader == 0) return;
  auto parked = std::move(calls_awaiting_leader_);
  calls_awaiting_leader_.clear();
  for (auto& [call, old_leader] : parked) redispatch_submit(call, old_leader);
}

void Node::redispatch_submit(std::shared_ptr<SubmitCall> call, NodeId old_leader) {
  call->finished = false;  // back in the loop's hands
  const std::string moved = "leader " + std::to_string(old_leader) + " lost its leadership";
  if (stopped_.load()) {
    return fail_call(call, grpc_status(grpc::UNAVAILABLE, "node is stopping; " + moved +
                                                              "; resubmitting the same events "
                                                              "is safe"));
  }
  if (call->deadline <= std::chrono::steady_clock::now()) {
    return fail_call(call, submit_timed_out());
  }
  if (is_leader_) {
    // The old leader may have committed some of these events: on_submit_verified answers those
    // from the ledger or the block that brings them, and proposes only the others.
    spdlog::debug("submit forwarded to {} is proposed here, the new leader", old_leader);
    return on_submit_verified(call);
  }
  const NodeId leader = known_leader_;
  if (leader == 0 || leader == config_.node_id) {
    calls_awaiting_leader_.emplace_back(std::move(call), old_leader);  // on_tick bounds the wait
    return;
  }
  forward_submit(call, leader);
}

// ---------------------------------------------------------------------------------------------
// Reads, status, admin

void Node::after_read_index(std::function<void(const base::Status&)> then) {
  asio::post(loop_, [this, then = std::move(then)]() mutable {
    if (stopped_.load()) {
      then(base::Status::unavailable("node is stopping"));
      return;
    }
    if (!is_leader_) {
      then(base::Status::not_leader("not the leader"));
      return;
    }
    const std::string ctx = std::to_string(++read_counter_);
    auto s = raft_->read_index(ctx);
    if (!s.is_ok()) {
      then(s);
      return;
    }
    reads_waiting_index_[ctx] = std::move(then);
    schedule_ready();
  });
}

void Node::cluster_status(std::function<void(v1::ClusterStatusResponse)> then) {
  asio::post(loop_, [this, then = std::move(then)] {
    v1::ClusterStatusResponse r;
    r.set_node_id(config_.node_id);
    r.set_leader_id(raft_->leader());
    if (auto it = directory_.find(raft_->leader()); it != directory_.end()) {
      r.set_leader_address(it->second);
    }
    r.set_term(raft_->term());
    r.set_commit_index(raft_->commit_index());
    r.set_applied_index(ledger_->cursor());
    const v1::BlockHeader head = ledger_->head();
    r.set_height(head.height());
    r.set_head_hash(ledger::to_string(ledger_->head_hash()));
    r.set_state_root(head.state_root());
    r.set_tree_size(head.tree_size());
    r.set_merkle_root(head.merkle_root());
    r.set_role(consensus::role_name(raft_->role()));
    if (auto problem = storage_problem()) {
      // The core is idle until storage recovers: what it last believed is not news.
      r.set_storage_problem(*problem);
      r.set_role("read-only");
      r.set_leader_id(0);
      r.clear_leader_address();
    } else if (auto damage = storage_damage()) {
      r.set_storage_problem("stored data damaged at height " +
                            std::to_string(damaged_height_.load()) + ": " + *damage +
                            "; repairing from peers");
    }
    const auto& m = raft_->membership();
    const uint64_t last = raft_->last_index();
    auto add = [&](NodeId id, bool voter) {
      v1::Member* member = r.add_members();
      member->set_id(id);
      if (auto it = directory_.find(id); it != directory_.end()) member->set_address(it->second);
      member->set_voter(voter);
      if (id == raft_->leader()) {
        member->set_role("leader");
      } else {
        member->set_role(voter ? "follower" : "learner");
      }
      if (is_leader_) {
        const uint64_t match = id == config_.node_id ? last : raft_->match_of(id);
        member->set_match_index(match);
        member->set_lag(last > match ? last - match : 0);
      }
    };
    for (NodeId id : m.voters) add(id, true);
    for (NodeId id : m.learners) add(id, false);
    then(std::move(r));
  });
}

base::Status Node::compact_log(uint64_t index) {
  // Callers pass the ledger's cursor, which a block sync moves ahead of the core's applied
  // index; the core refuses a compaction beyond that (after storage has already compacted).
  index = std::min(index, raft_->last_applied());
  const consensus::CompactionPoint point = storage_->compaction_point();
  if (index <= point.index) return base::Status::ok();
  // The blocks up to index must be durable before the entries they came from are dropped.
  RETURN_IF_ERROR(ledger::from_rocks(db_->db()->FlushWAL(/*sync=*/true), "sync blocks"));
  ASSIGN_OR_RETURN(consensus::Membership membership, raft_->membership_at(index));
  RETURN_IF_ERROR(storage_->compact(index, membership));
  RETURN_IF_ERROR(raft_->compacted(index));
  compaction_height_ = ledger_->head().height();
  spdlog::info("node {} compacted its raft log up to index {}", config_.node_id, index);
  return base::Status::ok();
}

void Node::maybe_auto_compact() {
  const uint64_t keep = config_.raft.auto_compact_entries;
  if (keep == 0) return;
  const uint64_t applied = ledger_->cursor();
  const uint64_t compacted = storage_->compaction_point().index;
  // Keep `keep` entries behind the applied index so that briefly lagging followers catch up
  // from the log, not by block sync.
  if (applied < compacted + 2 * keep) return;
  if (auto s = compact_log(applied - keep); !s.is_ok()) {
    if (s.code() == base::Code::kBusy) return on_storage_write_failure("automatic compaction", s);
    spdlog::error("automatic compaction failed: {}", s.to_string());
  }
}

void Node::admin(AdminOp op, NodeId id, std::string address,
                 std::function<void(const base::Status&, std::string)> then) {
  asio::post(loop_, [this, op, id, address = std::move(address), then = std::move(then)] {
    auto not_leader = [&] {
      then(base::Status::not_leader("not the leader"), "");
    };
    switch (op) {
      case AdminOp::kCompact: {
        const uint64_t applied = ledger_->cursor();
        auto s = compact_log(applied);
        then(s, "compacted the raft log up to index " + std::to_string(applied));
        return;
      }
      case AdminOp::kTransfer: {
        if (!is_leader_) return not_leader();
        auto s = raft_->transfer_leadership(id);
        schedule_ready();
        then(s, "leadership transfer to node " + std::to_string(id) + " started");
        return;
      }
      case AdminOp::kAddLearner: {
        if (!is_leader_) return not_leader();
        if (auto s = check_host_port(address, "member address"); !s.is_ok()) return then(s, "");
        // Refuse a change the core would refuse before recording the address: an AddMember
        // naming a current member would otherwise point every node's directory entry for that
        // member at the new address, cutting it off from the cluster.
        if (auto next = consensus::apply_membership_change(
                raft_->membership(), {consensus::MembershipChangeType::kAddLearner, id});
            !next.is_ok()) {
          return then(next.status(), "");
        }
        // The leader needs the address at once (it replicates to the learner as soon as the
        // change is appended); the others learn it from the log before the change.
        v1::EntryPayload payload;
        payload.mutable_member_address()->set_id(id);
        payload.mutable_member_address()->set_address(address);
        directory_[id] = address;
        auto first = raft_->propose(payload.SerializeAsString());
        if (!first.is_ok()) return then(first.status(), "");
        auto change = raft_->propose_membership({consensus::MembershipChangeType::kAddLearner, id});
        schedule_ready();
        if (!change.is_ok()) return then(change.status(), "");
        then(base::Status::ok(), "node " + std::to_string(id) + " at " + address +
                                     " added as learner (entry " + std::to_string(*change) + ")");
        return;
      }
      case AdminOp::kPromote:
      case AdminOp::kRemove: {
        if (!is_leader_) return not_leader();
        const auto type = op == AdminOp::kPromote ? consensus::MembershipChangeType::kPromoteLearner
                                                  : consensus::MembershipChangeType::kRemove;
        auto change = raft_->propose_membership({type, id});
        schedule_ready();
        if (!change.is_ok()) return then(change.status(), "");
        then(base::Status::ok(), std::string(op == AdminOp::kPromote ? "promotion" : "removal") +
                                     " of node " + std::to_string(id) + " proposed (entry " +
                                     std::to_string(*change) + ")");
        return;
      }
    }
  });
}

void Node::deliver(std::vector<consensus::Message> messages) {
  asio::post(loop_, [this, messages = std::move(messages)] {
    if (stopped_.load() || storage_degraded_.load()) return;  // cannot persist: no answer
    for (const consensus::Message& m : messages) {
      auto s = raft_->step(m);
      if (!s.is_ok()) spdlog::debug("raft message from {} ignored: {}", m.from, s.to_string());
    }
    schedule_ready();
  });
}

// ---------------------------------------------------------------------------------------------
// Catch-up by block sync

void Node::start_catch_up(const consensus::CatchUp& cu) {
  if (catching_up_.count(cu.peer)) return;
  auto channel = channel_to(cu.peer);
  if (!channel) {
    (void)raft_->report_catch_up(cu.peer, 0, false);
    return;
  }
  catching_up_.insert(cu.peer);
  const consensus::CompactionPoint point = storage_->compaction_point();
  struct Call {
    grpc::ClientContext context;
    v1::CatchUpRequest request;
    v1::CatchUpResponse response;
    std::unique_ptr<v1::PeerService::Stub> stub;
  };
  auto call = std::make_shared<Call>();
  call->request.set_leader_id(config_.node_id);
  call->request.set_index(point.index);
  call->request.set_term(point.term);
  for (NodeId v : point.membership.voters) call->request.add_voters(v);
  for (NodeId l : point.membership.learners) call->request.add_learners(l);
  call->request.set_height(compaction_height_);
  if (insecure()) call->context.AddMetadata("x-credledger-role", "node:" + std::to_string(config_.node_id));
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  call->stub = v1::PeerService::NewStub(channel);
  metrics_.observe_message_bytes(Metrics::Path::kCatchUp, call->request.ByteSizeLong());
  spdlog::info("node {} is behind the compaction point ({}); asking it to catch up by block sync",
               cu.peer, point.index);
  const NodeId peer = cu.peer;
  call->stub->async()->CatchUp(&call->context, &call->request, &call->response,
                               base::tsan_handoff([this, call, peer](grpc::Status status) {
                                 asio::post(loop_, [this, call, peer, status] {
                                   const bool ok = status.ok() && call->response.ok();
                                   auto report = [this, call, peer, ok] {
                                     catching_up_.erase(peer);
                                     (void)raft_->report_catch_up(peer, call->response.index(),
                                                                  ok);
                                     schedule_ready();
                                   };
                                   if (ok) return report();
                                   spdlog::warn("catch-up of node {} failed: {} {}", peer,
                                                status.error_message(),
                                                call->response.message());
                                   // Retry after an election timeout, not at once: a peer that
                                   // is down fails fast, and the core asks again immediately,
                                   // which would spin this loop and flood the log.
                                   auto retry = std::make_shared<asio::steady_timer>(
                                       loop_, std::chrono::milliseconds(
                                                  config_.raft.tick_ms *
                                                  config_.raft.election_ticks));
                                   retry->async_wait(
                                       [this, retry, report](const boost::system::error_code& ec) {
                                         if (!ec && !stopped_.load()) report();
                                       });
                                 });
                               }));
}

void Node::catch_up(v1::CatchUpRequest request, std::function<void(v1::CatchUpResponse)> then) {
  {
    std::lock_guard<std::mutex> lock(catch_up_mu_);
    if (stopped_.load() || catch_ups_running_ > 0) {
      v1::CatchUpResponse busy;
      busy.set_ok(false);
      busy.set_message(stopped_.load() ? "node is stopping" : "a catch-up is already running");
      then(busy);
      return;
    }
    ++catch_ups_running_;
  }
  std::thread([this, request = std::move(request), then = std::move(then)] {
    struct Done {
      Node* node;
      ~Done() {
        std::lock_guard<std::mutex> lock(node->catch_up_mu_);
        --node->catch_ups_running_;
        node->catch_up_cv_.notify_all();
      }
    } done_guard{this};
    v1::CatchUpResponse response;
    auto fail = [&](const std::string& message) {
      response.set_ok(false);
      response.set_message(message);
      spdlog::error("catch-up failed: {}", message);
      then(response);
    };
    auto channel = channel_to(request.leader_id());
    if (!channel) return fail("no address for leader " + std::to_string(request.leader_id()));
    // Run a function on the loop and wait for it: apply and reset must not race the loop.
    auto on_loop = [this](std::function<base::Status()> fn) {
      std::promise<base::Status> done;
      asio::post(loop_, [&] { done.set_value(fn()); });
      return done.get_future().get();
    };
    auto stub = v1::AuditService::NewStub(channel);
    grpc::ClientContext context;
    if (insecure()) context.AddMetadata("x-credledger-role", "node:" + std::to_string(config_.node_id));
    v1::GetBlocksRequest req;
    req.set_from_height(ledger_->head().height() + 1);
    auto reader = stub->GetBlocks(&context, req);
    v1::Block block;
    uint64_t applied_blocks = 0;
    bool past_point = false;  // saw a block beyond the compaction point: nothing is missing
    while (reader->Read(&block)) {
      if (stopped_.load()) {
        context.TryCancel();
        (void)reader->Finish();
        return fail("node is stopping");
      }
      if (block.log_index() > request.index()) {
        past_point = true;
        context.TryCancel();
        break;
      }
      // Verified by replaying: every header field, receipt and root must come out the same.
      auto s = on_loop([&] {
        RETURN_IF_ERROR(check_disk_space());
        return ledger_->apply_block(block, nullptr, block.log_index());
      });
      if (!s.is_ok()) {
        context.TryCancel();
        (void)reader->Finish();
        return fail("block " + std::to_string(block.header().height()) + " from the leader: " +
                    s.to_string());
      }
      ++applied_blocks;
    }
    // A stream cut short (the leader crashed, the network failed) did not bring every block up
    // to the compaction point: resetting the log there would leave a gap in the chain.
    const grpc::Status streamed = reader->Finish();
    if (!past_point && !streamed.ok()) {
      return fail("block stream from node " + std::to_string(request.leader_id()) +
                  " ended at height " + std::to_string(ledger_->head().height()) +
                  " before the compaction point: " + streamed.error_message());
    }
    consensus::CompactionPoint point;
    point.index = request.index();
    point.term = request.term();
    point.membership.voters.assign(request.voters().begin(), request.voters().end());
    point.membership.learners.assign(request.learners().begin(), request.learners().end());
    auto s = on_loop([&]() -> base::Status {
      // A store that failed a write is replaced before it is used again (storage_faults.cc).
      if (storage_degraded_.load()) return base::Status::unavailable("this node's disk is full");
      if (raft_->commit_index() >= point.index) return base::Status::ok();  // caught up meanwhile
      // If the log already holds the point's entry, entries after it may have been acknowledged
      // to the leader: keep them; the leader's probing finds the match.
      auto term = raft_->term_at(point.index);
      if (term.is_ok() && *term == point.term) return base::Status::ok();
      if (auto reset = storage_->reset(point); !reset.is_ok()) {
        if (reset.code() == base::Code::kBusy) on_storage_write_failure("reset raft log", reset);
        return reset;
      }
      RETURN_IF_ERROR(raft_->reset_log(point));
      // Blocks of an earlier, interrupted sync may already reach past the point: the cursor
      // never moves back, or those entries would be applied twice.
      if (ledger_->cursor() < point.index) RETURN_IF_ERROR(ledger_->set_cursor(point.index));
      schedule_ready();
      return base::Status::ok();
    });
    if (!s.is_ok()) return fail("reset log: " + s.to_string());
    spdlog::info("caught up by block sync: {} blocks, log resumes after index {}", applied_blocks,
                 point.index);
    response.set_ok(true);
    response.set_index(point.index);
    then(response);
  }).detach();
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

base::Result<std::optional<ledger::CosignedCheckpoint>> Node::stored_checkpoint(
    uint64_t height) const {
  std::string key;
  ledger::put_u64(key, height);
  std::string text;
  auto s = db_->db()->Get(rocksdb::ReadOptions(), db_->cf("checkpoints"), key, &text);
  if (s.IsNotFound()) return std::optional<ledger::CosignedCheckpoint>();
  RETURN_IF_ERROR(ledger::from_rocks(s, "read checkpoint " + std::to_string(height)));
  auto parsed = ledger::parse_checkpoint_note(text);
  if (!parsed.is_ok()) {
    return base::Status::corruption("stored checkpoint " + std::to_string(height) + ": " +
                                    parsed.status().message());
  }
  return std::optional<ledger::CosignedCheckpoint>(std::move(parsed).value());
}

base::Result<Node::KeptCheckpoint> Node::keep_checkpoint(const ledger::CosignedCheckpoint& offered) {
  const uint64_t height = offered.checkpoint.height();
  ASSIGN_OR_RETURN(std::optional<ledger::CosignedCheckpoint> stored, stored_checkpoint(height));
  if (stored && stored->note.body != offered.note.body) {
    return base::Status::invalid_argument("a checkpoint at height " + std::to_string(height) +
                                          " with another body is stored here");
  }
  // Stored signatures first, so a valid one is never replaced; each candidate is kept only if
  // it verifies on its own (a bad one would make the whole note untrusted).
  ledger::CosignedCheckpoint merged = stored ? *stored : offered;
  std::vector<ledger::NoteSignature> candidates = merged.note.signatures;
  if (stored) {
    candidates.insert(candidates.end(), offered.note.signatures.begin(),
                      offered.note.signatures.end());
  }
  merged.note.signatures.clear();
  for (const ledger::NoteSignature& candidate : candidates) {
    const bool named = std::any_of(
        merged.note.signatures.begin(), merged.note.signatures.end(),
        [&](const ledger::NoteSignature& kept) { return kept.name == candidate.name; });
    if (named) continue;
    ledger::CosignedCheckpoint alone = merged;
    alone.note.signatures = {candidate};
    const ledger::QuorumReport check = ledger::verify_cosignatures(*consortium_, alone);
    if (check.signatures.size() == 1 &&
        check.signatures[0].outcome == ledger::CosignatureCheck::Outcome::kValid) {
      merged.note.signatures.push_back(candidate);
    } else if (!check.signatures.empty()) {
      spdlog::warn("cosignature of {} on checkpoint {} rejected: {}", candidate.name, height,
                   check.signatures[0].detail);
    }
  }
  const size_t stored_count = stored ? stored->note.signatures.size() : 0;
  KeptCheckpoint kept;
  kept.checkpoint = merged;
  kept.trusted = ledger::verify_cosignatures(*consortium_, merged).trusted();
  kept.grew = merged.note.signatures.size() > stored_count;
  // A note without a signature is not a note; one that gained nothing need not be written.
  if (merged.note.signatures.empty() || !kept.grew) return kept;
  std::string key;
  ledger::put_u64(key, height);
  rocksdb::WriteBatch batch;
  batch.Put(db_->cf("checkpoints"), key, merged.text());
  const bool newly_latest = kept.trusted && height > trusted_checkpoint_height_.load();
  if (newly_latest) {
    std::string value;
    ledger::put_u64(value, height);
    batch.Put(db_->cf("node_meta"), "trusted_checkpoint", value);
  }
  RETURN_IF_ERROR(ledger::from_rocks(db_->db()->Write(rocksdb::WriteOptions(), &batch),
                                     "store checkpoint " + std::to_string(height)));
  if (newly_latest) trusted_checkpoint_height_ = height;
  return kept;
}

base::Result<ledger::CosignedCheckpoint> Node::checkpoint(uint64_t height) const {
  if (height == 0) height = trusted_checkpoint_height_.load();
  if (height == 0) {
    return base::Status::not_found("no checkpoint has been cosigned by a quorum of agencies yet");
  }
  ASSIGN_OR_RETURN(std::optional<ledger::CosignedCheckpoint> stored, stored_checkpoint(height));
  if (!stored) {
    return base::Status::not_found("this node knows no checkpoint at height " +
                                   std::to_string(height));
  }
  const ledger::QuorumReport report = ledger::verify_cosignatures(*consortium_, *stored);
  if (!report.trusted()) {
    return base::Status::not_found(
        "no checkpoint at height " + std::to_string(height) + " is cosigned by a quorum yet (" +
        std::to_string(report.signer_agencies.size()) + " of the " +
        std::to_string(report.quorum) + " agencies needed)");
  }
  return *stored;
}

void Node::checkpoint_round() {
  if (stopped_.load()) return;
  checkpoint_timer_.expires_after(std::chrono::milliseconds(config_.checkpoint_interval_ms));
  checkpoint_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) checkpoint_round();
  });
  if (storage_degraded_.load() || !check_disk_space().is_ok()) return;  // stores checkpoints
  adopt_pending_checkpoints();
  const uint64_t height = ledger_->head().height();
  if (height == 0 || height == last_checkpoint_height_) return;
  auto cp = ledger::checkpoint_at(*ledger_, height);
  if (!cp.is_ok()) {
    spdlog::error("cannot make checkpoint at height {}: {}", height, cp.status().to_string());
    return;
  }
  ledger::CosignedCheckpoint checkpoint = ledger::make_checkpoint(origin_, *cp);
  const uint64_t now_s = static_cast<uint64_t>(now_ms() / 1000);
  if (agency_key_) {
    if (auto s = ledger::cosign(checkpoint, *agency_key_, now_s); !s.is_ok()) {
      spdlog::error("cannot cosign checkpoint {}: {}", height, s.to_string());
      return;
    }
  }
  last_checkpoint_height_ = height;
  // Peers' cosignatures arrive on the loop and are merged into the note stored for the height
  // (a restart at an unchanged head adds to the stored quorum note, never replaces it).
  ledger::CosignedCheckpoint unsigned_copy = checkpoint;
  unsigned_copy.note.signatures.clear();
  recent_checkpoints_[height] = unsigned_copy;
  while (recent_checkpoints_.size() > kRecentCheckpointsMax) {
    recent_checkpoints_.erase(recent_checkpoints_.begin());
  }
  if (!checkpoint.note.signatures.empty()) add_cosignature(height, checkpoint.note.signatures.back());
  // Ask every peer to cosign the same body; answers arrive on the loop.
  v1::CosignRequest request;
  request.set_height(height);
  request.set_body(checkpoint.note.body);
  call_peers<v1::CosignRequest, v1::CosignResponse>(
      request, [](auto* peer, auto&&... args) { peer->Cosign(args...); },
      [this, height](consensus::NodeId peer, const grpc::Status& status,
                     const v1::CosignResponse& response) {
        if (!status.ok()) {
          if (status.error_code() == grpc::INVALID_ARGUMENT) {
            spdlog::error("node {} refused to cosign checkpoint {}: {}", peer, height,
                          status.error_message());
          }
          return;
        }
        ledger::NoteSignature sig;
        sig.name = response.key_name();
        sig.key_id = response.key_id();
        sig.signature = response.signature();
        asio::post(loop_, [this, height, sig] {
          if (!stopped_.load()) add_cosignature(height, sig);
        });
      });
}

template <typename Request, typename Response, typename Invoke, typename Done>
void Node::call_peers(const Request& request, Invoke invoke, Done done) {
  for (const auto& [peer, address] : transport_->addresses()) {
    auto channel = channel_to(peer);
    if (!channel) continue;
    struct Call {
      grpc::ClientContext context;
      Request request;
      Response response;
      std::unique_ptr<v1::PeerService::Stub> stub;
    };
    auto call = std::make_shared<Call>();
    call->request = request;
    if (insecure()) {
      call->context.AddMetadata("x-credledger-role", "node:" + std::to_string(config_.node_id));
    }
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(config_.checkpoint_interval_ms * 5));
    call->stub = v1::PeerService::NewStub(channel);
    metrics_.observe_message_bytes(Metrics::Path::kCosign, call->request.ByteSizeLong());
    invoke(call->stub->async(), &call->context, &call->request, &call->response,
           base::tsan_handoff([call, peer = peer, done](grpc::Status status) {
             done(peer, status, call->response);
           }));
  }
}

void Node::add_cosignature(uint64_t height, const ledger::NoteSignature& signature) {
  if (storage_degraded_.load() || !check_disk_space().is_ok()) return;  // it stores the note
  auto recent = recent_checkpoints_.find(height);
  if (recent == recent_checkpoints_.end()) return;  // an answer to a round long gone
  ledger::CosignedCheckpoint offered = recent->second;
  offered.note.signatures = {signature};
  auto kept = keep_checkpoint(offered);
  if (!kept.is_ok()) {
    spdlog::error("cannot keep checkpoint {}: {}", height, kept.status().to_string());
    return;
  }
  // The maker hands every quorum note it completes to its peers, so that every node answers
  // GetCheckpoint and proofs for the same checkpoints.
  if (kept->trusted && kept->grew) share_checkpoint(kept->checkpoint);
}

void Node::share_checkpoint(const ledger::CosignedCheckpoint& checkpoint) {
  const uint64_t height = checkpoint.checkpoint.height();
  v1::ShareCheckpointRequest request;
  request.set_note(checkpoint.text());
  call_peers<v1::ShareCheckpointRequest, v1::ShareCheckpointResponse>(
      request, [](auto* peer, auto&&... args) { peer->ShareCheckpoint(args...); },
      [height](consensus::NodeId peer, const grpc::Status& status,
               const v1::ShareCheckpointResponse&) {
        if (status.error_code() == grpc::INVALID_ARGUMENT) {
          spdlog::error("node {} refused the quorum checkpoint {}: {}", peer, height,
                        status.error_message());
        }
      });
}

void Node::learn_checkpoint(std::string note,
                            std::function<void(base::Result<bool>)> then) {
  asio::post(loop_, [this, note = std::move(note), then = std::move(then)] {
    auto parsed = ledger::parse_checkpoint_note(note);
    if (!parsed.is_ok()) {
      return then(base::Status::invalid_argument("checkpoint note: " + parsed.status().message()));
    }
    const ledger::QuorumReport report = ledger::verify_cosignatures(*consortium_, *parsed);
    if (!report.trusted()) {
      return then(base::Status::invalid_argument("checkpoint at height " +
                                                 std::to_string(parsed->checkpoint.height()) +
                                                 " is not trusted: " + report.status().message()));
    }
    if (parsed->checkpoint.height() > ledger_->head().height()) {
      // Adopted once this node applies that height (checkpoint_round looks every interval).
      pending_checkpoints_[parsed->checkpoint.height()] = std::move(parsed).value();
      while (pending_checkpoints_.size() > kRecentCheckpointsMax) {
        pending_checkpoints_.erase(pending_checkpoints_.begin());
      }
      return then(false);
    }
    auto adopted = adopt_checkpoint(*parsed);
    if (!adopted.is_ok()) return then(adopted);
    then(true);
  });
}

base::Status Node::adopt_checkpoint(const ledger::CosignedCheckpoint& checkpoint) {
  const uint64_t height = checkpoint.checkpoint.height();
  if (storage_degraded_.load() || !check_disk_space().is_ok()) {
    return base::Status::busy("this node refuses writes now (its disk is full)");
  }
  ASSIGN_OR_RETURN(v1::Checkpoint mine, ledger::checkpoint_at(*ledger_, height));
  if (ledger::make_checkpoint(origin_, mine).note.body != checkpoint.note.body) {
    // A quorum signed another chain at this height: evidence of a fork or corruption.
    spdlog::critical("a quorum checkpoint at height {} differs from this node's chain:\n{}",
                     height, checkpoint.note.body);
    return base::Status::invalid_argument("checkpoint at height " + std::to_string(height) +
                                          " differs from this node's");
  }
  // A note this node already held whole is fine too.
  return keep_checkpoint(checkpoint).status();
}

void Node::adopt_pending_checkpoints() {
  const uint64_t head = ledger_->head().height();
  while (!pending_checkpoints_.empty() && pending_checkpoints_.begin()->first <= head) {
    auto node = pending_checkpoints_.extract(pending_checkpoints_.begin());
    if (auto s = adopt_checkpoint(node.mapped()); !s.is_ok()) {
      spdlog::error("cannot adopt the quorum checkpoint {}: {}", node.key(), s.to_string());
    }
  }
}

base::Result<v1::CosignResponse> Node::cosign_peer_checkpoint(uint64_t height,
                                                              const std::string& body) {
  if (!agency_key_) return base::Status::not_found("this node has no agency_key to cosign with");
  if (height > ledger_->head().height()) {
    return base::Status::unavailable("height " + std::to_string(height) + " not applied here yet");
  }
  ASSIGN_OR_RETURN(v1::Checkpoint mine, ledger::checkpoint_at(*ledger_, height));
  ledger::CosignedCheckpoint checkpoint = ledger::make_checkpoint(origin_, mine);
  if (checkpoint.note.body != body) {
    // Two nodes disagree about the same height: evidence of a fork or corruption.
    spdlog::critical("refusing to cosign height {}: my checkpoint body differs.\nmine:\n{}theirs:\n{}",
                     height, checkpoint.note.body, body);
    return base::Status::invalid_argument("checkpoint at height " + std::to_string(height) +
                                          " differs from this node's");
  }
  RETURN_IF_ERROR(ledger::cosign(checkpoint, *agency_key_, static_cast<uint64_t>(now_ms() / 1000)));
  const ledger::NoteSignature& sig = checkpoint.note.signatures.back();
  v1::CosignResponse response;
  response.set_key_name(sig.name);
  response.set_key_id(sig.key_id);
  response.set_signature(sig.signature);
  return response;
}

// ---------------------------------------------------------------------------------------------
// Watchers and access log

bool Node::add_watcher(const v1::Subject& subject, SubjectWatcher* watcher) {
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (watcher_count_ >= config_.limits.max_watchers) return false;
  if (watchers_[subject_key(subject)].insert(watcher).second) ++watcher_count_;
  return true;
}

void Node::remove_watcher(const v1::Subject& subject, SubjectWatcher* watcher) {
  std::lock_guard<std::mutex> lock(watch_mu_);
  auto it = watchers_.find(subject_key(subject));
  if (it == watchers_.end()) return;
  if (it->second.erase(watcher)) --watcher_count_;
  if (it->second.empty()) watchers_.erase(it);
}

base::Status Node::record_access(const Caller& caller, const std::string& method,
                                 const v1::Subject& subject) {
  if (subject.kind() != v1::INDIVIDUAL && subject.kind() != v1::PROFESSIONAL) {
    return base::Status::ok();
  }
  if (auto space = check_disk_space(); !space.is_ok()) {
    return base::Status::busy("cannot record access to an individual's data (the query is "
                              "refused): disk full at " + config_.data_dir + ": " +
                              space.message());
  }
  metrics_.individual_queries++;
  v1::AccessRecord record;
  record.set_sequence(++access_sequence_);
  record.set_time_ms(now_ms());
  record.set_caller_role(role_name(caller.role));
  record.set_caller_name(caller.name);
  record.set_method(method);
  *record.mutable_subject() = subject;
  std::string key;
  ledger::put_u64(key, record.sequence());
  auto s = db_->db()->Put(rocksdb::WriteOptions(), db_->cf("access"), key,
                          record.SerializeAsString());
  if (!s.ok()) {
    spdlog::error("cannot write access record, refusing {} by {}: {}", method, caller.to_string(),
                  s.ToString());
    return ledger::from_rocks(s, "record access to an individual's data (the query is refused)");
  }
  spdlog::info("access: {} {} subject {}", caller.to_string(), method, subject.id());
  return base::Status::ok();
}

base::Result<std::vector<v1::AccessRecord>> Node::access_log(uint64_t after, uint32_t limit) const {
  std::vector<v1::AccessRecord> out;
  std::string start;
  ledger::put_u64(start, after + 1);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf("access")));
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    v1::AccessRecord& r = out.emplace_back();
    if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return base::Status::corruption("access record does not parse");
    }
  }
  RETURN_IF_ERROR(ledger::from_rocks(it->status(), "read access log"));
  return out;
}

}  // namespace node
