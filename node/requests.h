// What the gRPC handlers decide from the caller and the decoded request alone, before they touch
// the ledger, the Raft loop or another node: roles, argument ranges, page sizes and limits.
//
// Pulled out of node/services.cc so that the same code is fuzzed (tests/fuzz/api_request_fuzz.cc)
// and unit-tested without a running node. Every function is pure and thread-safe: no I/O, no
// clock, no node state. An error is the exact gRPC status the handler answers with.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <vector>

#include "consensus/raft.h"
#include "ledger/consortium.h"
#include "node/auth.h"
#include "proto/api.pb.h"

namespace node {

namespace v1 = credledger::v1;

// One rule for limits (README "gRPC API"): a request that carries more items than a limit of
// this node allows (events in Submit, subjects in CheckSubjects) is refused with
// RESOURCE_EXHAUSTED naming the limit; an empty one is INVALID_ARGUMENT. A page size asks for
// at most that many results, so a larger one than the maximum is capped, never refused.
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
// 0 = kDefaultPageSize; above kMaxPageSize = kMaxPageSize.
uint32_t clamp_page_size(uint32_t requested);

// Individuals and licensed professionals: data about them is access-controlled and logged.
bool is_individual(const v1::Subject& subject);

// Who may read about a subject: anyone for organisations; an agency, auditor, relying party or
// node for individuals. PERMISSION_DENIED otherwise.
grpc::Status authorize_subject(const Caller& caller, const v1::Subject& subject);
// A well-formed subject (INVALID_ARGUMENT naming the rule) that this caller may read about.
grpc::Status admit_subject(const Caller& caller, const v1::Subject& subject);

// The time and consistency of a read. A negative as_of would silently answer "nothing was ever
// recorded", and an unknown consistency must not quietly mean one of the two.
grpc::Status check_read_args(int64_t as_of_ms, int consistency);

// Submit: an agency or node, 1..max_events_per_submit events, and an agency submits only events
// signed with its own keys (keys the consortium does not know are left to validation).
grpc::Status check_submit(const Caller& caller, const v1::SubmitRequest& request,
                          const ledger::Consortium& consortium, uint64_t max_events_per_submit);
// CheckSubjects: 1..max_subjects subjects (more: RESOURCE_EXHAUSTED), each admitted (the error
// names the subject's index).
grpc::Status check_subjects(const Caller& caller, const v1::CheckRequest& request,
                            uint64_t max_subjects);
// ListBlacklist: a named, known sector and a valid as_of. On success *page_size is the size to
// use (clamp_page_size).
grpc::Status check_blacklist(const v1::BlacklistRequest& request, uint32_t* page_size);
// GetHistory: not public, an admitted subject; *page_size is the request's clamped to 1..1000.
grpc::Status check_history(const Caller& caller, const v1::HistoryRequest& request,
                           uint32_t* page_size);
// GetEvent: not public, a non-empty event id.
grpc::Status check_get_event(const Caller& caller, const v1::GetEventRequest& request);
// GetBlocks against a chain whose head is at `head_height`: no public or relying caller, a range
// within the chain. On success *to_height is the last height to send.
grpc::Status check_get_blocks(const Caller& caller, const v1::GetBlocksRequest& request,
                              uint64_t head_height, uint64_t* to_height);
// A range of heights from..to (to = 0: the head) within a chain whose head is `head_height`.
// On success *to is the last height.
grpc::Status check_height_range(uint64_t from_height, uint64_t to_height, uint64_t head_height,
                                uint64_t* to);
// GetInclusionProof: not public (the leaf is the whole event).
grpc::Status check_inclusion_proof(const Caller& caller);
// A size-based proof request against a tree of `current_size` leaves: OUT_OF_RANGE if it asks
// beyond the tree. (Further range errors come from ledger::merkle_*_proof.)
grpc::Status check_tree_size(const char* what, uint64_t size, uint64_t current_size);
// GetAccessLog: auditors only; *limit is the request's clamped to 1..1000 (0 = 100).
grpc::Status check_access_log(const Caller& caller, const v1::AccessLogRequest& request,
                              uint32_t* limit);
// Admin API: operators and nodes only.
grpc::Status check_admin(const Caller& caller);
// AddMember, PromoteMember, RemoveMember: a positive member id.
grpc::Status check_member(const v1::MemberRequest& request);

// PeerService.Raft: decodes a batch; the reason a message could not be decoded is appended to
// *dropped (the handler then ends the stream).
std::vector<consensus::Message> decode_raft_batch(const v1::RaftBatch& batch,
                                                  std::vector<base::Status>* dropped);

}  // namespace node
