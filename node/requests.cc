#include "node/requests.h"

#include <algorithm>
#include <string>

#include "ledger/validation.h"
#include "node/transport.h"

namespace node {

using grpc::Status;
using grpc::StatusCode;

namespace {

Status permission_denied(const Caller& caller, const std::string& what) {
  return Status(StatusCode::PERMISSION_DENIED,
                "caller " + caller.to_string() + " may not " + what);
}

Status check_subject_arg(const v1::Subject& subject) {
  if (auto bad = ledger::check_subject(subject)) {
    return Status(StatusCode::INVALID_ARGUMENT, bad->message);
  }
  return Status::OK;
}

}  // namespace

uint32_t clamp_page_size(uint32_t requested) {
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

bool is_individual(const v1::Subject& s) {
  return s.kind() == v1::INDIVIDUAL || s.kind() == v1::PROFESSIONAL;
}

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

Status admit_subject(const Caller& caller, const v1::Subject& subject) {
  Status s = check_subject_arg(subject);
  return s.ok() ? authorize_subject(caller, subject) : s;
}

Status check_submit(const Caller& caller, const v1::SubmitRequest& request,
                    const ledger::Consortium& consortium, uint64_t max_events_per_submit) {
  if (caller.role != Role::kAgency && caller.role != Role::kNode) {
    return permission_denied(caller, "submit events (needs an agency certificate)");
  }
  if (request.events_size() == 0) {
    return Status(StatusCode::INVALID_ARGUMENT, "no events in the request");
  }
  if (static_cast<uint64_t>(request.events_size()) > max_events_per_submit) {
    return Status(StatusCode::RESOURCE_EXHAUSTED,
                  "at most " + std::to_string(max_events_per_submit) +
                      " events per Submit; got " + std::to_string(request.events_size()));
  }
  // An agency submits only what its own keys signed (the signature is checked later).
  if (caller.role == Role::kAgency) {
    for (int i = 0; i < request.events_size(); ++i) {
      const auto* key = consortium.find_key(request.events(i).key_id());
      if (key != nullptr && key->agency->id() != caller.name) {
        return permission_denied(caller, "submit event " + std::to_string(i) +
                                             " signed with a key of agency '" +
                                             key->agency->id() + "'");
      }
    }
  }
  return Status::OK;
}

Status check_subjects(const Caller& caller, const v1::CheckRequest& request,
                      uint64_t max_subjects) {
  if (request.subjects_size() == 0) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "CheckSubjects takes 1 to " + std::to_string(max_subjects) + " subjects; got 0");
  }
  if (static_cast<uint64_t>(request.subjects_size()) > max_subjects) {
    return Status(StatusCode::RESOURCE_EXHAUSTED,
                  "at most " + std::to_string(max_subjects) + " subjects per CheckSubjects; got " +
                      std::to_string(request.subjects_size()));
  }
  for (int i = 0; i < request.subjects_size(); ++i) {
    const Status s = admit_subject(caller, request.subjects(i));
    if (!s.ok()) {
      return Status(s.error_code(), "subject " + std::to_string(i) + ": " + s.error_message());
    }
  }
  return Status::OK;
}

Status check_read_args(int64_t as_of_ms, int consistency) {
  if (as_of_ms < 0) {
    return Status(StatusCode::INVALID_ARGUMENT, "as_of_ms is " + std::to_string(as_of_ms) +
                                                    "; give a time since the epoch, or 0 for now");
  }
  if (!v1::Consistency_IsValid(consistency)) {
    return Status(StatusCode::INVALID_ARGUMENT, "consistency " + std::to_string(consistency) +
                                                    " is neither LOCAL (0) nor LINEARIZABLE (1)");
  }
  return Status::OK;
}

Status check_blacklist(const v1::BlacklistRequest& request, uint32_t* page_size) {
  if (request.sector() == v1::SECTOR_UNSPECIFIED) {
    return Status(StatusCode::INVALID_ARGUMENT, "name a sector");
  }
  if (!v1::Sector_IsValid(request.sector())) {
    return Status(StatusCode::INVALID_ARGUMENT,
                  "sector " + std::to_string(request.sector()) + " is unknown");
  }
  if (Status s = check_read_args(request.as_of_ms(), v1::LOCAL); !s.ok()) return s;
  *page_size = clamp_page_size(request.page_size());
  return Status::OK;
}

Status check_history(const Caller& caller, const v1::HistoryRequest& request,
                     uint32_t* page_size) {
  if (caller.role == Role::kPublic) {
    return permission_denied(caller, "read histories (public callers see status and "
                                     "blacklists)");
  }
  const Status s = admit_subject(caller, request.subject());
  if (!s.ok()) return s;
  *page_size = clamp_page_size(request.page_size());
  return Status::OK;
}

Status check_get_event(const Caller& caller, const v1::GetEventRequest& request) {
  if (caller.role == Role::kPublic) {
    return permission_denied(caller, "read events (public callers see status and "
                                     "blacklists)");
  }
  if (request.event_id().empty()) {
    return Status(StatusCode::INVALID_ARGUMENT, "event_id is empty");
  }
  return Status::OK;
}

Status check_height_range(uint64_t from_height, uint64_t to_height, uint64_t head_height,
                          uint64_t* to) {
  const uint64_t last = to_height == 0 ? head_height : to_height;
  if (last > head_height) {
    return Status(StatusCode::OUT_OF_RANGE, "to_height " + std::to_string(last) +
                                                " is beyond the head at " +
                                                std::to_string(head_height));
  }
  if (from_height > last) {
    return Status(StatusCode::INVALID_ARGUMENT, "from_height is above to_height");
  }
  *to = last;
  return Status::OK;
}

Status check_get_blocks(const Caller& caller, const v1::GetBlocksRequest& request,
                        uint64_t head_height, uint64_t* to_height) {
  if (caller.role == Role::kPublic || caller.role == Role::kRelyingParty) {
    return permission_denied(caller, "read blocks (needs an auditor, agency, operator or node "
                                     "certificate)");
  }
  return check_height_range(request.from_height(), request.to_height(), head_height, to_height);
}

Status check_inclusion_proof(const Caller& caller) {
  if (caller.role == Role::kPublic) {
    return permission_denied(caller, "read inclusion proofs (their leaf is the event)");
  }
  return Status::OK;
}

Status check_tree_size(const char* what, uint64_t size, uint64_t current_size) {
  if (size > current_size) {
    return Status(StatusCode::OUT_OF_RANGE, std::string(what) + " " + std::to_string(size) +
                                                " is beyond the current tree of " +
                                                std::to_string(current_size) + " leaves");
  }
  return Status::OK;
}

Status check_access_log(const Caller& caller, const v1::AccessLogRequest& request,
                        uint32_t* limit) {
  if (caller.role != Role::kAuditor) {
    return permission_denied(caller, "read the access log (auditors only)");
  }
  *limit = clamp_page_size(request.limit());
  return Status::OK;
}

Status check_admin(const Caller& caller) {
  if (caller.role == Role::kOperator || caller.role == Role::kNode) return Status::OK;
  return permission_denied(caller, "call the admin API (needs an operator certificate)");
}

Status check_member(const v1::MemberRequest& request) {
  if (request.id() == 0) return Status(StatusCode::INVALID_ARGUMENT, "member id must be positive");
  return Status::OK;
}

std::vector<consensus::Message> decode_raft_batch(const v1::RaftBatch& batch,
                                                  std::vector<base::Status>* dropped) {
  std::vector<consensus::Message> messages;
  messages.reserve(batch.messages_size());
  for (const v1::RaftMessage& m : batch.messages()) {
    auto decoded = decode_message(m);
    if (!decoded.is_ok()) {
      dropped->push_back(decoded.status());
      continue;
    }
    messages.push_back(std::move(decoded).value());
  }
  return messages;
}

}  // namespace node
