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
#include <tuple>

#include "base/tsan.h"
#include "ledger/event.h"
#include "ledger/validation.h"
#include "node/services.h"

namespace node {

namespace asio = boost::asio;
using consensus::NodeId;

namespace {

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
               replica_->raft().last_index());
  return base::Status::ok();
}

base::Status Node::open_raft() {
  consensus::Membership initial;
  for (const auto& [id, address] : config_.peers) initial.voters.push_back(id);
  ASSIGN_OR_RETURN(std::unique_ptr<consensus::RocksLogStorage> storage,
                   consensus::RocksLogStorage::attach(db_->db(), db_->cf("raft_log"),
                                                      db_->cf("raft_state"), initial));
  if (!replica_) {
    ReplicaEnv env;
    env.check_disk_space = [this] { return check_disk_space(); };
    env.sync_blocks = [this] {
      return ledger::from_rocks(db_->db()->FlushWAL(/*sync=*/true), "sync blocks");
    };
    replica_ = std::make_unique<Replica>(config_, *ledger_, *rng_, std::move(env));
  }
  Effects effects;
  RETURN_IF_ERROR(replica_->open(std::move(storage), effects));
  // At start-up the loop is not running yet: start() carries out the first effects.
  if (loop_thread_.joinable()) execute(std::move(effects));
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
  update_peers(replica_->raft().membership());
  loop_thread_ = std::thread([this] { loop_.run(); });
  on_damage_found(std::move(startup_damages_));
  asio::post(loop_, [this] {
    on_tick();
    checkpoint_round();
    execute(replica_->process());
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
    execute(replica_->stop("node is stopping"));
    for (auto& [call, old_leader] : calls_awaiting_leader_) {
      fail_call(call, grpc_status(grpc::UNAVAILABLE, "node is stopping"));
    }
    calls_awaiting_leader_.clear();
    // Forwards in flight end now (their completions see stopped_ and answer UNAVAILABLE).
    for (auto& [number, fwd] : forwards_) {
      fwd->redirect = true;
      fwd->context.TryCancel();
    }
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
  replica_.reset();
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
// The Raft loop: the Replica decides, the loop carries it out

void Node::execute(Effects fx) {
  // Their state is durable (the Replica persisted it before handing them out): send first.
  if (!fx.messages.empty()) transport_->send(fx.messages);
  for (VerifyJob& job : fx.verify_jobs) run_verify_job(std::move(job));
  for (const v1::MemberAddress& address : fx.addresses) learn_member_address(address);
  if (fx.membership) update_peers(*fx.membership);
  for (consensus::NodeId peer : fx.catch_ups) start_catch_up(peer);
  for (const AppliedBlock& applied : fx.applied) on_block_applied(applied);
  metrics_.proposals += fx.proposals;
  for (SubmitReply& reply : fx.submit_replies) finish_submit(std::move(reply));
  for (ReadReply& reply : fx.read_replies) finish_read(std::move(reply));
  if (fx.is_leader) on_leadership_change(*fx.is_leader);
  if (fx.leader) {
    leader_id_ = *fx.leader;
    metrics_.leader_id = *fx.leader;
    if (*fx.leader != known_leader_) on_leader_changed(*fx.leader);
  }
  if (fx.flush_after_us && !flush_timer_armed_) {
    flush_timer_armed_ = true;
    batch_timer_.expires_after(std::chrono::microseconds(fx.flush_after_us));
    batch_timer_.async_wait([this](const boost::system::error_code& ec) {
      flush_timer_armed_ = false;
      if (!ec && !stopped_.load()) execute(replica_->flush(now_ms()));
    });
  }
  if (fx.storage_failure) {
    on_storage_write_failure(fx.storage_failure->first, fx.storage_failure->second);
  }
  metrics_.term = replica_->raft().term();
  metrics_.commit_index = replica_->raft().commit_index();
  metrics_.applied_index = ledger_->cursor();
}

void Node::run_verify_job(VerifyJob job) {
  // Chunks on every core; the last one hands the results back to the loop, which never waits.
  const size_t n = job.indexes.size();
  const size_t events = static_cast<size_t>(job.payload->block().events_size());
  auto states = std::make_shared<std::vector<ledger::SignatureState>>(
      events, ledger::SignatureState::kUnchecked);
  auto shared = std::make_shared<VerifyJob>(std::move(job));
  const size_t chunks = (n + kVerifyChunkEvents - 1) / kVerifyChunkEvents;
  auto remaining = std::make_shared<std::atomic<size_t>>(chunks);
  for (size_t c = 0; c < chunks; ++c) {
    asio::post(*verify_pool_, [this, shared, states, remaining, c, n] {
      const v1::BlockBody& body = shared->payload->block();
      const size_t end = std::min(n, (c + 1) * kVerifyChunkEvents);
      for (size_t k = c * kVerifyChunkEvents; k < end; ++k) {
        const size_t i = shared->indexes[k];
        (*states)[i] =
            ledger::verify_event_signature(*consortium_, body.events(static_cast<int>(i)))
                ? ledger::SignatureState::kValid
                : ledger::SignatureState::kInvalid;
      }
      if (remaining->fetch_sub(1) != 1) return;
      asio::post(loop_, [this, shared, states] {
        if (!stopped_.load()) execute(replica_->verified(shared->id, std::move(*states)));
      });
    });
  }
}

void Node::finish_submit(SubmitReply reply) {
  auto it = submits_.find(reply.id);
  if (it == submits_.end()) return;
  std::shared_ptr<SubmitCall> call = std::move(it->second);
  submits_.erase(it);
  if (reply.status.code() == base::Code::kNotLeader) {
    // on_submit_verified hands the Replica only calls it leads for, on the same turn.
    return fail_call(call, grpc_status(grpc::UNAVAILABLE, "leadership moved; retry"));
  }
  if (!reply.status.is_ok()) {
    switch (reply.status.code()) {
      case base::Code::kInvalidArgument:
      case base::Code::kAlreadyExists:
      case base::Code::kBusy:
      case base::Code::kIOError:
        metrics_.submits_refused++;
        break;
      default:
        break;
    }
    return fail_call(call, to_grpc(reply.status));
  }
  if (call->finished) return;
  call->finished = true;
  metrics_.submit_latency.observe_us(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                            call->started)
          .count()));
  call->done(grpc::Status::OK, std::move(reply.receipts));
}

void Node::finish_read(ReadReply reply) {
  auto it = reads_.find(reply.id);
  if (it == reads_.end()) return;
  auto then = std::move(it->second);
  reads_.erase(it);
  then(reply.status);
}

void Node::on_tick() {
  if (stopped_.load()) return;
  execute(replica_->tick(now_ms()));
  // Forwarded calls parked while no leader is known are bounded by their deadlines.
  const auto now = std::chrono::steady_clock::now();
  while (!calls_awaiting_leader_.empty() && calls_awaiting_leader_.front().first->deadline <= now) {
    auto [call, old_leader] = std::move(calls_awaiting_leader_.front());
    calls_awaiting_leader_.pop_front();
    fail_call(call, grpc_status(grpc::UNAVAILABLE,
                                "leader " + std::to_string(old_leader) +
                                    " lost its leadership and no new leader was elected within " +
                                    std::to_string(config_.limits.submit_timeout_ms) +
                                    " ms; resubmitting the same events is safe"));
  }
  if (replica_->is_leader()) {
    const consensus::Raft& raft = replica_->raft();
    const uint64_t last = raft.last_index();
    for (const auto& [peer, progress] : raft.progress()) {
      if (peer == config_.node_id) continue;
      const uint64_t match = raft.match_of(peer);
      metrics_.set_peer_lag(peer, last > match ? last - match : 0);
    }
  }
  tick_timer_.expires_after(std::chrono::milliseconds(config_.raft.tick_ms));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_tick();
  });
}

void Node::on_leadership_change(bool leader_now) {
  metrics_.is_leader = leader_now ? 1 : 0;
  spdlog::info("node {} is {} in term {}", config_.node_id, leader_now ? "leader" : "follower",
               replica_->raft().term());
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
// Applied blocks

void Node::learn_member_address(const v1::MemberAddress& ma) {
  persist_address(ma.id(), ma.address());
  if (ma.id() == config_.node_id) return;
  const auto& m = replica_->raft().membership();
  const bool member = std::count(m.voters.begin(), m.voters.end(), ma.id()) ||
                      std::count(m.learners.begin(), m.learners.end(), ma.id());
  if (member) transport_->set_peer(ma.id(), ma.address());
}

void Node::on_block_applied(const AppliedBlock& applied) {
  const v1::Block& block = applied.block;
  const v1::BlockBody& body = applied.payload->block();
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
  }
  if (!touched.empty()) {
    std::lock_guard<std::mutex> lock(watch_mu_);
    for (const std::string& key : touched) {
      auto it = watchers_.find(key);
      if (it == watchers_.end()) continue;
      for (SubjectWatcher* watcher : it->second) watcher->changed();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Submit

void Node::submit(std::shared_ptr<SubmitCall> call) {
  const size_t n = call->events.size();
  call->started = std::chrono::steady_clock::now();
  call->deadline = call->started + std::chrono::milliseconds(config_.limits.submit_timeout_ms);
  call->deadline_ms = now_ms() + static_cast<int64_t>(config_.limits.submit_timeout_ms);
  call->checks.resize(n);
  call->hashes.resize(n);
  if (n == 0) {
    call->done(grpc::Status::OK, {});
    return;
  }
  // Signatures and static rules on the pool, in chunks so that one large batch uses every core.
  const size_t chunks = (n + kVerifyChunkEvents - 1) / kVerifyChunkEvents;
  auto remaining = std::make_shared<std::atomic<size_t>>(chunks);
  for (size_t c = 0; c < chunks; ++c) {
    asio::post(*verify_pool_, [this, call, remaining, c, n] {
      const size_t end = std::min(n, (c + 1) * kVerifyChunkEvents);
      for (size_t i = c * kVerifyChunkEvents; i < end; ++i) {
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

void Node::on_submit_verified(std::shared_ptr<SubmitCall> call) {
  if (stopped_.load()) return fail_call(call, grpc_status(grpc::UNAVAILABLE, "node is stopping"));
  // Signature checks may have queued behind a backlog: the deadline still holds.
  if (call->deadline <= std::chrono::steady_clock::now()) {
    return fail_call(call, submit_timed_out());
  }
  if (auto refused = refuse_writes_if_degraded(); !refused.ok()) return fail_call(call, refused);
  if (!replica_->is_leader()) {
    const NodeId leader = leader_id_.load();
    if (leader == 0 || leader == config_.node_id) {
      return fail_call(call, grpc_status(grpc::UNAVAILABLE, "no leader elected yet; retry shortly"));
    }
    return forward_submit(call, leader);
  }
  // The Replica takes the events; the call here keeps what answers it.
  CheckedSubmit checked;
  checked.id = ++call_counter_;
  checked.events = std::move(call->events);
  checked.hashes = call->hashes;
  checked.parsed.reserve(call->checks.size());
  for (ledger::StaticCheck& check : call->checks) checked.parsed.push_back(std::move(check.event));
  checked.deadline_ms = call->deadline_ms;
  call->id = checked.id;
  submits_[checked.id] = call;
  execute(replica_->submit(std::move(checked), now_ms()));
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
  replica_->note_verified(call->hashes);
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
          if (!ok) replica_->forget_verified(call->hashes);
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
  if (replica_->is_leader()) {
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
    const CallId id = ++call_counter_;
    reads_[id] = std::move(then);
    execute(replica_->read_index(id));
  });
}

void Node::cluster_status(std::function<void(v1::ClusterStatusResponse)> then) {
  asio::post(loop_, [this, then = std::move(then)] {
    const consensus::Raft& raft = replica_->raft();
    const bool is_leader = replica_->is_leader();
    v1::ClusterStatusResponse r;
    r.set_node_id(config_.node_id);
    r.set_leader_id(raft.leader());
    if (auto it = directory_.find(raft.leader()); it != directory_.end()) {
      r.set_leader_address(it->second);
    }
    r.set_term(raft.term());
    r.set_commit_index(raft.commit_index());
    r.set_applied_index(ledger_->cursor());
    const v1::BlockHeader head = ledger_->head();
    r.set_height(head.height());
    r.set_head_hash(ledger::to_string(ledger_->head_hash()));
    r.set_state_root(head.state_root());
    r.set_tree_size(head.tree_size());
    r.set_merkle_root(head.merkle_root());
    r.set_role(consensus::role_name(raft.role()));
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
    const auto& m = raft.membership();
    const uint64_t last = raft.last_index();
    auto add = [&](NodeId id, bool voter) {
      v1::Member* member = r.add_members();
      member->set_id(id);
      if (auto it = directory_.find(id); it != directory_.end()) member->set_address(it->second);
      member->set_voter(voter);
      if (id == raft.leader()) {
        member->set_role("leader");
      } else {
        member->set_role(voter ? "follower" : "learner");
      }
      if (is_leader) {
        const uint64_t match = id == config_.node_id ? last : raft.match_of(id);
        member->set_match_index(match);
        member->set_lag(last > match ? last - match : 0);
      }
    };
    for (NodeId id : m.voters) add(id, true);
    for (NodeId id : m.learners) add(id, false);
    then(std::move(r));
  });
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
        auto s = replica_->compact(applied);
        then(s, "compacted the raft log up to index " + std::to_string(applied));
        return;
      }
      case AdminOp::kTransfer: {
        if (!replica_->is_leader()) return not_leader();
        auto s = replica_->raft().transfer_leadership(id);
        execute(replica_->process());
        then(s, "leadership transfer to node " + std::to_string(id) + " started");
        return;
      }
      case AdminOp::kAddLearner: {
        if (!replica_->is_leader()) return not_leader();
        if (auto s = check_host_port(address, "member address"); !s.is_ok()) return then(s, "");
        // Refuse a change the core would refuse before recording the address: an AddMember
        // naming a current member would otherwise point every node's directory entry for that
        // member at the new address, cutting it off from the cluster.
        if (auto next = consensus::apply_membership_change(
                replica_->raft().membership(), {consensus::MembershipChangeType::kAddLearner, id});
            !next.is_ok()) {
          return then(next.status(), "");
        }
        // The leader needs the address at once (it replicates to the learner as soon as the
        // change is appended); the others learn it from the log before the change.
        v1::EntryPayload payload;
        payload.mutable_member_address()->set_id(id);
        payload.mutable_member_address()->set_address(address);
        directory_[id] = address;
        auto first = replica_->raft().propose(payload.SerializeAsString());
        if (!first.is_ok()) return then(first.status(), "");
        auto change = replica_->raft().propose_membership({consensus::MembershipChangeType::kAddLearner, id});
        execute(replica_->process());
        if (!change.is_ok()) return then(change.status(), "");
        then(base::Status::ok(), "node " + std::to_string(id) + " at " + address +
                                     " added as learner (entry " + std::to_string(*change) + ")");
        return;
      }
      case AdminOp::kPromote:
      case AdminOp::kRemove: {
        if (!replica_->is_leader()) return not_leader();
        const auto type = op == AdminOp::kPromote ? consensus::MembershipChangeType::kPromoteLearner
                                                  : consensus::MembershipChangeType::kRemove;
        auto change = replica_->raft().propose_membership({type, id});
        execute(replica_->process());
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
    execute(replica_->step(messages));
  });
}

// ---------------------------------------------------------------------------------------------
// Catch-up by block sync

void Node::start_catch_up(NodeId peer) {
  auto channel = channel_to(peer);
  if (!channel) {
    asio::post(loop_, [this, peer] {
      if (!stopped_.load()) execute(replica_->catch_up_done(peer, 0, false));
    });
    return;
  }
  const consensus::CompactionPoint point = replica_->compaction_point();
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
  call->request.set_height(replica_->compaction_height());
  if (insecure()) call->context.AddMetadata("x-credledger-role", "node:" + std::to_string(config_.node_id));
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  call->stub = v1::PeerService::NewStub(channel);
  metrics_.observe_message_bytes(Metrics::Path::kCatchUp, call->request.ByteSizeLong());
  spdlog::info("node {} is behind the compaction point ({}); asking it to catch up by block sync",
               peer, point.index);
  call->stub->async()->CatchUp(&call->context, &call->request, &call->response,
                               base::tsan_handoff([this, call, peer](grpc::Status status) {
                                 asio::post(loop_, [this, call, peer, status] {
                                   const bool ok = status.ok() && call->response.ok();
                                   auto report = [this, call, peer, ok] {
                                     execute(replica_->catch_up_done(
                                         peer, call->response.index(), ok));
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
      auto s = on_loop([&] { return replica_->apply_synced_block(block); });
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
      Effects effects;
      base::Status finished = replica_->finish_sync(point, effects);
      execute(std::move(effects));
      return finished;
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
  reshare_checkpoints();
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
    call_peer<Request, Response>(peer, request, invoke, done);
  }
}

template <typename Request, typename Response, typename Invoke, typename Done>
bool Node::call_peer(consensus::NodeId peer, const Request& request, Invoke invoke, Done done) {
  {
    auto channel = channel_to(peer);
    if (!channel) return false;
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
  return true;
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
  const std::string note = checkpoint.text();
  for (const auto& [peer, address] : transport_->addresses()) {
    // Owed until the peer acknowledges it: a share that fails (a peer down or slow) is sent
    // again by every checkpoint round (reshare_checkpoints), so every node learns every
    // quorum checkpoint, not only the latest.
    auto& owed = unshared_[peer];
    owed[height] = note;
    while (owed.size() > kRecentCheckpointsMax) owed.erase(owed.begin());
    send_share(peer, height, note);
  }
}

void Node::send_share(consensus::NodeId peer, uint64_t height, const std::string& note) {
  v1::ShareCheckpointRequest request;
  request.set_note(note);
  const bool sent = call_peer<v1::ShareCheckpointRequest, v1::ShareCheckpointResponse>(
      peer, request, [](auto* stub, auto&&... args) { stub->ShareCheckpoint(args...); },
      [this, height](consensus::NodeId peer, const grpc::Status& status,
                     const v1::ShareCheckpointResponse&) {
        const bool refused = status.error_code() == grpc::INVALID_ARGUMENT;
        if (refused) {
          spdlog::error("node {} refused the quorum checkpoint {}: {}", peer, height,
                        status.error_message());
        }
        asio::post(loop_, [this, peer, height, done = status.ok() || refused] {
          if (--sharing_[peer] == 0) sharing_.erase(peer);
          // Kept or pending there (a pending note is adopted once the peer applies that
          // height), or refused for good: either way nothing is owed any more.
          if (!done) return;
          auto owed = unshared_.find(peer);
          if (owed == unshared_.end()) return;
          owed->second.erase(height);
          if (owed->second.empty()) unshared_.erase(owed);
        });
      });
  if (sent) {
    ++sharing_[peer];
  } else {
    unshared_.erase(peer);  // no longer a peer
  }
}

void Node::reshare_checkpoints() {
  // Peers with a share in flight wait for its answer, so a slow peer does not collect a retry
  // per round.
  std::vector<std::tuple<consensus::NodeId, uint64_t, std::string>> due;
  for (const auto& [peer, owed] : unshared_) {
    if (sharing_.count(peer)) continue;
    for (const auto& [height, note] : owed) due.emplace_back(peer, height, note);
  }
  for (const auto& [peer, height, note] : due) send_share(peer, height, note);
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
