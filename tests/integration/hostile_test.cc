// Every method of every service a node serves (proto/api.proto and grpc.health.v1), called with
// empty, malformed, oversize and hostile requests from one table: each row names the method,
// the request, the caller's role, and the status code and message text it must get. Requests go
// out as raw bytes through grpc::GenericStub, so a row can also send bytes that are no protobuf
// at all; the table checks itself against the descriptors so that no method is left out. The
// rows run against the leader and a follower; afterwards every node still answers health
// SERVING, the chain is exactly what it was before the table, and a valid Submit still commits.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>

#include <catch2/catch.hpp>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "base/tsan.h"
#include "tests/integration/events.h"

namespace integration {
namespace {

using grpc::StatusCode;
using ledger_test::kCourt;
using ledger_test::kSamr;
using ledger_test::kSta;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kU32Max = std::numeric_limits<uint32_t>::max();
// credd's default limits.grpc_max_message_bytes (the harness keeps it).
constexpr size_t kMaxMessageBytes = 16 << 20;
// node/services.h kStatusMessageBytesMax plus room for the "... (N bytes cut)" note.
constexpr size_t kStatusMessageBytesMax = 1024 + 64;

const std::string kSamrRole = "agency:samr";
const std::string kRelying = "relying:bank";
const std::string kAuditor = "auditor:a";
const std::string kOperator = "operator:ops";
const std::string kPublic = "";
const std::string kHealthCheck = "/grpc.health.v1.Health/Check";
const std::string kHealthWatch = "/grpc.health.v1.Health/Watch";

std::string path(const google::protobuf::MethodDescriptor& m) {
  return "/" + m.service()->full_name() + "/" + m.name();
}

// "/credledger.v1.QueryService/GetEvent"; REQUIREs that the method exists.
std::string method(const std::string& service, const std::string& name) {
  const auto* m = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      "credledger.v1." + service + "." + name);
  INFO(service << "." << name);
  REQUIRE(m != nullptr);
  return path(*m);
}

// What a row sends: the bytes of one request message, and the message type they were built as
// (empty for bytes that are not meant to be any message).
struct Request {
  std::string type;
  std::string bytes;
};

// The final status of a call and the bytes of every message the server sent.
struct Reply {
  grpc::Status status;
  std::vector<std::string> responses;
};

// One call of any kind (unary or streaming, gRPC does not care on the wire): writes the request,
// half-closes, and reads until the server ends the call.
class RawCall final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RawCall(grpc::GenericStub& stub, grpc::ClientContext* context, const std::string& method,
          const std::string& request) {
    grpc::Slice slice(request);
    out_ = grpc::ByteBuffer(&slice, 1);
    stub.PrepareBidiStreamingCall(context, method, grpc::StubOptions(), this);
    base::tsan_release(this);  // gRPC runs the reactions below on its own threads
    StartRead(&in_);
    StartWriteLast(&out_, grpc::WriteOptions());
    StartCall();
  }
  void OnReadDone(bool ok) override {
    base::TsanReaction reaction(this);
    if (!ok) return;
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (in_.Dump(&slices).ok()) {
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    reply_.responses.push_back(std::move(bytes));
    base::tsan_release(this);
    StartRead(&in_);
  }
  void OnDone(const grpc::Status& status) override {
    base::tsan_acquire(this);
    reply_.status = status;
    done_.set_value(std::move(reply_));
  }
  Reply wait() { return done_.get_future().get(); }

 private:
  grpc::ByteBuffer out_;
  grpc::ByteBuffer in_;
  Reply reply_;
  std::promise<Reply> done_;
};

Reply call_raw(Cluster& cluster, uint64_t node, const std::string& method, const std::string& role,
               const std::string& request) {
  grpc::GenericStub stub(cluster.channel(node));
  // Bounded: a handler that hangs fails its row with DEADLINE_EXCEEDED instead of the test.
  auto context = context_as(role, 5s);
  RawCall call(stub, context.get(), method, request);
  return call.wait();
}

// A row of the table.
struct Row {
  std::string method;
  std::string what;
  std::function<Request()> request;
  std::string role;
  StatusCode code;
  std::string reason;  // text the status message must contain
  // Extra checks on an accepted call's responses.
  std::function<void(const Reply&)> check = nullptr;
};

template <typename M, typename Fill>
std::function<Request()> build(Fill fill) {
  return [fill] {
    M m;
    fill(m);
    return Request{M::descriptor()->full_name(), m.SerializeAsString()};
  };
}

template <typename M>
std::function<Request()> empty() {
  return [] { return Request{M::descriptor()->full_name(), ""}; };
}

std::function<Request()> raw(std::string bytes) {
  return [bytes] { return Request{"", bytes}; };
}

// Not a protobuf: field 1, length-delimited, claims 2^32-1 bytes and has nine.
const std::string kNotProtobuf("\x0a\xff\xff\xff\xff\x0fjunk!", 11);

// A syntactically valid message of any type (one unknown field 15) of `bytes` bytes in all.
std::string oversize_message(size_t bytes) {
  std::string out = "\x7a";  // field 15, length-delimited
  const size_t body = bytes - 6;
  uint64_t v = body;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  out.append(body, 'x');
  return out;
}

v1::Subject bad_uscc() {
  v1::Subject s = ledger_test::enterprise(7);
  s.set_id(s.id().substr(0, 17) + (s.id()[17] == '0' ? "1" : "0"));
  return s;
}

v1::Subject raw_national_id() {
  v1::Subject s;
  s.set_kind(v1::INDIVIDUAL);
  s.set_id("110101199003074514");
  return s;
}

v1::Subject unknown_kind() {
  v1::Subject s = ledger_test::enterprise(7);
  s.set_kind(static_cast<v1::SubjectKind>(77));
  return s;
}

v1::Subject huge_id(size_t bytes) {
  v1::Subject s = ledger_test::enterprise(7);
  s.set_id(std::string(bytes, '9'));
  return s;
}

// What the table needs from the cluster it runs against.
struct Fixture {
  uint64_t leader = 0;
  uint64_t follower = 0;
  v1::SignedEvent accepted;  // on the chain
  v1::Subject person;        // an individual with an event on the chain
  uint64_t head_height = 0;
  uint64_t tree_size = 0;
};

std::vector<Row> hostile_rows(const Fixture& f) {
  using namespace v1;
  const v1::Subject company = ledger_test::enterprise(42);
  const std::string submit = method("LedgerService", "Submit");
  const std::string get_status = method("QueryService", "GetSubjectStatus");
  const std::string check = method("QueryService", "CheckSubjects");
  const std::string blacklist = method("QueryService", "ListBlacklist");
  const std::string history = method("QueryService", "GetHistory");
  const std::string get_event = method("QueryService", "GetEvent");
  const std::string watch = method("QueryService", "WatchSubject");
  const std::string blocks = method("AuditService", "GetBlocks");
  const std::string checkpoint = method("AuditService", "GetCheckpoint");
  const std::string inclusion = method("AuditService", "GetInclusionProof");
  const std::string consistency = method("AuditService", "GetConsistencyProof");
  const std::string access_log = method("AuditService", "GetAccessLog");
  const std::string cluster_status = method("AdminService", "ClusterStatus");
  const std::string add_member = method("AdminService", "AddMember");
  const std::string promote = method("AdminService", "PromoteMember");
  const std::string remove = method("AdminService", "RemoveMember");
  const std::string transfer = method("AdminService", "TransferLeadership");
  const std::string compact = method("AdminService", "Compact");
  const std::string verify_storage = method("AdminService", "VerifyStorage");
  const std::string raft = method("PeerService", "Raft");
  const std::string catch_up = method("PeerService", "CatchUp");
  const std::string cosign = method("PeerService", "Cosign");
  const std::string share_checkpoint = method("PeerService", "ShareCheckpoint");
  const std::string as_node = "node:" + std::to_string(f.follower);

  auto events = [](std::vector<v1::SignedEvent> list) {
    return build<SubmitRequest>([list](SubmitRequest& r) {
      for (const auto& e : list) *r.add_events() = e;
    });
  };
  auto signed_with_enum = [company](auto set) {
    v1::CreditEvent e = valid_event("bad-enum", kSamr, company);
    set(e);
    return ledger_test::sign(e);
  };
  auto status_of = [](v1::Subject s, std::function<void(StatusRequest&)> more = nullptr) {
    return build<StatusRequest>([s, more](StatusRequest& r) {
      *r.mutable_subject() = s;
      if (more) more(r);
    });
  };
  auto check_of = [](std::vector<v1::Subject> list,
                     std::function<void(CheckRequest&)> more = nullptr) {
    return build<CheckRequest>([list, more](CheckRequest& r) {
      for (const auto& s : list) *r.add_subjects() = s;
      if (more) more(r);
    });
  };
  auto history_of = [](v1::Subject s, std::string token, uint32_t size = 0) {
    return build<HistoryRequest>([s, token, size](HistoryRequest& r) {
      *r.mutable_subject() = s;
      r.set_page_token(token);
      r.set_page_size(size);
    });
  };
  auto event_id = [](std::string id) {
    return build<GetEventRequest>([id](GetEventRequest& r) { r.set_event_id(id); });
  };
  auto watch_of = [](v1::Subject s) {
    return build<WatchRequest>([s](WatchRequest& r) { *r.mutable_subject() = s; });
  };
  auto blocks_of = [](uint64_t from, uint64_t to) {
    return build<GetBlocksRequest>([from, to](GetBlocksRequest& r) {
      r.set_from_height(from);
      r.set_to_height(to);
    });
  };
  auto member = [](uint64_t id, std::string address) {
    return build<MemberRequest>([id, address](MemberRequest& r) {
      r.set_id(id);
      r.set_address(address);
    });
  };
  auto raft_batch = [](uint32_t type, uint32_t entry_type) {
    return build<RaftBatch>([type, entry_type](RaftBatch& r) {
      RaftMessage* m = r.add_messages();
      m->set_type(type);
      m->set_from(9);
      m->set_to(1);
      if (entry_type) m->add_entries()->set_type(entry_type);
    });
  };
  auto no_records = [](const Reply& reply) {
    REQUIRE(reply.responses.size() == 1);
    v1::AccessLogResponse r;
    REQUIRE(r.ParseFromString(reply.responses[0]));
    CHECK(r.records_size() == 0);
  };
  auto cut = [](const Reply& reply) {
    CHECK(reply.status.error_message().find("bytes cut") != std::string::npos);
  };

  v1::SignedEvent tampered = signed_event("tampered", kSamr, company);
  {
    std::string signature = tampered.signature();
    signature[3] ^= 0x01;
    tampered.set_signature(signature);
  }
  v1::SignedEvent short_signature = signed_event("short-signature", kSamr, company);
  short_signature.set_signature("abc");
  v1::SignedEvent changed_duplicate = [&] {
    v1::CreditEvent e;
    REQUIRE(e.ParseFromString(f.accepted.payload()));
    e.set_summary("the same id, other content");
    return ledger_test::sign(e);
  }();
  std::vector<v1::SignedEvent> too_many(1001, signed_event("many", kSamr, company));
  v1::SignedEvent long_key = signed_event("long-key", kSamr, company);
  long_key.set_key_id(std::string(100000, 'k'));

  std::vector<v1::Subject> too_many_subjects;
  for (int i = 0; i < 1001; ++i) too_many_subjects.push_back(ledger_test::enterprise(i));

  return {
      // ---- LedgerService.Submit
      {submit, "empty request", empty<SubmitRequest>(), kSamrRole, StatusCode::INVALID_ARGUMENT,
       "no events"},
      {submit, "empty request from a public caller", empty<SubmitRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "submit events"},
      {submit, "relying party submits", events({signed_event("r", kSamr, company)}), kRelying,
       StatusCode::PERMISSION_DENIED, "submit events"},
      {submit, "auditor submits", events({signed_event("a", kSamr, company)}), kAuditor,
       StatusCode::PERMISSION_DENIED, "submit events"},
      {submit, "operator submits", events({signed_event("o", kSamr, company)}), kOperator,
       StatusCode::PERMISSION_DENIED, "submit events"},
      {submit, "a role credd does not know", events({signed_event("x", kSamr, company)}),
       "root:admin", StatusCode::PERMISSION_DENIED, "caller public"},
      {submit, "an empty SignedEvent", events({v1::SignedEvent()}), kSamrRole,
       StatusCode::INVALID_ARGUMENT, "UNKNOWN_KEY"},
      {submit, "a signature of three bytes", events({short_signature}), kSamrRole,
       StatusCode::INVALID_ARGUMENT, "BAD_SIGNATURE"},
      {submit, "a tampered signature", events({tampered}), kSamrRole, StatusCode::INVALID_ARGUMENT,
       "BAD_SIGNATURE"},
      {submit, "signed by an unknown key",
       events({ledger_test::sign_with(valid_event("rogue", kSamr, company), "mofcom-k1",
                                      ledger_test::rogue_keys())}),
       kSamrRole, StatusCode::INVALID_ARGUMENT, "UNKNOWN_KEY"},
      {submit, "a key id of 100 KB (quoted by its start and length)", events({long_key}), kSamrRole,
       StatusCode::INVALID_ARGUMENT, "...' (100000 bytes) is not a key"},
      {submit, "another agency's event", events({signed_event("sta-by-samr", kSta, company)}),
       kSamrRole, StatusCode::PERMISSION_DENIED, "signed with a key of agency 'sta'"},
      {submit, "outside the issuer's mandate (sector)",
       events({ledger_test::sign(ledger_test::penalty("samr-tax", kSamr, company, v1::TAXATION,
                                                      v1::MODERATE, wall_ms() - 1000, 30))}),
       kSamrRole, StatusCode::INVALID_ARGUMENT, "OUT_OF_MANDATE_SECTOR"},
      {submit, "outside the issuer's mandate (kind)",
       events({ledger_test::sign(ledger_test::penalty("court-penalty", kCourt, company, v1::FINANCE,
                                                      v1::MODERATE, wall_ms() - 1000, 30))}),
       "agency:court", StatusCode::INVALID_ARGUMENT, "OUT_OF_MANDATE_KIND"},
      {submit, "an unknown event kind", events({signed_with_enum([](v1::CreditEvent& e) {
         e.set_kind(static_cast<v1::EventKind>(999));
       })}),
       kSamrRole, StatusCode::INVALID_ARGUMENT, "event kind is missing or unknown"},
      {submit, "an unknown sector", events({signed_with_enum([](v1::CreditEvent& e) {
         e.set_sector(static_cast<v1::Sector>(999));
       })}),
       kSamrRole, StatusCode::INVALID_ARGUMENT, "an enum field holds an unknown value"},
      {submit, "an unknown subject kind", events({signed_with_enum([](v1::CreditEvent& e) {
         e.mutable_subject()->set_kind(static_cast<v1::SubjectKind>(77));
       })}),
       kSamrRole, StatusCode::INVALID_ARGUMENT, "an enum field holds an unknown value"},
      {submit, "an event id with a path in it",
       events({signed_event("../../etc/passwd", kSamr, company)}), kSamrRole,
       StatusCode::INVALID_ARGUMENT, "event_id must be 1 to 128 characters"},
      {submit, "an event id of 129 characters",
       events({signed_event(std::string(129, 'e'), kSamr, company)}), kSamrRole,
       StatusCode::INVALID_ARGUMENT, "event_id must be 1 to 128 characters"},
      {submit, "an accepted event id with other content", events({changed_duplicate}), kSamrRole,
       StatusCode::ALREADY_EXISTS, "DUPLICATE_EVENT_ID"},
      {submit, "an identical retry of an accepted event answers its receipt", events({f.accepted}),
       kSamrRole, StatusCode::OK, ""},
      {submit, "the same event twice in one request",
       events({signed_event("twice", kSamr, company), signed_event("twice", kSamr, company)}),
       kSamrRole, StatusCode::INVALID_ARGUMENT, "DUPLICATE_EVENT_ID"},
      {submit, "1001 events", events(too_many), kSamrRole, StatusCode::RESOURCE_EXHAUSTED,
       "at most 1000 events per Submit"},

      // ---- QueryService.GetSubjectStatus
      {get_status, "empty request", empty<StatusRequest>(), kPublic, StatusCode::INVALID_ARGUMENT,
       "subject kind is missing"},
      {get_status, "a USCC with a wrong check character", status_of(bad_uscc()), kPublic,
       StatusCode::INVALID_ARGUMENT, "not a valid unified social credit code"},
      {get_status, "an unknown subject kind", status_of(unknown_kind()), kRelying,
       StatusCode::INVALID_ARGUMENT, "subject kind 77 is unknown"},
      {get_status, "a raw national id", status_of(raw_national_id()), kRelying,
       StatusCode::INVALID_ARGUMENT, "64-character lowercase hex pseudonym"},
      {get_status, "an individual asked by a public caller", status_of(f.person), kPublic,
       StatusCode::PERMISSION_DENIED, "query individuals"},
      {get_status, "an unknown consistency",
       status_of(company, [](StatusRequest& r) { r.set_consistency(static_cast<Consistency>(7)); }),
       kRelying, StatusCode::INVALID_ARGUMENT, "consistency 7 is neither LOCAL"},
      {get_status, "a negative as_of",
       status_of(company, [](StatusRequest& r) { r.set_as_of_ms(-1); }), kRelying,
       StatusCode::INVALID_ARGUMENT, "as_of_ms is -1"},
      {get_status, "a subject id of 1 MB (quoted by its start and length)",
       status_of(huge_id(1 << 20)), kPublic, StatusCode::INVALID_ARGUMENT,
       "(1048576 bytes) is not a valid unified social credit code"},
      {get_status, "a valid subject never recorded", status_of(ledger_test::enterprise(999)),
       kPublic, StatusCode::OK, ""},

      // ---- QueryService.CheckSubjects
      {check, "empty request", empty<CheckRequest>(), kRelying, StatusCode::INVALID_ARGUMENT,
       "1 to 1000 subjects; got 0"},
      {check, "1001 subjects", check_of(too_many_subjects), kRelying,
       StatusCode::RESOURCE_EXHAUSTED, "at most 1000 subjects per CheckSubjects; got 1001"},
      {check, "one bad subject among good ones", check_of({company, company, bad_uscc()}), kRelying,
       StatusCode::INVALID_ARGUMENT, "subject 2: "},
      {check, "an individual asked by a public caller", check_of({f.person}), kPublic,
       StatusCode::PERMISSION_DENIED, "subject 0: caller public may not query individuals"},
      {check, "an unknown consistency",
       check_of({company}, [](CheckRequest& r) { r.set_consistency(static_cast<Consistency>(9)); }),
       kRelying, StatusCode::INVALID_ARGUMENT, "consistency 9 is neither LOCAL"},
      {check, "a negative as_of", check_of({company}, [](CheckRequest& r) { r.set_as_of_ms(-5); }),
       kRelying, StatusCode::INVALID_ARGUMENT, "as_of_ms is -5"},

      // ---- QueryService.ListBlacklist
      {blacklist, "empty request", empty<BlacklistRequest>(), kPublic, StatusCode::INVALID_ARGUMENT,
       "name a sector"},
      {blacklist, "an unknown sector",
       build<BlacklistRequest>([](BlacklistRequest& r) { r.set_sector(static_cast<Sector>(999)); }),
       kPublic, StatusCode::INVALID_ARGUMENT, "sector 999 is unknown"},
      {blacklist, "page_size 1001 is capped", build<BlacklistRequest>([](BlacklistRequest& r) {
         r.set_sector(v1::FINANCE);
         r.set_page_size(1001);
       }),
       kPublic, StatusCode::OK, ""},
      {blacklist, "page_size 2^32-1 is capped", build<BlacklistRequest>([](BlacklistRequest& r) {
         r.set_sector(v1::FINANCE);
         r.set_page_size(kU32Max);
       }),
       kPublic, StatusCode::OK, ""},
      {blacklist, "a height not applied yet", build<BlacklistRequest>([](BlacklistRequest& r) {
         r.set_sector(v1::FINANCE);
         r.set_at_height(1ULL << 40);
       }),
       kPublic, StatusCode::UNAVAILABLE, "is not applied on this node yet"},
      {blacklist, "page_size 0 means the default",
       build<BlacklistRequest>([](BlacklistRequest& r) { r.set_sector(v1::FINANCE); }), kPublic,
       StatusCode::OK, ""},
      {blacklist, "a page token that is not hex", build<BlacklistRequest>([](BlacklistRequest& r) {
         r.set_sector(v1::FINANCE);
         r.set_page_token("<script>alert(1)</script>");
       }),
       kPublic, StatusCode::INVALID_ARGUMENT, "page token is not one this ledger handed out"},
      {blacklist, "a negative as_of", build<BlacklistRequest>([](BlacklistRequest& r) {
         r.set_sector(v1::FINANCE);
         r.set_as_of_ms(-1);
       }),
       kPublic, StatusCode::INVALID_ARGUMENT, "as_of_ms is -1"},

      // ---- QueryService.GetHistory
      {history, "empty request from a public caller", empty<HistoryRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "read histories"},
      {history, "empty request", empty<HistoryRequest>(), kRelying, StatusCode::INVALID_ARGUMENT,
       "subject kind is missing"},
      {history, "a USCC with a wrong check character", history_of(bad_uscc(), ""), kRelying,
       StatusCode::INVALID_ARGUMENT, "not a valid unified social credit code"},
      {history, "a page token that is not hex", history_of(company, "not-a-token"), kRelying,
       StatusCode::INVALID_ARGUMENT, "page token is not one this ledger handed out"},
      {history, "a page token of the wrong length", history_of(company, "00ff"), kRelying,
       StatusCode::INVALID_ARGUMENT, "page token is not one this ledger handed out"},
      {history, "the largest sequence as page token (would wrap to the first page)",
       history_of(company, "ffffffffffffffff"), kRelying, StatusCode::INVALID_ARGUMENT,
       "page token is not one this ledger handed out"},
      {history, "page_size 2^32-1 is capped", history_of(company, "", kU32Max), kRelying,
       StatusCode::OK, ""},

      // ---- QueryService.GetEvent
      {get_event, "empty request", empty<GetEventRequest>(), kAuditor, StatusCode::INVALID_ARGUMENT,
       "event_id is empty"},
      {get_event, "empty request from a public caller", empty<GetEventRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "read events"},
      {get_event, "an unknown event id", event_id("no-such-event"), kAuditor, StatusCode::NOT_FOUND,
       "no event 'no-such-event'"},
      {get_event, "an event id of 1 MB (the echo is cut)", event_id(std::string(1 << 20, 'e')),
       kAuditor, StatusCode::NOT_FOUND, "no event 'eee", cut},
      // proto3 strings must be UTF-8: field 1, four bytes that are not.
      {get_event, "an event id that is not UTF-8",
       [] {
         return Request{"credledger.v1.GetEventRequest",
                        std::string("\x0a\x04\xff\xfe\x00\x01", 6)};
       },
       kAuditor, StatusCode::INVALID_ARGUMENT, "not a valid credledger.v1.GetEventRequest"},

      // ---- QueryService.WatchSubject
      {watch, "empty request", empty<WatchRequest>(), kRelying, StatusCode::INVALID_ARGUMENT,
       "subject kind is missing"},
      {watch, "an individual watched by a public caller", watch_of(f.person), kPublic,
       StatusCode::PERMISSION_DENIED, "query individuals"},
      {watch, "a raw national id", watch_of(raw_national_id()), kRelying,
       StatusCode::INVALID_ARGUMENT, "64-character lowercase hex pseudonym"},
      {watch, "an unknown subject kind", watch_of(unknown_kind()), kRelying,
       StatusCode::INVALID_ARGUMENT, "subject kind 77 is unknown"},

      // ---- AuditService.GetBlocks
      {blocks, "empty request from a public caller", empty<GetBlocksRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "read blocks"},
      {blocks, "a relying party", empty<GetBlocksRequest>(), kRelying,
       StatusCode::PERMISSION_DENIED, "read blocks"},
      {blocks, "to_height beyond the head", blocks_of(1, 1000000), kAuditor,
       StatusCode::OUT_OF_RANGE, "to_height 1000000 is beyond the head"},
      {blocks, "to_height 2^64-1", blocks_of(0, kU64Max), kAuditor, StatusCode::OUT_OF_RANGE,
       "is beyond the head"},
      {blocks, "from_height above to_height", blocks_of(2, 1), kAuditor,
       StatusCode::INVALID_ARGUMENT, "from_height is above to_height"},
      {blocks, "from_height 2^64-1", blocks_of(kU64Max, 0), kAuditor, StatusCode::INVALID_ARGUMENT,
       "from_height is above to_height"},
      {blocks, "empty request streams from genesis to the head", empty<GetBlocksRequest>(),
       kAuditor, StatusCode::OK, "",
       [&f](const Reply& reply) { CHECK(reply.responses.size() == f.head_height + 1); }},

      // ---- AuditService.GetCheckpoint
      {checkpoint, "empty request: the latest quorum checkpoint", empty<GetCheckpointRequest>(),
       kPublic, StatusCode::OK, ""},
      {checkpoint, "a height with no checkpoint",
       build<GetCheckpointRequest>([](GetCheckpointRequest& r) { r.set_height(987654321); }),
       kPublic, StatusCode::NOT_FOUND, "no checkpoint at height 987654321"},
      {checkpoint, "height 2^64-1",
       build<GetCheckpointRequest>([](GetCheckpointRequest& r) { r.set_height(kU64Max); }), kPublic,
       StatusCode::NOT_FOUND, "no checkpoint at height"},

      // ---- AuditService.GetInclusionProof
      {inclusion, "empty request from a public caller", empty<InclusionProofRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "read inclusion proofs"},
      {inclusion, "empty request: leaf 0 against the latest checkpoint",
       empty<InclusionProofRequest>(), kAuditor, StatusCode::OK, ""},
      {inclusion, "an unknown event id", build<InclusionProofRequest>([](InclusionProofRequest& r) {
         r.set_event_id("no-such-event");
       }),
       kAuditor, StatusCode::NOT_FOUND, "no event 'no-such-event'"},
      {inclusion, "a leaf beyond the checkpoint's tree",
       build<InclusionProofRequest>([](InclusionProofRequest& r) { r.set_leaf_index(1000000); }),
       kAuditor, StatusCode::INVALID_ARGUMENT, "leaf 1000000 is not in a tree of"},
      {inclusion, "leaf 2^64-1",
       build<InclusionProofRequest>([](InclusionProofRequest& r) { r.set_leaf_index(kU64Max); }),
       kAuditor, StatusCode::INVALID_ARGUMENT, "is not in a tree of"},
      {inclusion, "a tree size beyond the current tree",
       build<InclusionProofRequest>([](InclusionProofRequest& r) { r.set_tree_size(kU64Max); }),
       kAuditor, StatusCode::OUT_OF_RANGE, "is beyond the current tree"},
      {inclusion, "a leaf not below the tree size",
       build<InclusionProofRequest>([](InclusionProofRequest& r) {
         r.set_tree_size(1);
         r.set_leaf_index(1);
       }),
       kAuditor, StatusCode::INVALID_ARGUMENT, "leaf index 1 is not below tree size 1"},
      {inclusion, "a checkpoint height with no checkpoint",
       build<InclusionProofRequest>(
           [](InclusionProofRequest& r) { r.set_checkpoint_height(987654321); }),
       kAuditor, StatusCode::NOT_FOUND, "no checkpoint at height 987654321"},

      // ---- AuditService.GetConsistencyProof
      {consistency, "empty request", empty<ConsistencyProofRequest>(), kPublic,
       StatusCode::INVALID_ARGUMENT, "name the old checkpoint's height"},
      {consistency, "an old size above the new size",
       build<ConsistencyProofRequest>([](ConsistencyProofRequest& r) {
         r.set_old_size(2);
         r.set_new_size(1);
       }),
       kPublic, StatusCode::INVALID_ARGUMENT, "0 < old size <= new size"},
      {consistency, "old size 2^64-1 against the current tree",
       build<ConsistencyProofRequest>([](ConsistencyProofRequest& r) { r.set_old_size(kU64Max); }),
       kPublic, StatusCode::INVALID_ARGUMENT, "0 < old size <= new size"},
      {consistency, "a new size beyond the current tree",
       build<ConsistencyProofRequest>([](ConsistencyProofRequest& r) {
         r.set_old_size(1);
         r.set_new_size(kU64Max);
       }),
       kPublic, StatusCode::OUT_OF_RANGE, "is beyond the current tree"},
      {consistency, "an old height with no checkpoint",
       build<ConsistencyProofRequest>(
           [](ConsistencyProofRequest& r) { r.set_old_height(987654321); }),
       kPublic, StatusCode::NOT_FOUND, "no checkpoint at height 987654321"},

      // ---- AuditService.GetAccessLog
      {access_log, "empty request from a public caller", empty<AccessLogRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "auditors only"},
      {access_log, "an agency", empty<AccessLogRequest>(), kSamrRole, StatusCode::PERMISSION_DENIED,
       "auditors only"},
      {access_log, "empty request", empty<AccessLogRequest>(), kAuditor, StatusCode::OK, ""},
      {access_log, "after the largest sequence: nothing (not the first page)",
       build<AccessLogRequest>([](AccessLogRequest& r) { r.set_after_sequence(kU64Max); }),
       kAuditor, StatusCode::OK, "", no_records},
      {access_log, "limit 2^32-1 is capped",
       build<AccessLogRequest>([](AccessLogRequest& r) { r.set_limit(kU32Max); }), kAuditor,
       StatusCode::OK, ""},

      // ---- AdminService
      {cluster_status, "empty request from a public caller", empty<ClusterStatusRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "admin API"},
      {cluster_status, "an agency", empty<ClusterStatusRequest>(), kSamrRole,
       StatusCode::PERMISSION_DENIED, "admin API"},
      {cluster_status, "an auditor", empty<ClusterStatusRequest>(), kAuditor,
       StatusCode::PERMISSION_DENIED, "admin API"},
      {cluster_status, "empty request", empty<ClusterStatusRequest>(), kOperator, StatusCode::OK,
       ""},
      {add_member, "empty request", empty<MemberRequest>(), kOperator, StatusCode::INVALID_ARGUMENT,
       "member id must be positive"},
      {add_member, "a relying party", member(9, "127.0.0.1:1"), kRelying,
       StatusCode::PERMISSION_DENIED, "admin API"},
      {add_member, "no address", member(9, ""), kOperator, StatusCode::INVALID_ARGUMENT,
       "member address '' is not host:port"},
      {add_member, "an address without a port", member(9, "127.0.0.1"), kOperator,
       StatusCode::INVALID_ARGUMENT, "is not host:port"},
      {add_member, "port 99999", member(9, "127.0.0.1:99999"), kOperator,
       StatusCode::INVALID_ARGUMENT, "has an invalid port"},
      {add_member, "a current member at another address", member(f.follower, "127.0.0.1:1"),
       kOperator, StatusCode::INVALID_ARGUMENT,
       "node " + std::to_string(f.follower) + " is already a member"},
      {add_member, "the leader at another address", member(f.leader, "127.0.0.1:1"), kOperator,
       StatusCode::INVALID_ARGUMENT, "node " + std::to_string(f.leader) + " is already a member"},
      {promote, "empty request", empty<MemberRequest>(), kOperator, StatusCode::INVALID_ARGUMENT,
       "member id must be positive"},
      {promote, "an agency", member(9, ""), kSamrRole, StatusCode::PERMISSION_DENIED, "admin API"},
      {promote, "an unknown node", member(99, ""), kOperator, StatusCode::INVALID_ARGUMENT,
       "node 99 is not a learner"},
      {promote, "a voter", member(f.follower, ""), kOperator, StatusCode::INVALID_ARGUMENT,
       "is not a learner"},
      {remove, "empty request", empty<MemberRequest>(), kOperator, StatusCode::INVALID_ARGUMENT,
       "member id must be positive"},
      {remove, "a public caller", member(f.follower, ""), kPublic, StatusCode::PERMISSION_DENIED,
       "admin API"},
      {remove, "an unknown node", member(99, ""), kOperator, StatusCode::INVALID_ARGUMENT,
       "node 99 is not a member"},
      {remove, "node 2^64-1", member(kU64Max, ""), kOperator, StatusCode::INVALID_ARGUMENT,
       "is not a member"},
      {transfer, "empty request (to node 0)", empty<TransferRequest>(), kOperator,
       StatusCode::INVALID_ARGUMENT, "transfer target 0"},
      {transfer, "an unknown node",
       build<TransferRequest>([](TransferRequest& r) { r.set_to(99); }), kOperator,
       StatusCode::INVALID_ARGUMENT, "transfer target 99"},
      {transfer, "an agency", build<TransferRequest>([](TransferRequest& r) { r.set_to(1); }),
       kSamrRole, StatusCode::PERMISSION_DENIED, "admin API"},
      {compact, "empty request from a public caller", empty<CompactRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "admin API"},
      {compact, "empty request", empty<CompactRequest>(), kOperator, StatusCode::OK, ""},
      {verify_storage, "empty request from a public caller", empty<VerifyStorageRequest>(),
       kPublic, StatusCode::PERMISSION_DENIED, "admin API"},
      {verify_storage, "an agency", empty<VerifyStorageRequest>(), kSamrRole,
       StatusCode::PERMISSION_DENIED, "admin API"},
      {verify_storage, "empty request: the whole chain", empty<VerifyStorageRequest>(),
       kOperator, StatusCode::OK, ""},
      {verify_storage, "to_height beyond the head",
       build<VerifyStorageRequest>([](VerifyStorageRequest& r) { r.set_to_height(1ull << 40); }),
       kOperator, StatusCode::OUT_OF_RANGE, "beyond the head"},
      {verify_storage, "from_height above to_height",
       build<VerifyStorageRequest>([](VerifyStorageRequest& r) {
         r.set_from_height(2);
         r.set_to_height(1);
       }),
       kOperator, StatusCode::INVALID_ARGUMENT, "from_height is above to_height"},

      // ---- PeerService: a client is not a node; a node's garbage is refused too
      {raft, "empty batch from a public caller", empty<RaftBatch>(), kPublic,
       StatusCode::PERMISSION_DENIED, "node certificate"},
      {raft, "an agency", raft_batch(1, 0), kSamrRole, StatusCode::PERMISSION_DENIED,
       "node certificate"},
      {raft, "an operator", raft_batch(1, 0), kOperator, StatusCode::PERMISSION_DENIED,
       "node certificate"},
      {raft, "an unknown message type", raft_batch(99, 0), as_node, StatusCode::INVALID_ARGUMENT,
       "unknown raft message type 99"},
      {raft, "an unknown entry type", raft_batch(1, 77), as_node, StatusCode::INVALID_ARGUMENT,
       "unknown raft entry type 77"},
      {catch_up, "empty request from a public caller", empty<CatchUpRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "catch-up needs a node certificate"},
      {catch_up, "an operator", empty<CatchUpRequest>(), kOperator, StatusCode::PERMISSION_DENIED,
       "catch-up needs a node certificate"},
      {catch_up, "empty request from a node", empty<CatchUpRequest>(), as_node,
       StatusCode::INVALID_ARGUMENT, "leader_id 0 must be the asking node"},
      {catch_up, "a node naming another leader", build<CatchUpRequest>([](CatchUpRequest& r) {
         r.set_leader_id(12345);
         r.set_index(5);
         r.set_term(1);
       }),
       as_node, StatusCode::INVALID_ARGUMENT, "leader_id 12345 must be the asking node"},
      {catch_up, "a node naming itself without a compaction point",
       build<CatchUpRequest>([](CatchUpRequest& r) { r.set_leader_id(9); }), "node:9",
       StatusCode::INVALID_ARGUMENT, "index and term > 0"},
      {cosign, "empty request from a public caller", empty<CosignRequest>(), kPublic,
       StatusCode::PERMISSION_DENIED, "cosigning needs a node certificate"},
      {cosign, "an auditor", empty<CosignRequest>(), kAuditor, StatusCode::PERMISSION_DENIED,
       "cosigning needs a node certificate"},
      {cosign, "empty request from a node", empty<CosignRequest>(), as_node,
       StatusCode::INVALID_ARGUMENT, "differs from this node's"},
      {cosign, "a forged body", build<CosignRequest>([](CosignRequest& r) {
         r.set_height(1);
         r.set_body("credledger.test/origin\n1\nforged\n");
       }),
       as_node, StatusCode::INVALID_ARGUMENT, "checkpoint at height 1 differs"},
      {cosign, "height 2^64-1",
       build<CosignRequest>([](CosignRequest& r) { r.set_height(kU64Max); }), as_node,
       StatusCode::UNAVAILABLE, "not applied here yet"},
      {share_checkpoint, "empty request from a public caller", empty<ShareCheckpointRequest>(),
       kPublic, StatusCode::PERMISSION_DENIED, "sharing checkpoints needs a node certificate"},
      {share_checkpoint, "empty request from a node", empty<ShareCheckpointRequest>(), as_node,
       StatusCode::INVALID_ARGUMENT, "checkpoint note"},
      {share_checkpoint, "a forged note without a quorum",
       build<ShareCheckpointRequest>([](ShareCheckpointRequest& r) {
         r.set_note("credledger/credledger-test\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
                    "height 1\nblock-hash " + std::string(64, 'a') + "\nstate-root " +
                    std::string(64, 'b') + "\ntimestamp-ms 1\n\n\u2014 samr-k1 AAAAAA==\n");
       }),
       as_node, StatusCode::INVALID_ARGUMENT, "checkpoint"},
      {share_checkpoint, "a note of 1 MB",
       build<ShareCheckpointRequest>(
           [](ShareCheckpointRequest& r) { r.set_note(std::string(1 << 20, 'x')); }),
       as_node, StatusCode::RESOURCE_EXHAUSTED, "a checkpoint note is at most"},

      // ---- grpc.health.v1.Health (HealthCheckRequest{service = 1})
      {kHealthCheck, "empty request: the server as a whole", raw(""), kPublic, StatusCode::OK, ""},
      {kHealthCheck, "an unknown service", raw(std::string("\x0a\x0fno.such.Service", 17)), kPublic,
       StatusCode::NOT_FOUND, ""},
  };
}

// Rows every method gets: bytes that are not a protobuf, and a request above the configured
// max message size. Roles are the method's own, so that the bytes are what is refused.
std::vector<Row> generic_rows(const std::string& method_path, const std::string& role,
                              const std::string& request_type) {
  std::vector<Row> rows;
  if (method_path == "/credledger.v1.PeerService/Raft") {
    // The one exception: on a client stream, gRPC's callback reader reports a message that does
    // not parse exactly like the end of the stream, so the node ends the stream with OK (and
    // keeps serving, which is what the rest of the test checks).
    rows.push_back({method_path, "bytes that are not a protobuf end the stream", raw(kNotProtobuf),
                    role, StatusCode::OK, ""});
  } else {
    rows.push_back({method_path, "bytes that are not a protobuf", raw(kNotProtobuf), role,
                    StatusCode::INVALID_ARGUMENT, "is not a valid " + request_type});
  }
  rows.push_back({method_path, "a request above the max message size",
                  [] {
                    return Request{"", oversize_message(kMaxMessageBytes + 1024)};
                  },
                  role, StatusCode::RESOURCE_EXHAUSTED, "larger than max"});
  return rows;
}

// Who may call each method (for the generic rows).
std::string role_of(const std::string& service) {
  if (service == "credledger.v1.LedgerService") return kSamrRole;
  if (service == "credledger.v1.AdminService") return kOperator;
  if (service == "credledger.v1.PeerService") return "node:9";
  return kAuditor;
}

void run_row(Cluster& cluster, uint64_t node, const Row& row) {
  const Request request = row.request();
  const Reply reply = call_raw(cluster, node, row.method, row.role, request.bytes);
  INFO(row.method << ": " << row.what << " as '" << row.role << "' through node " << node);
  INFO("got " << describe(reply.status).substr(0, 300) << "; expected code " << row.code
              << " with '" << row.reason << "'");
  CHECK(reply.status.error_code() == row.code);
  CHECK(reply.status.error_message().find(row.reason) != std::string::npos);
  CHECK(reply.status.error_message().size() <= kStatusMessageBytesMax);
  if (row.check) row.check(reply);
}

// The health service's answer for the whole server: SERVING is the two bytes 08 01.
bool serving(Cluster& cluster, uint64_t node) {
  const Reply r = call_raw(cluster, node, kHealthCheck, kPublic, "");
  return r.status.ok() && r.responses.size() == 1 && r.responses[0] == std::string("\x08\x01", 2);
}

}  // namespace

TEST_CASE("every gRPC method refuses hostile input precisely and the node keeps serving",
          "[integration][hostile]") {
  Cluster cluster;
  cluster.start_all();
  Fixture f;
  f.leader = cluster.wait_for_leader();
  for (uint64_t id : cluster.ids()) {
    if (id != f.leader) f.follower = id;
  }

  // Something on the chain to refer to: a company's penalty, a blacklist entry and an
  // individual's penalty, covered by a quorum checkpoint.
  f.person = ledger_test::individual("110101199003074514");
  const std::vector<v1::SignedEvent> setup = {
      signed_event("hostile-setup-1", kSamr, ledger_test::enterprise(42)),
      signed_event("hostile-setup-2", kCourt, ledger_test::enterprise(43)),
      signed_event("hostile-setup-3", kSta, f.person)};
  for (const auto& e : setup) {
    const std::string agency = ledger_test::key_id_of(kSamr) == e.key_id()    ? "samr"
                               : ledger_test::key_id_of(kCourt) == e.key_id() ? "court"
                                                                              : "sta";
    SubmitResult r;
    for (int attempt = 0; attempt < 50; ++attempt) {
      r = submit(cluster, f.leader, agency_role(agency), {e});
      if (r.status.error_code() != StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(100ms);
    }
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
    REQUIRE(r.response.receipts(0).accepted());
  }
  f.accepted = setup[0];
  const auto before = cluster.wait_applied_equal(cluster.ids());
  check_same_head(before);
  f.head_height = before.front().height();
  f.tree_size = before.front().tree_size();
  REQUIRE(f.tree_size == setup.size());
  // A quorum checkpoint that covers the setup (cosigned every 200 ms), on both nodes the rows
  // go through.
  for (uint64_t node : {f.leader, f.follower}) {
    bool covered = false;
    for (int i = 0; i < 100 && !covered; ++i) {
      v1::CheckpointResponse response;
      auto context = context_as(kPublic, 2s);
      const grpc::Status s = cluster.audit(node)->GetCheckpoint(context.get(), {}, &response);
      covered = s.ok() && response.checkpoint().tree_size() == f.tree_size;
      if (!covered) std::this_thread::sleep_for(100ms);
    }
    INFO("node " << node);
    REQUIRE(covered);
  }

  // The table, checked against the descriptors: every method of every service in api.proto
  // has hand-written rows, among them one with its empty request.
  std::vector<Row> rows = hostile_rows(f);
  const google::protobuf::FileDescriptor* api =
      google::protobuf::DescriptorPool::generated_pool()
          ->FindServiceByName("credledger.v1.LedgerService")
          ->file();
  std::set<std::string> api_methods;
  for (int s = 0; s < api->service_count(); ++s) {
    const auto* service = api->service(s);
    for (int m = 0; m < service->method_count(); ++m) {
      const auto* method = service->method(m);
      const std::string p = path(*method);
      api_methods.insert(p);
      INFO(p);
      bool has_empty = false;
      for (const Row& row : rows) {
        if (row.method != p) continue;
        const Request request = row.request();
        if (!request.type.empty()) {
          INFO(row.what);
          CHECK(request.type == method->input_type()->full_name());
        }
        has_empty = has_empty ||
                    (request.type == method->input_type()->full_name() && request.bytes.empty());
      }
      CHECK(has_empty);
    }
  }
  CHECK(api_methods.size() == 23);  // 1 + 6 + 5 + 7 + 4
  std::vector<Row> generic;
  for (const std::string& p : api_methods) {
    const auto* method = google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
        p.substr(1, p.rfind('/') - 1) + "." + p.substr(p.rfind('/') + 1));
    for (Row& row : generic_rows(p, role_of(method->service()->full_name()),
                                 method->input_type()->full_name())) {
      generic.push_back(std::move(row));
    }
  }
  for (const std::string& p : {kHealthCheck, kHealthWatch}) {
    for (Row& row : generic_rows(p, kPublic, "grpc.health.v1.HealthCheckRequest")) {
      generic.push_back(std::move(row));
    }
  }

  const auto started = std::chrono::steady_clock::now();
  for (uint64_t node : {f.leader, f.follower}) {
    for (const Row& row : rows) run_row(cluster, node, row);
    for (const Row& row : generic) run_row(cluster, node, row);
  }
  const auto took = std::chrono::steady_clock::now() - started;
  WARN((rows.size() + generic.size()) * 2
       << " calls in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
       << " ms");

  // Afterwards: every node is up and SERVING, and the chain is what it was.
  for (uint64_t node : cluster.ids()) {
    INFO("node " << node << "\n" << cluster.log_tails());
    REQUIRE(cluster.running(node));
    CHECK(serving(cluster, node));
    // Protobuf's complaints about the hostile bytes went through the node's own log format
    // (#12), not raw to stderr.
    CHECK(cluster.log_text(node).find("[libprotobuf") == std::string::npos);
  }
  const auto after_table = cluster.wait_applied_equal(cluster.ids());
  check_same_head(after_table);
  CHECK(after_table.front().height() == before.front().height());
  CHECK(after_table.front().head_hash() == before.front().head_hash());
  CHECK(after_table.front().state_root() == before.front().state_root());
  CHECK(after_table.front().merkle_root() == before.front().merkle_root());
  CHECK(after_table.front().tree_size() == before.front().tree_size());
  CHECK(after_table.front().leader_id() == f.leader);
  for (size_t i = 0; i < setup.size(); ++i) {
    const v1::SignedEvent& e = setup[i];
    const EventResult r = get_event(cluster, f.follower, "hostile-setup-" + std::to_string(i + 1));
    INFO(describe(r.status));
    CHECK(r.status.ok());
    CHECK(r.response.event().SerializeAsString() == e.SerializeAsString());
  }

  // A valid Submit through the follower still commits everywhere, and a status query sees it.
  const v1::Subject company = ledger_test::enterprise(44);
  const SubmitResult r =
      submit(cluster, f.follower, kSamrRole, {signed_event("hostile-after", kSamr, company)});
  INFO(describe(r.status));
  REQUIRE(r.status.ok());
  REQUIRE(r.response.receipts(0).accepted());
  const auto after = cluster.wait_applied_equal(cluster.ids());
  check_same_head(after);
  CHECK(after.front().tree_size() == before.front().tree_size() + 1);
  v1::StatusRequest request;
  *request.mutable_subject() = company;
  request.set_consistency(v1::LINEARIZABLE);
  for (uint64_t node : cluster.ids()) {
    v1::SubjectStatus status;
    auto context = context_as(kRelying);
    const grpc::Status s = cluster.query(node)->GetSubjectStatus(context.get(), request, &status);
    INFO("node " << node << ": " << describe(s));
    REQUIRE(s.ok());
    CHECK(status.active_penalties_size() == 1);
  }
}

}  // namespace integration
