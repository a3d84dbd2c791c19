#include "node/services.h"

#include <google/protobuf/descriptor.h>
#include <spdlog/spdlog.h>

#include <limits>

#include "base/tsan.h"
#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "ledger/validation.h"
#include "node/node.h"
#include "node/requests.h"

namespace node {
grpc::Status to_grpc(const base::Status& s) {
  if (s.is_ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (s.code()) {
    case base::Code::kOk: code = grpc::StatusCode::OK; break;
    case base::Code::kNotFound: code = grpc::StatusCode::NOT_FOUND; break;
    case base::Code::kInvalidArgument: code = grpc::StatusCode::INVALID_ARGUMENT; break;
    case base::Code::kCorruption: code = grpc::StatusCode::DATA_LOSS; break;
    case base::Code::kIOError: code = grpc::StatusCode::INTERNAL; break;
    case base::Code::kNotLeader: code = grpc::StatusCode::UNAVAILABLE; break;
    case base::Code::kBusy: code = grpc::StatusCode::RESOURCE_EXHAUSTED; break;
    case base::Code::kUnavailable: code = grpc::StatusCode::UNAVAILABLE; break;
    case base::Code::kAlreadyExists: code = grpc::StatusCode::ALREADY_EXISTS; break;
  }
  return grpc::Status(code, s.message());
}

namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;
using grpc::Status;
using grpc::StatusCode;


// What a public caller is not shown of a blacklist entry, and of a status: the names go into
// the answer's undisclosed_fields, so that a withheld score is never read as a score of 0.
constexpr const char* kUndisclosedEntryFields[] = {"summary", "disputes"};
constexpr const char* kUndisclosedStatusFields[] = {
    "score",   "grade",       "event_count",        "active_penalties",
    "ratings", "explanation", "disputed_event_ids", "commendations"};

void redact_entry_for_public(v1::ViewEntry& e) {
  e.clear_summary();
  e.clear_disputes();
}

// Public callers see what may be published: active blacklist entries with legal basis and
// expiry, and whether the subject is blacklisted. Nothing else.
void redact_for_public(v1::SubjectStatus& s) {
  s.clear_active_penalties();
  s.clear_commendations();
  s.clear_ratings();
  s.clear_explanation();
  s.clear_disputed_event_ids();
  s.clear_score();
  s.clear_grade();
  s.clear_event_count();
  for (v1::ViewEntry& e : *s.mutable_blacklist_entries()) redact_entry_for_public(e);
  s.clear_undisclosed_fields();
  for (const char* field : kUndisclosedStatusFields) s.add_undisclosed_fields(field);
  for (const char* field : kUndisclosedEntryFields) {
    s.add_undisclosed_fields(std::string("blacklist_entries.") + field);
  }
}

void present(const Caller& caller, v1::SubjectStatus& s) {
  if (caller.role == Role::kPublic) redact_for_public(s);
}

void add_node_identity(grpc::ClientContext& context, const Node& node) {
  if (node.insecure()) {
    context.AddMetadata("x-credledger-role", "node:" + std::to_string(node.config().node_id));
  }
}

Status leader_unknown() {
  return Status(StatusCode::UNAVAILABLE, "no leader elected yet; retry shortly");
}

// Sends a unary call to the leader and finishes `reactor` with its answer (after `post`).
template <typename Request, typename Response, typename Invoke, typename Post>
void forward_to_leader(Node& node, ServerUnaryReactor* reactor, const Request& request,
                       Response* response, Invoke invoke, Post post) {
  const consensus::NodeId leader = node.leader();
  auto channel = node.channel_to(leader);
  if (!channel) {
    reactor->Finish(leader_unknown());
    return;
  }
  struct Call {
    grpc::ClientContext context;
    Request request;
  };
  auto call = std::make_shared<Call>();
  call->request = request;
  node.metrics().observe_message_bytes(Metrics::Path::kForwardRead, call->request.ByteSizeLong());
  add_node_identity(call->context, node);
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // Ride out a moment of TRANSIENT_FAILURE on the peer channel instead of failing the caller.
  call->context.set_wait_for_ready(true);
  invoke(channel, &call->context, &call->request, response,
         base::tsan_handoff([call, reactor, post, response](Status status) {
           if (status.ok()) post(*response);
           reactor->Finish(status);
         }));
}

// Answers a query now (LOCAL), or once a ReadIndex round shows this leader's state includes
// every write acknowledged before the call (LINEARIZABLE). A follower cannot run ReadIndex: it
// forwards the request to the leader and `post`-processes the leader's reply for its caller.
template <typename Request, typename Response, typename Answer, typename Invoke, typename Post>
void answer_with_consistency(Node& node, ServerUnaryReactor* reactor, v1::Consistency consistency,
                             Request forwarded, Response* response, Answer answer, Invoke invoke,
                             Post post) {
  if (consistency == v1::LOCAL) return answer();
  node.after_read_index([&node, reactor, response, answer, forwarded, invoke,
                         post](const base::Status& st) {
    if (st.is_ok()) return answer();
    if (st.code() != base::Code::kNotLeader) return reactor->Finish(to_grpc(st));
    forward_to_leader(node, reactor, forwarded, response, invoke, post);
  });
}

// ---------------------------------------------------------------------------------------------

class LedgerServiceImpl final : public v1::LedgerService::CallbackService {
 public:
  explicit LedgerServiceImpl(Node& node) : node_(node) {}

  ServerUnaryReactor* Submit(CallbackServerContext* context, const v1::SubmitRequest* request,
                             v1::SubmitResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    const Status s = check_submit(caller, *request, node_.consortium(),
                                  node_.config().limits.max_events_per_submit);
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    // A node whose disk is full takes no new work (it could not persist it), at once.
    if (Status refused = node_.refuse_writes_if_degraded(); !refused.ok()) {
      reactor->Finish(refused);
      return reactor;
    }
    auto call = std::make_shared<SubmitCall>();
    call->caller = caller;
    call->events.assign(request->events().begin(), request->events().end());
    call->done = [reactor, response](const Status& status, std::vector<v1::Receipt> receipts) {
      for (auto& r : receipts) *response->add_receipts() = std::move(r);
      reactor->Finish(status);
    };
    node_.submit(std::move(call));
    return reactor;
  }

 private:
  Node& node_;
};

// ---------------------------------------------------------------------------------------------

// A server stream refused before its first message: it only finishes with the reason.
template <typename Message>
class RefuseStream final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit RefuseStream(Status s) {
    base::TsanReaction reaction(this);
    this->Finish(s);
  }
  void OnDone() override {
    base::tsan_acquire(this);
    delete this;
  }
};

class WatchReactor final : public grpc::ServerWriteReactor<v1::SubjectStatus>,
                           public SubjectWatcher {
 public:
  WatchReactor(Node& node, Caller caller, v1::Subject subject)
      : node_(node), caller_(std::move(caller)), subject_(std::move(subject)) {
    base::TsanReaction reaction(this);
    if (!node_.add_watcher(subject_, this)) {
      Finish(Status(StatusCode::RESOURCE_EXHAUSTED, "too many watchers on this node"));
      registered_ = false;
      return;
    }
    changed();
  }

  void changed() override {
    base::TsanReaction reaction(this);
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    if (writing_) {
      dirty_ = true;  // coalesce: the next write sends the latest status
      return;
    }
    write_locked();
  }

  void OnWriteDone(bool ok) override {
    base::TsanReaction reaction(this);
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      finish_locked(Status::OK);
      return;
    }
    if (dirty_) {
      dirty_ = false;
      write_locked();
    }
  }

  void OnCancel() override {
    base::TsanReaction reaction(this);
    std::lock_guard<std::mutex> lock(mu_);
    finish_locked(Status::CANCELLED);
  }

  void OnDone() override {
    base::tsan_acquire(this);
    if (registered_) node_.remove_watcher(subject_, this);
    delete this;
  }

 private:
  void write_locked() {
    auto status = node_.ledger().status(subject_, Node::now_ms());
    if (!status.is_ok()) {
      finish_locked(to_grpc(status.status()));
      return;
    }
    current_ = std::move(status).value();
    present(caller_, current_);
    writing_ = true;
    StartWrite(&current_);
  }
  void finish_locked(const Status& status) {
    if (done_) return;
    done_ = true;
    Finish(status);
  }

  Node& node_;
  Caller caller_;
  v1::Subject subject_;
  std::mutex mu_;
  bool writing_ = false;
  bool dirty_ = false;
  bool done_ = false;
  bool registered_ = true;
  v1::SubjectStatus current_;
};

class QueryServiceImpl final : public v1::QueryService::CallbackService {
 public:
  explicit QueryServiceImpl(Node& node) : node_(node) {}

  ServerUnaryReactor* GetSubjectStatus(CallbackServerContext* context,
                                       const v1::StatusRequest* request,
                                       v1::SubjectStatus* response) override {
    auto* reactor = context->DefaultReactor();
    const auto started = std::chrono::steady_clock::now();
    const Caller caller = node_.caller_of(*context);
    Status s = check_read_args(request->as_of_ms(), request->consistency());
    if (s.ok()) s = admit_subject(caller, request->subject());
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    if (auto logged = node_.record_access(caller, "GetSubjectStatus", request->subject());
        !logged.is_ok()) {
      reactor->Finish(to_grpc(logged));
      return reactor;
    }
    const int64_t as_of = request->as_of_ms() ? request->as_of_ms() : Node::now_ms();
    auto answer = [this, reactor, response, caller, as_of, started, subject = request->subject(),
                   at_height = request->at_height()] {
      auto status = node_.ledger().status(subject, as_of, at_height);
      if (!status.is_ok()) {
        reactor->Finish(to_grpc(status.status()));
        return;
      }
      *response = std::move(status).value();
      present(caller, *response);
      node_.metrics().query_latency.observe_us(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                started)
              .count()));
      reactor->Finish(Status::OK);
    };
    v1::StatusRequest forwarded = *request;
    forwarded.set_as_of_ms(as_of);  // the leader answers for the same instant
    answer_with_consistency(
        node_, reactor, request->consistency(), std::move(forwarded), response, answer,
        [](auto channel, auto* ctx, auto* req, auto* resp, auto cb) {
          v1::QueryService::NewStub(channel)->async()->GetSubjectStatus(ctx, req, resp,
                                                                        std::move(cb));
        },
        [caller](v1::SubjectStatus& r) { present(caller, r); });
    return reactor;
  }

  ServerUnaryReactor* CheckSubjects(CallbackServerContext* context, const v1::CheckRequest* request,
                                    v1::CheckResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    const Status s =
        check_subjects(caller, *request, node_.config().limits.max_subjects_per_check);
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    if (Status s = check_read_args(request->as_of_ms(), request->consistency()); !s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    for (const auto& subject : request->subjects()) {
      if (auto logged = node_.record_access(caller, "CheckSubjects", subject); !logged.is_ok()) {
        reactor->Finish(to_grpc(logged));
        return reactor;
      }
    }
    const int64_t as_of = request->as_of_ms() ? request->as_of_ms() : Node::now_ms();
    auto answer = [this, reactor, response, caller, as_of, request] {
      // The answer is one gRPC message: it must fit the bound every message keeps (leaving the
      // envelope), or the caller gets nothing but a transport error.
      const uint64_t answer_bytes_max =
          node_.config().limits.grpc_max_message_bytes - kMessageEnvelopeBytes;
      uint64_t answer_bytes = 0;
      for (const auto& subject : request->subjects()) {
        auto status = node_.ledger().status(subject, as_of, request->at_height());
        if (!status.is_ok()) return reactor->Finish(to_grpc(status.status()));
        v1::SubjectStatus* out = response->add_statuses();
        *out = std::move(status).value();
        present(caller, *out);
        // Each repeated element costs its bytes plus a tag and a length of at most 6 bytes.
        answer_bytes += out->ByteSizeLong() + 6;
        if (answer_bytes > answer_bytes_max) {
          return reactor->Finish(Status(
              StatusCode::RESOURCE_EXHAUSTED,
              "the statuses of these " + std::to_string(request->subjects_size()) +
                  " subjects exceed " + std::to_string(answer_bytes_max) +
                  " bytes, the most one answer may hold; ask about fewer subjects per call"));
        }
      }
      reactor->Finish(Status::OK);
    };
    v1::CheckRequest forwarded = *request;
    forwarded.set_as_of_ms(as_of);
    answer_with_consistency(
        node_, reactor, request->consistency(), std::move(forwarded), response, answer,
        [](auto channel, auto* ctx, auto* req, auto* resp, auto cb) {
          v1::QueryService::NewStub(channel)->async()->CheckSubjects(ctx, req, resp,
                                                                     std::move(cb));
        },
        [caller](v1::CheckResponse& r) {
          for (auto& s : *r.mutable_statuses()) present(caller, s);
        });
    return reactor;
  }

  ServerUnaryReactor* ListBlacklist(CallbackServerContext* context,
                                    const v1::BlacklistRequest* request,
                                    v1::BlacklistResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    uint32_t size = 0;
    const Status s = check_blacklist(*request, &size);
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    const int64_t as_of = request->as_of_ms() ? request->as_of_ms() : Node::now_ms();
    auto page = node_.ledger().blacklist(request->sector(), as_of, request->page_token(), size,
                                         request->at_height());
    if (!page.is_ok()) {
      reactor->Finish(to_grpc(page.status()));
      return reactor;
    }
    for (auto& e : page->entries) {
      // Entries about individuals are not published; authorized roles see them.
      if (is_individual(e.subject()) && !authorize_subject(caller, e.subject()).ok()) continue;
      if (caller.role == Role::kPublic) redact_entry_for_public(e);
      *response->add_entries() = std::move(e);
    }
    if (caller.role == Role::kPublic) {
      for (const char* field : kUndisclosedEntryFields) {
        response->add_undisclosed_fields(std::string("entries.") + field);
      }
    }
    response->set_next_page_token(page->next_page_token);
    reactor->Finish(Status::OK);
    return reactor;
  }

  ServerUnaryReactor* GetHistory(CallbackServerContext* context, const v1::HistoryRequest* request,
                                 v1::HistoryResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    uint32_t size = 0;
    const Status s = check_history(caller, *request, &size);
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    if (auto logged = node_.record_access(caller, "GetHistory", request->subject());
        !logged.is_ok()) {
      reactor->Finish(to_grpc(logged));
      return reactor;
    }
    auto page = node_.ledger().history(request->subject(), request->page_token(), size,
                                       request->at_height());
    if (!page.is_ok()) {
      reactor->Finish(to_grpc(page.status()));
      return reactor;
    }
    for (auto& e : page->entries) *response->add_entries() = std::move(e);
    response->set_next_page_token(page->next_page_token);
    reactor->Finish(Status::OK);
    return reactor;
  }

  ServerUnaryReactor* GetEvent(CallbackServerContext* context, const v1::GetEventRequest* request,
                               v1::EventResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    const Status s = check_get_event(caller, *request);
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    auto record = node_.ledger().event(request->event_id());
    if (!record.is_ok()) {
      reactor->Finish(to_grpc(record.status()));
      return reactor;
    }
    if (record->entry) {
      Status s = authorize_subject(caller, record->entry->subject());
      if (!s.ok()) {
        reactor->Finish(s);
        return reactor;
      }
      if (auto logged = node_.record_access(caller, "GetEvent", record->entry->subject());
          !logged.is_ok()) {
        reactor->Finish(to_grpc(logged));
        return reactor;
      }
      *response->mutable_entry() = *record->entry;
    }
    *response->mutable_event() = record->signed_event;
    *response->mutable_receipt() = record->location.receipt();
    response->set_height(record->location.height());
    response->set_index(record->location.index());
    reactor->Finish(Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<v1::SubjectStatus>* WatchSubject(
      CallbackServerContext* context, const v1::WatchRequest* request) override {
    const Caller caller = node_.caller_of(*context);
    const Status s = admit_subject(caller, request->subject());
    if (!s.ok()) return new RefuseStream<v1::SubjectStatus>(s);
    if (auto logged = node_.record_access(caller, "WatchSubject", request->subject());
        !logged.is_ok()) {
      return new RefuseStream<v1::SubjectStatus>(to_grpc(logged));
    }
    return new WatchReactor(node_, caller, request->subject());
  }

 private:
  Node& node_;
};

// ---------------------------------------------------------------------------------------------

class BlocksReactor final : public grpc::ServerWriteReactor<v1::Block> {
 public:
  BlocksReactor(const ledger::Ledger& ledger, Metrics& metrics, uint64_t from, uint64_t to)
      : ledger_(ledger), metrics_(metrics), next_(from), to_(to) {
    base::TsanReaction reaction(this);
    write_next();
  }
  void OnWriteDone(bool ok) override {
    base::TsanReaction reaction(this);
    if (!ok) return Finish(Status::CANCELLED);
    write_next();
  }
  void OnDone() override {
    base::tsan_acquire(this);
    delete this;
  }

 private:
  void write_next() {
    if (next_ > to_) return Finish(Status::OK);
    auto block = ledger_.block(next_);
    if (!block.is_ok()) return Finish(to_grpc(block.status()));
    current_ = std::move(block).value();
    metrics_.observe_message_bytes(Metrics::Path::kBlocks, current_.ByteSizeLong());
    ++next_;
    base::tsan_release(this);  // the next OnWriteDone may start before this one returns
    StartWrite(&current_);
  }
  const ledger::Ledger& ledger_;
  Metrics& metrics_;
  uint64_t next_;
  uint64_t to_;
  v1::Block current_;
};

class AuditServiceImpl final : public v1::AuditService::CallbackService {
 public:
  explicit AuditServiceImpl(Node& node) : node_(node) {}

  grpc::ServerWriteReactor<v1::Block>* GetBlocks(CallbackServerContext* context,
                                                 const v1::GetBlocksRequest* request) override {
    const Caller caller = node_.caller_of(*context);
    uint64_t to = 0;
    Status s = check_get_blocks(caller, *request, node_.ledger().head().height(), &to);
    if (s.ok()) s = node_.refuse_if_damaged(request->from_height(), to);  // known damage first
    if (!s.ok()) {
      return new RefuseStream<v1::Block>(s);
    }
    return new BlocksReactor(node_.ledger(), node_.metrics(), request->from_height(), to);
  }

  ServerUnaryReactor* GetCheckpoint(CallbackServerContext* context,
                                    const v1::GetCheckpointRequest* request,
                                    v1::CheckpointResponse* response) override {
    auto* reactor = context->DefaultReactor();
    // Checkpoints are public: anyone may hold the ledger to what a quorum signed.
    auto checkpoint = node_.checkpoint(request->height());
    if (!checkpoint.is_ok()) {
      reactor->Finish(to_grpc(checkpoint.status()));
      return reactor;
    }
    const ledger::QuorumReport report = ledger::verify_cosignatures(node_.consortium(), *checkpoint);
    *response->mutable_checkpoint() = checkpoint->checkpoint;
    response->set_note(checkpoint->text());
    for (const auto& agency : report.signer_agencies) response->add_signer_agencies(agency);
    response->set_quorum(report.trusted());
    reactor->Finish(Status::OK);
    return reactor;
  }

  ServerUnaryReactor* GetInclusionProof(CallbackServerContext* context,
                                        const v1::InclusionProofRequest* request,
                                        v1::InclusionProofResponse* response) override {
    auto* reactor = context->DefaultReactor();
    // The leaf is the whole signed event: only callers who may read events get it.
    const Caller caller = node_.caller_of(*context);
    if (const Status s = check_inclusion_proof(caller); !s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    // A proof combines Merkle nodes of any height: none while some are known damaged.
    if (Status damaged = node_.refuse_if_damaged(0, UINT64_MAX); !damaged.ok()) {
      reactor->Finish(damaged);
      return reactor;
    }
    const bool by_size = request->tree_size() != 0;
    base::Result<ledger::CosignedCheckpoint> checkpoint =
        by_size ? base::Result<ledger::CosignedCheckpoint>(ledger::CosignedCheckpoint{})
                : node_.checkpoint(request->checkpoint_height());
    if (!checkpoint.is_ok()) {
      reactor->Finish(to_grpc(checkpoint.status()));
      return reactor;
    }
    uint64_t sequence = request->leaf_index();
    if (!request->event_id().empty()) {
      auto record = node_.ledger().event(request->event_id());
      if (!record.is_ok()) {
        reactor->Finish(to_grpc(record.status()));
        return reactor;
      }
      if (!record->location.receipt().accepted()) {
        reactor->Finish(Status(StatusCode::FAILED_PRECONDITION,
                               "event '" + request->event_id() +
                                   "' was rejected; only accepted events are Merkle leaves"));
        return reactor;
      }
      // The entry, if any, says whose data this is; individuals' events need a role for them.
      if (record->entry) {
        Status s = authorize_subject(caller, record->entry->subject());
        if (!s.ok()) {
          reactor->Finish(s);
          return reactor;
        }
      }
      sequence = record->location.receipt().sequence();
    }
    if (by_size) {
      Status s = prove_inclusion_at_size(sequence, request->tree_size(), response);
      reactor->Finish(s);
      return reactor;
    }
    auto proof = ledger::make_inclusion_proof(node_.ledger(), sequence, *checkpoint);
    if (!proof.is_ok()) {
      reactor->Finish(to_grpc(proof.status()));
      return reactor;
    }
    response->set_root_hash(checkpoint->checkpoint.root_hash());
    response->set_leaf_index(proof->leaf_index);
    response->set_tree_size(proof->tree_size);
    response->set_leaf_data(proof->leaf_data);
    for (const auto& h : proof->path) response->add_path(ledger::to_string(h));
    response->set_checkpoint_note(checkpoint->text());
    reactor->Finish(Status::OK);
    return reactor;
  }

  ServerUnaryReactor* GetConsistencyProof(CallbackServerContext* context,
                                          const v1::ConsistencyProofRequest* request,
                                          v1::ConsistencyProofResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (Status damaged = node_.refuse_if_damaged(0, UINT64_MAX); !damaged.ok()) {
      reactor->Finish(damaged);
      return reactor;
    }
    if (request->old_size() != 0) {
      reactor->Finish(prove_consistency_of_sizes(request->old_size(), request->new_size(), response));
      return reactor;
    }
    auto older = node_.checkpoint(request->old_height());
    auto newer = node_.checkpoint(request->new_height());
    if (request->old_height() == 0 || !older.is_ok() || !newer.is_ok()) {
      reactor->Finish(request->old_height() == 0
                          ? Status(StatusCode::INVALID_ARGUMENT, "name the old checkpoint's height")
                          : to_grpc(!older.is_ok() ? older.status() : newer.status()));
      return reactor;
    }
    auto proof = ledger::make_consistency_proof(node_.ledger(), *older, *newer);
    if (!proof.is_ok()) {
      reactor->Finish(to_grpc(proof.status()));
      return reactor;
    }
    response->set_old_size(proof->old_size);
    response->set_new_size(proof->new_size);
    for (const auto& h : proof->path) response->add_path(ledger::to_string(h));
    response->set_old_checkpoint_note(older->text());
    response->set_new_checkpoint_note(newer->text());
    response->set_old_root(older->checkpoint.root_hash());
    response->set_new_root(newer->checkpoint.root_hash());
    reactor->Finish(Status::OK);
    return reactor;
  }

 private:
  // RFC 6962 proofs against plain tree sizes (no checkpoint): the caller gets the roots too and
  // must decide for itself whether it trusts them.
  Status prove_inclusion_at_size(uint64_t sequence, uint64_t tree_size,
                                 v1::InclusionProofResponse* response) {
    const uint64_t current = node_.ledger().head().tree_size();
    if (Status s = check_tree_size("tree_size", tree_size, current); !s.ok()) return s;
    auto path = ledger::merkle_inclusion_proof(node_.ledger().merkle(), sequence, tree_size);
    if (!path.is_ok()) return to_grpc(path.status());
    auto root = ledger::merkle_root(node_.ledger().merkle(), tree_size);
    if (!root.is_ok()) return to_grpc(root.status());
    auto event = node_.ledger().event_at_sequence(sequence);
    if (!event.is_ok()) return to_grpc(event.status());
    response->set_leaf_index(sequence);
    response->set_tree_size(tree_size);
    response->set_leaf_data(ledger::event_leaf_data(*event));
    for (const auto& h : *path) response->add_path(ledger::to_string(h));
    response->set_root_hash(ledger::to_string(*root));
    return Status::OK;
  }

  Status prove_consistency_of_sizes(uint64_t old_size, uint64_t new_size,
                                    v1::ConsistencyProofResponse* response) {
    const uint64_t current = node_.ledger().head().tree_size();
    if (new_size == 0) new_size = current;
    if (Status s = check_tree_size("new_size", new_size, current); !s.ok()) return s;
    auto path = ledger::merkle_consistency_proof(node_.ledger().merkle(), old_size, new_size);
    if (!path.is_ok()) return to_grpc(path.status());
    auto old_root = ledger::merkle_root(node_.ledger().merkle(), old_size);
    auto new_root = ledger::merkle_root(node_.ledger().merkle(), new_size);
    if (!old_root.is_ok() || !new_root.is_ok()) {
      return to_grpc(!old_root.is_ok() ? old_root.status() : new_root.status());
    }
    response->set_old_size(old_size);
    response->set_new_size(new_size);
    for (const auto& h : *path) response->add_path(ledger::to_string(h));
    response->set_old_root(ledger::to_string(*old_root));
    response->set_new_root(ledger::to_string(*new_root));
    return Status::OK;
  }

 public:

  ServerUnaryReactor* GetAccessLog(CallbackServerContext* context,
                                   const v1::AccessLogRequest* request,
                                   v1::AccessLogResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    uint32_t limit = 0;
    if (const Status s = check_access_log(caller, *request, &limit); !s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    // Nothing comes after the last sequence number (and after + 1 would wrap to the start).
    if (request->after_sequence() == std::numeric_limits<uint64_t>::max()) {
      reactor->Finish(Status::OK);
      return reactor;
    }
    auto records = node_.access_log(request->after_sequence(), limit);
    if (!records.is_ok()) {
      reactor->Finish(to_grpc(records.status()));
      return reactor;
    }
    for (auto& r : *records) *response->add_records() = std::move(r);
    reactor->Finish(Status::OK);
    return reactor;
  }

 private:
  Node& node_;
};

// ---------------------------------------------------------------------------------------------

class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  explicit AdminServiceImpl(Node& node) : node_(node) {}

  ServerUnaryReactor* ClusterStatus(CallbackServerContext* context,
                                    const v1::ClusterStatusRequest* request,
                                    v1::ClusterStatusResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (!allowed(*context, reactor)) return reactor;
    node_.cluster_status([reactor, response](v1::ClusterStatusResponse r) {
      *response = std::move(r);
      reactor->Finish(Status::OK);
    });
    return reactor;
  }

  ServerUnaryReactor* AddMember(CallbackServerContext* context, const v1::MemberRequest* request,
                                v1::AdminResponse* response) override {
    return member_op(context, request, response, Node::AdminOp::kAddLearner,
                     [](auto stub, auto* ctx, auto* req, auto* resp, auto cb) {
                       stub->async()->AddMember(ctx, req, resp, std::move(cb));
                     });
  }
  ServerUnaryReactor* PromoteMember(CallbackServerContext* context,
                                    const v1::MemberRequest* request,
                                    v1::AdminResponse* response) override {
    return member_op(context, request, response, Node::AdminOp::kPromote,
                     [](auto stub, auto* ctx, auto* req, auto* resp, auto cb) {
                       stub->async()->PromoteMember(ctx, req, resp, std::move(cb));
                     });
  }
  ServerUnaryReactor* RemoveMember(CallbackServerContext* context, const v1::MemberRequest* request,
                                   v1::AdminResponse* response) override {
    return member_op(context, request, response, Node::AdminOp::kRemove,
                     [](auto stub, auto* ctx, auto* req, auto* resp, auto cb) {
                       stub->async()->RemoveMember(ctx, req, resp, std::move(cb));
                     });
  }

  ServerUnaryReactor* TransferLeadership(CallbackServerContext* context,
                                         const v1::TransferRequest* request,
                                         v1::AdminResponse* response) override {
    v1::MemberRequest as_member;
    as_member.set_id(request->to());
    auto* reactor = context->DefaultReactor();
    if (!allowed(*context, reactor)) return reactor;
    run(reactor, response, Node::AdminOp::kTransfer, as_member, [this, reactor, response, request] {
      forward_to_leader(
          node_, reactor, *request, response,
          [](auto channel, auto* ctx, auto* req, auto* resp, auto cb) {
            v1::AdminService::NewStub(channel)->async()->TransferLeadership(ctx, req, resp,
                                                                            std::move(cb));
          },
          [](v1::AdminResponse&) {});
    });
    return reactor;
  }

  ServerUnaryReactor* Compact(CallbackServerContext* context, const v1::CompactRequest* request,
                              v1::AdminResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (!allowed(*context, reactor)) return reactor;
    run(reactor, response, Node::AdminOp::kCompact, {}, [] {});
    return reactor;
  }

  ServerUnaryReactor* VerifyStorage(CallbackServerContext* context,
                                    const v1::VerifyStorageRequest* request,
                                    v1::VerifyStorageResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (!allowed(*context, reactor)) return reactor;
    uint64_t to = 0;
    const Status range = check_height_range(request->from_height(), request->to_height(),
                                            node_.ledger().head().height(), &to);
    if (!range.ok()) {
      reactor->Finish(range);
      return reactor;
    }
    node_.verify_storage(request->from_height(), to,
                         [this, reactor, response](base::Result<std::vector<ledger::Damage>> r) {
                           if (!r.is_ok()) return reactor->Finish(to_grpc(r.status()));
                           response->set_head_height(node_.ledger().head().height());
                           for (const ledger::Damage& d : *r) {
                             v1::StorageDamage* out = response->add_damages();
                             out->set_height(d.height);
                             out->set_block(d.block);
                             out->set_reason(d.reason);
                           }
                           response->set_repair_started(!r->empty());
                           reactor->Finish(Status::OK);
                         });
    return reactor;
  }

 private:
  bool allowed(CallbackServerContext& context, ServerUnaryReactor* reactor) {
    const Status s = check_admin(node_.caller_of(context));
    if (s.ok()) return true;
    reactor->Finish(s);
    return false;
  }

  template <typename Forward>
  void run(ServerUnaryReactor* reactor, v1::AdminResponse* response, Node::AdminOp op,
           const v1::MemberRequest& request, Forward forward) {
    node_.admin(op, request.id(), request.address(),
                [reactor, response, forward](const base::Status& s, std::string message) {
                  if (s.code() == base::Code::kNotLeader) return forward();
                  if (!s.is_ok()) return reactor->Finish(to_grpc(s));
                  response->set_message(std::move(message));
                  reactor->Finish(Status::OK);
                });
  }

  template <typename Invoke>
  ServerUnaryReactor* member_op(CallbackServerContext* context, const v1::MemberRequest* request,
                                v1::AdminResponse* response, Node::AdminOp op, Invoke invoke) {
    auto* reactor = context->DefaultReactor();
    if (!allowed(*context, reactor)) return reactor;
    if (const Status s = check_member(*request); !s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    run(reactor, response, op, *request, [this, reactor, response, request, invoke] {
      forward_to_leader(
          node_, reactor, *request, response,
          [invoke](auto channel, auto* ctx, auto* req, auto* resp, auto cb) {
            invoke(v1::AdminService::NewStub(channel), ctx, req, resp, std::move(cb));
          },
          [](v1::AdminResponse&) {});
    });
    return reactor;
  }

  Node& node_;
};

// ---------------------------------------------------------------------------------------------

class RaftStreamReactor final : public grpc::ServerReadReactor<v1::RaftBatch> {
 public:
  RaftStreamReactor(Node& node, bool allowed) : node_(node) {
    base::TsanReaction reaction(this);
    if (!allowed) {
      Finish(Status(StatusCode::PERMISSION_DENIED, "raft messages need a node certificate"));
      return;
    }
    StartRead(&batch_);
  }
  void OnReadDone(bool ok) override {
    base::TsanReaction reaction(this);
    if (!ok) return Finish(Status::OK);
    std::vector<base::Status> dropped;
    std::vector<consensus::Message> messages = decode_raft_batch(batch_, &dropped);
    if (!dropped.empty()) {
      // Peers run the same code: a message it cannot decode means the sender is not a
      // well-behaved peer, so the stream ends and says why instead of dropping silently.
      spdlog::warn("refusing a raft stream with a malformed message: {}", dropped[0].message());
      return Finish(Status(StatusCode::INVALID_ARGUMENT,
                           "raft message in the batch: " + dropped[0].message()));
    }
    if (!messages.empty()) node_.deliver(std::move(messages));
    base::tsan_release(this);  // the next OnReadDone may start before this one returns
    StartRead(&batch_);
  }
  void OnDone() override {
    base::tsan_acquire(this);
    delete this;
  }

 private:
  Node& node_;
  v1::RaftBatch batch_;
};

class PeerServiceImpl final : public v1::PeerService::CallbackService {
 public:
  explicit PeerServiceImpl(Node& node) : node_(node) {}

  grpc::ServerReadReactor<v1::RaftBatch>* Raft(CallbackServerContext* context,
                                               v1::PeerAck* response) override {
    return new RaftStreamReactor(node_, node_.caller_of(*context).role == Role::kNode);
  }

  ServerUnaryReactor* CatchUp(CallbackServerContext* context, const v1::CatchUpRequest* request,
                              v1::CatchUpResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    if (caller.role != Role::kNode) {
      reactor->Finish(Status(StatusCode::PERMISSION_DENIED, "catch-up needs a node certificate"));
      return reactor;
    }
    // The leader asks for itself (start_catch_up names its own id): a node may not send this
    // one to sync from a third node, nor from itself.
    if (caller.name != std::to_string(request->leader_id()) ||
        request->leader_id() == node_.config().node_id) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT,
                             "leader_id " + std::to_string(request->leader_id()) +
                                 " must be the asking node (" + caller.to_string() +
                                 ") and not this one"));
      return reactor;
    }
    if (request->index() == 0 || request->term() == 0) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT,
                             "a catch-up names the leader's compaction point (index and term > 0)"));
      return reactor;
    }
    node_.catch_up(*request, [reactor, response](v1::CatchUpResponse r) {
      *response = std::move(r);
      reactor->Finish(Status::OK);
    });
    return reactor;
  }

  ServerUnaryReactor* ShareCheckpoint(CallbackServerContext* context,
                                      const v1::ShareCheckpointRequest* request,
                                      v1::ShareCheckpointResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (node_.caller_of(*context).role != Role::kNode) {
      reactor->Finish(
          Status(StatusCode::PERMISSION_DENIED, "sharing checkpoints needs a node certificate"));
      return reactor;
    }
    if (request->note().size() > ledger::kNoteBytesMax) {
      reactor->Finish(Status(StatusCode::RESOURCE_EXHAUSTED,
                             "a checkpoint note is at most " +
                                 std::to_string(ledger::kNoteBytesMax) + " bytes"));
      return reactor;
    }
    node_.learn_checkpoint(request->note(), [reactor, response](base::Result<bool> stored) {
      if (!stored.is_ok()) return reactor->Finish(to_grpc(stored.status()));
      response->set_stored(*stored);
      reactor->Finish(Status::OK);
    });
    return reactor;
  }

  ServerUnaryReactor* Cosign(CallbackServerContext* context, const v1::CosignRequest* request,
                             v1::CosignResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (node_.caller_of(*context).role != Role::kNode) {
      reactor->Finish(Status(StatusCode::PERMISSION_DENIED, "cosigning needs a node certificate"));
      return reactor;
    }
    auto answer = node_.cosign_peer_checkpoint(request->height(), request->body());
    if (!answer.is_ok()) {
      reactor->Finish(to_grpc(answer.status()));
      return reactor;
    }
    *response = std::move(answer).value();
    reactor->Finish(Status::OK);
    return reactor;
  }

 private:
  Node& node_;
};

// ---------------------------------------------------------------------------------------------

// See make_status_interceptors() in services.h. One per call; gRPC runs it on the call's thread.
class StatusInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit StatusInterceptor(const grpc::experimental::ServerRpcInfo& info)
      : method_(info.method() ? info.method() : "") {
    base::tsan_release(this);
  }
  // gRPC creates, runs and destroys it on whichever threads the call's steps happen on.
  ~StatusInterceptor() override { base::tsan_acquire(this); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    base::TsanReaction reaction(this);
    // A request that arrived but did not parse reaches the interceptors as no message. (So does
    // the end of a client stream; the status check below tells the two apart.)
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsed_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const Status status = methods->GetSendStatus();
      if (unparsed_request(status)) {
        methods->ModifySendStatus(Status(
            StatusCode::INVALID_ARGUMENT,
            "the request to " + method_ + " is not a valid " + request_type() +
                " message (its bytes do not parse as protobuf)"));
      } else if (status.error_message().size() > kStatusMessageBytesMax) {
        const std::string& message = status.error_message();
        methods->ModifySendStatus(
            Status(status.error_code(),
                   message.substr(0, kStatusMessageBytesMax) + "... (" +
                       std::to_string(message.size() - kStatusMessageBytesMax) + " bytes cut)",
                   status.error_details()));
      }
    }
    methods->Proceed();
  }

 private:
  // gRPC answers a request that does not parse with UNIMPLEMENTED (callback handlers) or
  // INTERNAL (synchronous ones) and no message; its health service parses by itself and
  // answers INTERNAL (Watch) or INVALID_ARGUMENT (Check) "could not parse request". Our handlers
  // never answer UNIMPLEMENTED, and their INTERNAL answers always say what failed.
  bool unparsed_request(const Status& status) const {
    if (status.error_message() == "could not parse request") {
      return status.error_code() == StatusCode::INTERNAL ||
             status.error_code() == StatusCode::INVALID_ARGUMENT;
    }
    if (!status.error_message().empty()) return false;
    if (status.error_code() == StatusCode::UNIMPLEMENTED) return unparsed_ || method_known();
    return status.error_code() == StatusCode::INTERNAL && unparsed_;
  }

  // "/credledger.v1.QueryService/GetEvent" -> its descriptor, if it is one of ours.
  const google::protobuf::MethodDescriptor* descriptor() const {
    const size_t slash = method_.rfind('/');
    if (method_.empty() || method_[0] != '/' || slash == 0 || slash == std::string::npos) {
      return nullptr;
    }
    const std::string full_name =
        method_.substr(1, slash - 1) + "." + method_.substr(slash + 1);
    return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full_name);
  }
  bool method_known() const { return descriptor() != nullptr; }
  std::string request_type() const {
    if (method_.rfind("/grpc.health.v1.Health/", 0) == 0) return "grpc.health.v1.HealthCheckRequest";
    const auto* method = descriptor();
    return method ? method->input_type()->full_name() : std::string("request");
  }

  std::string method_;
  bool unparsed_ = false;
};

class StatusInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new StatusInterceptor(*info);
  }
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
make_status_interceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<StatusInterceptorFactory>());
  return out;
}

std::vector<std::unique_ptr<grpc::Service>> make_services(Node& node) {
  std::vector<std::unique_ptr<grpc::Service>> out;
  out.push_back(std::make_unique<LedgerServiceImpl>(node));
  out.push_back(std::make_unique<QueryServiceImpl>(node));
  out.push_back(std::make_unique<AuditServiceImpl>(node));
  out.push_back(std::make_unique<AdminServiceImpl>(node));
  out.push_back(std::make_unique<PeerServiceImpl>(node));
  return out;
}

}  // namespace node
