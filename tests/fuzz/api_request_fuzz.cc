// Fuzzes the gRPC handlers' decoding paths: the request messages of proto/api.proto that the
// services decode, through the same checks the handlers run (node/requests.h).
//
// Input: byte 0 picks the request type, byte 1 the caller ("<role>:<name>" parsed by
// parse_caller, as the certificate's common name would be), the rest is the serialized request.
// Requests that pass their checks go one step further where that is pure: CheckSubjects'
// subjects are scored from an empty view, a size-based proof request is answered from a fixed
// Merkle tree, a Raft batch is decoded and encoded back.
//
// Oracles: decoding never crashes; a refused request carries a message; what a check clamps
// (page sizes, limits, heights) lands in its documented range; a Raft message that decodes
// encodes back to the same wire message.
#include <string>
#include <vector>

#include "ledger/merkle.h"
#include "ledger/scoring.h"
#include "node/config.h"
#include "node/requests.h"
#include "node/transport.h"
#include "proto/api.pb.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace v1 = credledger::v1;

// Callers as certificates name them; index by a byte.
const char* const kCallers[] = {"",         "agency:samr", "agency:sta",  "agency:",
                                "auditor:a", "relying:bank", "operator:op", "node:2",
                                "node",     "public:x",    "agency:court", "auditor:"};

constexpr uint64_t kTreeLeaves = 64;
constexpr uint64_t kHeadHeight = 10;

const ledger::MemoryMerkleTree& tree() {
  static const ledger::MemoryMerkleTree* t = [] {
    auto* out = new ledger::MemoryMerkleTree();
    for (uint64_t i = 0; i < kTreeLeaves; ++i) {
      out->append(ledger::merkle_leaf_hash("leaf " + std::to_string(i)));
    }
    return out;
  }();
  return *t;
}

void refused(const grpc::Status& s) {
  FUZZ_CHECK(!s.error_message().empty(), "a refused request says why");
}

template <typename Message>
bool parse(Message& m, const std::string& bytes) {
  return m.ParseFromString(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto consortium = fuzz::test_consortium();
  static const node::LimitsConfig limits;

  fuzz::Reader in(data, size);
  const uint8_t which = in.u8();
  const node::Caller caller =
      node::parse_caller(kCallers[in.u8() % (sizeof kCallers / sizeof kCallers[0])]);
  const std::string bytes = in.rest();

  switch (which % 13) {
    case 0: {
      v1::SubmitRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::check_submit(caller, r, *consortium, limits.max_events_per_submit);
      if (!s.ok()) refused(s);
      break;
    }
    case 1: {
      v1::StatusRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::admit_subject(caller, r.subject());
      if (!s.ok()) refused(s);
      break;
    }
    case 2: {
      v1::CheckRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::check_subjects(caller, r, limits.max_subjects_per_check);
      if (!s.ok()) {
        refused(s);
        break;
      }
      for (const auto& subject : r.subjects()) {
        (void)ledger::evaluate_subject(*consortium, subject, {}, r.as_of_ms());
      }
      break;
    }
    case 3: {
      v1::BlacklistRequest r;
      if (!parse(r, bytes)) return 0;
      uint32_t page_size = 0;
      auto s = node::check_blacklist(r, &page_size);
      if (!s.ok()) refused(s);
      else FUZZ_CHECK(page_size >= 1 && page_size <= 1000, "blacklist page size in 1..1000");
      break;
    }
    case 4: {
      v1::HistoryRequest r;
      if (!parse(r, bytes)) return 0;
      uint32_t page_size = 0;
      auto s = node::check_history(caller, r, &page_size);
      if (!s.ok()) refused(s);
      else FUZZ_CHECK(page_size >= 1 && page_size <= 1000, "history page size in 1..1000");
      break;
    }
    case 5: {
      v1::GetEventRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::check_get_event(caller, r);
      if (!s.ok()) refused(s);
      break;
    }
    case 6: {
      v1::WatchRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::admit_subject(caller, r.subject());
      if (!s.ok()) refused(s);
      break;
    }
    case 7: {
      v1::GetBlocksRequest r;
      if (!parse(r, bytes)) return 0;
      uint64_t to = 0;
      auto s = node::check_get_blocks(caller, r, kHeadHeight, &to);
      if (!s.ok()) refused(s);
      else FUZZ_CHECK(r.from_height() <= to && to <= kHeadHeight, "block range within the chain");
      break;
    }
    case 8: {
      v1::InclusionProofRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::check_inclusion_proof(caller);
      if (s.ok() && r.tree_size() != 0) {
        s = node::check_tree_size("tree_size", r.tree_size(), tree().size());
        if (s.ok()) {
          auto path = ledger::merkle_inclusion_proof(tree(), r.leaf_index(), r.tree_size());
          FUZZ_CHECK(path.is_ok() == (r.leaf_index() < r.tree_size()),
                     "a proof exists exactly for a leaf inside the tree");
        }
      }
      if (!s.ok()) refused(s);
      break;
    }
    case 9: {
      v1::ConsistencyProofRequest r;
      if (!parse(r, bytes)) return 0;
      if (r.old_size() == 0) break;  // checkpoint heights: answered from stored checkpoints
      const uint64_t new_size = r.new_size() == 0 ? tree().size() : r.new_size();
      auto s = node::check_tree_size("new_size", new_size, tree().size());
      if (!s.ok()) {
        refused(s);
        break;
      }
      auto path = ledger::merkle_consistency_proof(tree(), r.old_size(), new_size);
      FUZZ_CHECK(path.is_ok() == (r.old_size() <= new_size),
                 "a consistency proof exists exactly for 0 < old_size <= new_size");
      break;
    }
    case 10: {
      v1::AccessLogRequest r;
      if (!parse(r, bytes)) return 0;
      uint32_t limit = 0;
      auto s = node::check_access_log(caller, r, &limit);
      if (!s.ok()) refused(s);
      else FUZZ_CHECK(limit >= 1 && limit <= 1000, "access log limit in 1..1000");
      break;
    }
    case 11: {
      v1::MemberRequest r;
      if (!parse(r, bytes)) return 0;
      auto s = node::check_admin(caller);
      if (s.ok()) s = node::check_member(r);
      if (!s.ok()) refused(s);
      if (s.ok()) (void)node::check_host_port(r.address(), "member address");
      break;
    }
    case 12: {
      v1::RaftBatch r;
      if (!parse(r, bytes)) return 0;
      std::vector<base::Status> dropped;
      auto messages = node::decode_raft_batch(r, &dropped);
      FUZZ_CHECK(messages.size() + dropped.size() == static_cast<size_t>(r.messages_size()),
                 "every raft message is decoded or dropped");
      for (const auto& m : messages) {
        const v1::RaftMessage wire = node::encode_message(m);
        auto back = node::decode_message(wire);
        FUZZ_CHECK(back.is_ok(), "an encoded raft message decodes");
        FUZZ_CHECK(node::encode_message(*back).SerializeAsString() == wire.SerializeAsString(),
                   "a raft message round-trips");
      }
      break;
    }
  }
  return 0;
}
