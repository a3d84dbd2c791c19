#include "node/services.h"

#include <spdlog/spdlog.h>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/merkle.h"
#include "ledger/validation.h"
#include "node/node.h"

namespace node {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;
using grpc::Status;
using grpc::StatusCode;

Status to_grpc(const base::Status& s) {
  if (s.is_ok()) return Status::OK;
  StatusCode code = StatusCode::INTERNAL;
  switch (s.code()) {
    case base::Code::kOk: code = StatusCode::OK; break;
    case base::Code::kNotFound: code = StatusCode::NOT_FOUND; break;
    case base::Code::kInvalidArgument: code = StatusCode::INVALID_ARGUMENT; break;
    case base::Code::kCorruption: code = StatusCode::DATA_LOSS; break;
    case base::Code::kIOError: code = StatusCode::INTERNAL; break;
    case base::Code::kNotLeader: code = StatusCode::UNAVAILABLE; break;
    case base::Code::kBusy: code = StatusCode::RESOURCE_EXHAUSTED; break;
    case base::Code::kUnavailable: code = StatusCode::UNAVAILABLE; break;
  }
  return Status(code, s.message());
}

bool is_individual(const v1::Subject& s) {
  return s.kind() == v1::INDIVIDUAL || s.kind() == v1::PROFESSIONAL;
}

Status permission_denied(const Caller& caller, const std::string& what) {
  return Status(StatusCode::PERMISSION_DENIED,
                "caller " + caller.to_string() + " may not " + what);
}

// Who may read about a subject. Data about individuals needs an authorized role (and is
// access-logged by the caller of this function).
Status authorize_subject(const Caller& caller, const v1::Subject& subject) {
  if (!is_individual(subject)) return Status::OK;
  switch (caller.role) {
    case Role::kAgency:
    case Role::kAuditor:
    case Role::kRelyingParty:
    case Role::kNode:
      return Status::OK;
    default:
      return permission_denied(caller, "query individuals (needs an agency, auditor or "
                                       "relying-party certificate)");
  }
}

Status check_subject_arg(const v1::Subject& subject) {
  if (auto bad = ledger::check_subject(subject)) {
    return Status(StatusCode::INVALID_ARGUMENT, bad->message);
  }
  return Status::OK;
}

// A valid subject this caller may read about.
Status admit_subject(const Caller& caller, const v1::Subject& subject) {
  Status s = check_subject_arg(subject);
  return s.ok() ? authorize_subject(caller, subject) : s;
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
  for (v1::ViewEntry& e : *s.mutable_blacklist_entries()) {
    e.clear_summary();
    e.clear_disputes();
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
  add_node_identity(call->context, node);
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // Ride out a moment of TRANSIENT_FAILURE on the peer channel instead of failing the caller.
  call->context.set_wait_for_ready(true);
  invoke(channel, &call->context, &call->request, response,
         [call, reactor, post, response](Status status) {
           if (status.ok()) post(*response);
           reactor->Finish(status);
         });
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
    if (caller.role != Role::kAgency && caller.role != Role::kNode) {
      reactor->Finish(permission_denied(caller, "submit events (needs an agency certificate)"));
      return reactor;
    }
    if (request->events_size() == 0) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT, "no events in the request"));
      return reactor;
    }
    // A node whose disk is full takes no new work (it could not persist it), at once.
    if (Status refused = node_.refuse_writes_if_degraded(); !refused.ok()) {
      reactor->Finish(refused);
      return reactor;
    }
    if (static_cast<uint64_t>(request->events_size()) > node_.config().limits.max_events_per_submit) {
      reactor->Finish(Status(StatusCode::RESOURCE_EXHAUSTED,
                             "at most " + std::to_string(node_.config().limits.max_events_per_submit) +
                                 " events per Submit; got " + std::to_string(request->events_size())));
      return reactor;
    }
    // An agency submits only what its own keys signed (the signature is checked later).
    if (caller.role == Role::kAgency) {
      for (int i = 0; i < request->events_size(); ++i) {
        const auto* key = node_.consortium().find_key(request->events(i).key_id());
        if (key != nullptr && key->agency->id() != caller.name) {
          reactor->Finish(permission_denied(
              caller, "submit event " + std::to_string(i) + " signed with a key of agency '" +
                          key->agency->id() + "'"));
          return reactor;
        }
      }
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

class WatchReactor final : public grpc::ServerWriteReactor<v1::SubjectStatus>,
                           public SubjectWatcher {
 public:
  WatchReactor(Node& node, Caller caller, v1::Subject subject)
      : node_(node), caller_(std::move(caller)), subject_(std::move(subject)) {
    if (!node_.add_watcher(subject_, this)) {
      Finish(Status(StatusCode::RESOURCE_EXHAUSTED, "too many watchers on this node"));
      registered_ = false;
      return;
    }
    changed();
  }

  void changed() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    if (writing_) {
      dirty_ = true;  // coalesce: the next write sends the latest status
      return;
    }
    write_locked();
  }

  void OnWriteDone(bool ok) override {
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
    std::lock_guard<std::mutex> lock(mu_);
    finish_locked(Status::CANCELLED);
  }

  void OnDone() override {
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
    const Status s = admit_subject(caller, request->subject());
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
    auto answer = [this, reactor, response, caller, as_of, started, subject = request->subject()] {
      auto status = node_.ledger().status(subject, as_of);
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
    const uint64_t max = node_.config().limits.max_subjects_per_check;
    if (request->subjects_size() == 0 || static_cast<uint64_t>(request->subjects_size()) > max) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT,
                             "CheckSubjects takes 1 to " + std::to_string(max) + " subjects; got " +
                                 std::to_string(request->subjects_size())));
      return reactor;
    }
    for (int i = 0; i < request->subjects_size(); ++i) {
      const Status s = admit_subject(caller, request->subjects(i));
      if (!s.ok()) {
        reactor->Finish(Status(s.error_code(), "subject " + std::to_string(i) + ": " +
                                                   s.error_message()));
        return reactor;
      }
    }
    for (const auto& subject : request->subjects()) {
      if (auto logged = node_.record_access(caller, "CheckSubjects", subject); !logged.is_ok()) {
        reactor->Finish(to_grpc(logged));
        return reactor;
      }
    }
    const int64_t as_of = request->as_of_ms() ? request->as_of_ms() : Node::now_ms();
    auto answer = [this, reactor, response, caller, as_of, request] {
      for (const auto& subject : request->subjects()) {
        auto status = node_.ledger().status(subject, as_of);
        if (!status.is_ok()) return reactor->Finish(to_grpc(status.status()));
        v1::SubjectStatus* out = response->add_statuses();
        *out = std::move(status).value();
        present(caller, *out);
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
    if (request->sector() == v1::SECTOR_UNSPECIFIED || !v1::Sector_IsValid(request->sector())) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT, "name a sector"));
      return reactor;
    }
    const uint32_t size = request->page_size() == 0 ? 100 : request->page_size();
    if (size > 1000) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT, "page_size is at most 1000"));
      return reactor;
    }
    const int64_t as_of = request->as_of_ms() ? request->as_of_ms() : Node::now_ms();
    auto page = node_.ledger().blacklist(request->sector(), as_of, request->page_token(), size);
    if (!page.is_ok()) {
      reactor->Finish(to_grpc(page.status()));
      return reactor;
    }
    for (auto& e : page->entries) {
      // Entries about individuals are not published; authorized roles see them.
      if (is_individual(e.subject()) && !authorize_subject(caller, e.subject()).ok()) continue;
      if (caller.role == Role::kPublic) {
        e.clear_summary();
        e.clear_disputes();
      }
      *response->add_entries() = std::move(e);
    }
    response->set_next_page_token(page->next_page_token);
    reactor->Finish(Status::OK);
    return reactor;
  }

  ServerUnaryReactor* GetHistory(CallbackServerContext* context, const v1::HistoryRequest* request,
                                 v1::HistoryResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const Caller caller = node_.caller_of(*context);
    if (caller.role == Role::kPublic) {
      reactor->Finish(permission_denied(caller, "read histories (public callers see status and "
                                                "blacklists)"));
      return reactor;
    }
    const Status s = admit_subject(caller, request->subject());
    if (!s.ok()) {
      reactor->Finish(s);
      return reactor;
    }
    if (auto logged = node_.record_access(caller, "GetHistory", request->subject());
        !logged.is_ok()) {
      reactor->Finish(to_grpc(logged));
      return reactor;
    }
    const uint32_t size = request->page_size() == 0 ? 100 : std::min(request->page_size(), 1000u);
    auto page = node_.ledger().history(request->subject(), request->page_token(), size);
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
    if (caller.role == Role::kPublic) {
      reactor->Finish(permission_denied(caller, "read events (public callers see status and "
                                                "blacklists)"));
      return reactor;
    }
    if (request->event_id().empty()) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT, "event_id is empty"));
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
    class Refuse final : public grpc::ServerWriteReactor<v1::SubjectStatus> {
     public:
      explicit Refuse(Status s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    const Status s = admit_subject(caller, request->subject());
    if (!s.ok()) return new Refuse(s);
    if (auto logged = node_.record_access(caller, "WatchSubject", request->subject());
        !logged.is_ok()) {
      return new Refuse(to_grpc(logged));
    }
    return new WatchReactor(node_, caller, request->subject());
  }

 private:
  Node& node_;
};

// ---------------------------------------------------------------------------------------------

class BlocksReactor final : public grpc::ServerWriteReactor<v1::Block> {
 public:
  BlocksReactor(const ledger::Ledger& ledger, uint64_t from, uint64_t to)
      : ledger_(ledger), next_(from), to_(to) {
    write_next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(Status::CANCELLED);
    write_next();
  }
  void OnDone() override { delete this; }

 private:
  void write_next() {
    if (next_ > to_) return Finish(Status::OK);
    auto block = ledger_.block(next_);
    if (!block.is_ok()) return Finish(to_grpc(block.status()));
    current_ = std::move(block).value();
    ++next_;
    StartWrite(&current_);
  }
  const ledger::Ledger& ledger_;
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
    const uint64_t head = node_.ledger().head().height();
    const uint64_t to = request->to_height() == 0 ? head : request->to_height();
    Status s = Status::OK;
    if (caller.role == Role::kPublic || caller.role == Role::kRelyingParty) {
      s = permission_denied(caller, "read blocks (needs an auditor, agency, operator or node "
                                    "certificate)");
    } else if (to > head) {
      s = Status(StatusCode::OUT_OF_RANGE, "to_height " + std::to_string(to) +
                                               " is beyond the head at " + std::to_string(head));
    } else if (request->from_height() > to) {
      s = Status(StatusCode::INVALID_ARGUMENT, "from_height is above to_height");
    } else {
      s = node_.refuse_if_damaged(request->from_height(), to);  // known damage: say so first
    }
    if (!s.ok()) {
      class Refuse final : public grpc::ServerWriteReactor<v1::Block> {
       public:
        explicit Refuse(Status s) { Finish(s); }
        void OnDone() override { delete this; }
      };
      return new Refuse(s);
    }
    return new BlocksReactor(node_.ledger(), request->from_height(), to);
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
    if (caller.role == Role::kPublic) {
      reactor->Finish(permission_denied(caller, "read inclusion proofs (their leaf is the event)"));
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
    if (tree_size > current) {
      return Status(StatusCode::OUT_OF_RANGE, "tree_size " + std::to_string(tree_size) +
                                                  " is beyond the current tree of " +
                                                  std::to_string(current) + " leaves");
    }
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
    if (new_size > current) {
      return Status(StatusCode::OUT_OF_RANGE, "new_size " + std::to_string(new_size) +
                                                  " is beyond the current tree of " +
                                                  std::to_string(current) + " leaves");
    }
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
    if (caller.role != Role::kAuditor) {
      reactor->Finish(permission_denied(caller, "read the access log (auditors only)"));
      return reactor;
    }
    const uint32_t limit = request->limit() == 0 ? 100 : std::min(request->limit(), 1000u);
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
    node_.verify_storage(request->from_height(), request->to_height(),
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
    const Caller caller = node_.caller_of(context);
    if (caller.role == Role::kOperator || caller.role == Role::kNode) return true;
    reactor->Finish(permission_denied(caller, "call the admin API (needs an operator certificate)"));
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
    if (request->id() == 0) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT, "member id must be positive"));
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
    if (!allowed) {
      Finish(Status(StatusCode::PERMISSION_DENIED, "raft messages need a node certificate"));
      return;
    }
    StartRead(&batch_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(Status::OK);
    std::vector<consensus::Message> messages;
    messages.reserve(batch_.messages_size());
    for (const v1::RaftMessage& m : batch_.messages()) {
      auto decoded = decode_message(m);
      if (!decoded.is_ok()) {
        spdlog::warn("dropping malformed raft message: {}", decoded.status().message());
        continue;
      }
      messages.push_back(std::move(decoded).value());
    }
    if (!messages.empty()) node_.deliver(std::move(messages));
    StartRead(&batch_);
  }
  void OnDone() override { delete this; }

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
    if (node_.caller_of(*context).role != Role::kNode) {
      reactor->Finish(Status(StatusCode::PERMISSION_DENIED, "catch-up needs a node certificate"));
      return reactor;
    }
    node_.catch_up(*request, [reactor, response](v1::CatchUpResponse r) {
      *response = std::move(r);
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

}  // namespace

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
