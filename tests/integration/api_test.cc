// The gRPC API of a real 3-node cluster as clients see it: bad input gets the right status code
// with the rule's name in the message and leaves no trace; each role (public, relying party,
// agency, auditor, operator) is allowed what it should and refused the rest; a LINEARIZABLE read
// on any node reflects an acknowledged Submit; identical submits racing through every node get
// one receipt; WatchSubject streams changes. Roles come from the x-credledger-role header of the
// plaintext development mode.
#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "tests/integration/events.h"

namespace integration {
namespace {

using grpc::StatusCode;
using ledger_test::kCourt;
using ledger_test::kSamr;
using ledger_test::kSta;

const std::string kSamrRole = "agency:samr";

// A status code and the text its message must contain.
void check_refused(const grpc::Status& status, StatusCode code, const std::string& reason) {
  INFO("got " << describe(status) << "; expected code " << code << " with '" << reason << "'");
  CHECK(status.error_code() == code);
  CHECK(status.error_message().find(reason) != std::string::npos);
}

v1::SubjectStatus status_ok(Cluster& cluster, uint64_t node, const std::string& role,
                            const v1::Subject& subject, v1::Consistency consistency = v1::LOCAL) {
  v1::StatusRequest request;
  *request.mutable_subject() = subject;
  request.set_consistency(consistency);
  v1::SubjectStatus response;
  auto context = context_as(role);
  const grpc::Status s = cluster.query(node)->GetSubjectStatus(context.get(), request, &response);
  INFO(role << " GetSubjectStatus on node " << node << ": " << describe(s));
  REQUIRE(s.ok());
  return response;
}

grpc::Status status_call(Cluster& cluster, uint64_t node, const std::string& role,
                         const v1::Subject& subject) {
  v1::StatusRequest request;
  *request.mutable_subject() = subject;
  v1::SubjectStatus response;
  auto context = context_as(role);
  return cluster.query(node)->GetSubjectStatus(context.get(), request, &response);
}

grpc::Status history_call(Cluster& cluster, uint64_t node, const std::string& role,
                          const v1::Subject& subject, v1::HistoryResponse* response = nullptr) {
  v1::HistoryRequest request;
  *request.mutable_subject() = subject;
  v1::HistoryResponse local;
  auto context = context_as(role);
  return cluster.query(node)->GetHistory(context.get(), request, response ? response : &local);
}

grpc::Status cluster_status_call(Cluster& cluster, uint64_t node, const std::string& role) {
  v1::ClusterStatusResponse response;
  auto context = context_as(role);
  return cluster.admin(node)->ClusterStatus(context.get(), {}, &response);
}

grpc::Status compact_call(Cluster& cluster, uint64_t node, const std::string& role) {
  v1::AdminResponse response;
  auto context = context_as(role);
  return cluster.admin(node)->Compact(context.get(), {}, &response);
}

grpc::Status access_log_call(Cluster& cluster, uint64_t node, const std::string& role,
                             v1::AccessLogResponse* response = nullptr) {
  v1::AccessLogRequest request;
  v1::AccessLogResponse local;
  auto context = context_as(role);
  return cluster.audit(node)->GetAccessLog(context.get(), request, response ? response : &local);
}

grpc::Status blocks_call(Cluster& cluster, uint64_t node, const std::string& role) {
  v1::GetBlocksRequest request;
  request.set_from_height(1);
  auto context = context_as(role);
  auto reader = cluster.audit(node)->GetBlocks(context.get(), request);
  v1::Block block;
  while (reader->Read(&block)) {
  }
  return reader->Finish();
}

// Submits and REQUIREs one accepted receipt.
v1::Receipt submit_ok(Cluster& cluster, uint64_t node, const v1::SignedEvent& event,
                      const std::string& role) {
  SubmitResult r;
  for (int attempt = 0; attempt < 50; ++attempt) {
    r = submit(cluster, node, role, {event});
    if (r.status.error_code() != StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(100ms);
  }
  INFO(describe(r.status));
  REQUIRE(r.status.ok());
  REQUIRE(r.response.receipts_size() == 1);
  INFO(r.response.receipts(0).ShortDebugString());
  REQUIRE(r.response.receipts(0).accepted());
  return r.response.receipts(0);
}

}  // namespace

TEST_CASE("bad input over gRPC gets the right status and reason and the cluster keeps serving",
          "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  const auto subject = ledger_test::enterprise(42);
  // Every case goes once through each node: the leader and the forwarding followers agree.
  auto refused_everywhere = [&](const std::vector<v1::SignedEvent>& events, const std::string& role,
                                StatusCode code, const std::string& reason) {
    for (uint64_t node : nodes) {
      INFO("through node " << node << (node == leader ? " (leader)" : " (follower)"));
      check_refused(submit(cluster, node, role, events).status, code, reason);
    }
  };
  size_t accepted = 0;

  SECTION("each rule") {
    // Payload bytes that are not a CreditEvent (a field claiming more bytes than there are).
    refused_everywhere(
        {ledger_test::sign_payload(std::string("\x0a\xff\xff\xff\x0f junk", 10), kSamr)}, kSamrRole,
        StatusCode::INVALID_ARGUMENT, "MALFORMED_EVENT");
    {
      v1::SignedEvent e = signed_event("bad-signature", kSamr, subject);
      std::string signature = e.signature();
      signature[5] ^= 0x40;
      e.set_signature(signature);
      // The refusal names the event by the id its payload claims (#12), though no one known
      // signed it.
      refused_everywhere({e}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "event 0 ('bad-signature') BAD_SIGNATURE");
      e = signed_event("bad-signature-2", kSamr, subject);
      e.set_payload(e.payload() + " ");  // bytes changed after signing
      refused_everywhere({e}, kSamrRole, StatusCode::INVALID_ARGUMENT, "BAD_SIGNATURE");
    }
    refused_everywhere({ledger_test::sign_with(valid_event("unknown-key", kSamr, subject),
                                               "mofcom-k1", ledger_test::rogue_keys())},
                       kSamrRole, StatusCode::INVALID_ARGUMENT, "event 0 ('unknown-key') UNKNOWN_KEY");
    {
      v1::CreditEvent e = valid_event("unknown-agency", kSamr, subject);
      e.set_issuer("mofcom");
      refused_everywhere(
          {ledger_test::sign_with(e, ledger_test::key_id_of(kSamr), ledger_test::keys_of(kSamr))},
          kSamrRole, StatusCode::INVALID_ARGUMENT, "UNKNOWN_AGENCY");
      e.set_issuer(std::string(kSta));  // samr's key, sta's name
      refused_everywhere(
          {ledger_test::sign_with(e, ledger_test::key_id_of(kSamr), ledger_test::keys_of(kSamr))},
          kSamrRole, StatusCode::INVALID_ARGUMENT, "KEY_NOT_OF_ISSUER");
    }
    {
      // The court has no ADMINISTRATIVE_PENALTY in its mandate; samr has no TAXATION sector.
      v1::CreditEvent e = ledger_test::penalty("court-penalty", kCourt, subject, v1::FINANCE,
                                               v1::MODERATE, wall_ms() - 1000, 30);
      refused_everywhere({ledger_test::sign(e)}, "agency:court", StatusCode::INVALID_ARGUMENT,
                         "OUT_OF_MANDATE_KIND");
      e = ledger_test::penalty("samr-tax", kSamr, subject, v1::TAXATION, v1::MODERATE,
                               wall_ms() - 1000, 30);
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "OUT_OF_MANDATE_SECTOR");
    }
    {
      v1::CreditEvent e = valid_event("no-basis", kSamr, subject);
      e.clear_legal_basis();
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "MISSING_LEGAL_BASIS");
      e = valid_event("unknown-basis", kSamr, subject);
      e.mutable_legal_basis()->set_code("NO-SUCH-LAW");
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "UNKNOWN_LEGAL_BASIS");
      e = valid_event("too-long", kSamr, subject);
      e.set_expires_at_ms(e.effective_at_ms() + 400 * ledger_test::kDayMs);  // basis allows 365
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "EXPIRY_BEYOND_MAX_PUBLICITY");
      e = valid_event("no-expiry", kSamr, subject);
      e.set_expires_at_ms(0);
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "MISSING_EXPIRY");
    }
    {
      v1::Subject bad = subject;
      bad.set_id(bad.id().substr(0, 17) + (bad.id()[17] == '0' ? "1" : "0"));  // check char
      refused_everywhere({signed_event("bad-uscc", kSamr, bad)}, kSamrRole,
                         StatusCode::INVALID_ARGUMENT, "INVALID_SUBJECT_ID");
      v1::Subject raw_id;
      raw_id.set_kind(v1::INDIVIDUAL);
      raw_id.set_id("110101199003074514");  // a raw national id is never accepted
      refused_everywhere({signed_event("raw-id", kSamr, raw_id)}, kSamrRole,
                         StatusCode::INVALID_ARGUMENT, "INVALID_SUBJECT_ID");
    }
    {
      // Stateful rules, checked by the leader before proposing.
      v1::CreditEvent e = valid_event("from-the-future", kSamr, subject);
      e.set_issued_at_ms(wall_ms() + 3600 * 1000);
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "ISSUED_IN_FUTURE");
      e = ledger_test::referring("restore-nothing", kSamr, subject, v1::RESTORATION, "no-such",
                                 wall_ms() - 1000);
      refused_everywhere({ledger_test::sign(e)}, kSamrRole, StatusCode::INVALID_ARGUMENT,
                         "REFERS_TO_UNKNOWN");
    }
    {
      // Oversize: a payload above max_event_bytes (4096 by default).
      v1::CreditEvent e = valid_event("oversize", kSamr, subject);
      e.set_summary(std::string(5000, 'x'));
      const v1::SignedEvent big = ledger_test::sign(e);
      REQUIRE(big.payload().size() > 4096);
      refused_everywhere({big}, kSamrRole, StatusCode::RESOURCE_EXHAUSTED, "OVERSIZE");
    }
    {
      // One bad event refuses the whole request, and the good one is not appended.
      std::vector<v1::SignedEvent> mixed = {signed_event("good-in-bad-batch", kSamr, subject)};
      v1::CreditEvent e = valid_event("bad-in-bad-batch", kSamr, subject);
      e.clear_legal_basis();
      mixed.push_back(ledger_test::sign(e));
      refused_everywhere(mixed, kSamrRole, StatusCode::INVALID_ARGUMENT, "event 1");
      for (uint64_t node : nodes) {
        CHECK(get_event(cluster, node, "good-in-bad-batch").status.error_code() ==
              StatusCode::NOT_FOUND);
      }
      // The same id twice in one request.
      refused_everywhere(
          {signed_event("twice", kSamr, subject), signed_event("twice", kSamr, subject)}, kSamrRole,
          StatusCode::INVALID_ARGUMENT, "DUPLICATE_EVENT_ID");
    }
    {
      // CheckSubjects takes 1 to 1,000 subjects; more is a limit (RESOURCE_EXHAUSTED, as for
      // Submit), none is a malformed request.
      v1::CheckRequest request;
      v1::CheckResponse response;
      auto none = context_as("relying:bank");
      check_refused(cluster.query(leader)->CheckSubjects(none.get(), request, &response),
                    StatusCode::INVALID_ARGUMENT, "1 to 1000");
      for (int i = 0; i < 1001; ++i) *request.add_subjects() = ledger_test::enterprise(i);
      auto many = context_as("relying:bank");
      check_refused(cluster.query(leader)->CheckSubjects(many.get(), request, &response),
                    StatusCode::RESOURCE_EXHAUSTED, "at most 1000 subjects per CheckSubjects");
      request.mutable_subjects()->RemoveLast();
      auto ok = context_as("relying:bank");
      const grpc::Status s = cluster.query(leader)->CheckSubjects(ok.get(), request, &response);
      INFO(describe(s));
      CHECK(s.ok());
      CHECK(response.statuses_size() == 1000);
      // GetBlocks beyond the head.
      v1::GetBlocksRequest beyond;
      beyond.set_from_height(1);
      beyond.set_to_height(1000000);
      auto blocks_context = context_as("auditor:a");
      auto reader = cluster.audit(leader)->GetBlocks(blocks_context.get(), beyond);
      v1::Block block;
      CHECK_FALSE(reader->Read(&block));
      check_refused(reader->Finish(), StatusCode::OUT_OF_RANGE, "beyond the head");
    }
    {
      // Empty and too-large requests.
      refused_everywhere({}, kSamrRole, StatusCode::INVALID_ARGUMENT, "no events");
      std::vector<v1::SignedEvent> many;
      const v1::SignedEvent one = signed_event("many", kSamr, subject);
      for (int i = 0; i < 1001; ++i) many.push_back(one);
      refused_everywhere(many, kSamrRole, StatusCode::RESOURCE_EXHAUSTED, "at most 1000");
    }
  }

  SECTION("duplicates and retries") {
    const v1::SignedEvent original = signed_event("dup-1", kSamr, subject);
    const v1::Receipt receipt = submit_ok(cluster, nodes[0], original, kSamrRole);
    ++accepted;
    // An identical retry, through any node, answers OK with the original receipt.
    for (uint64_t node : nodes) {
      const SubmitResult r = submit(cluster, node, kSamrRole, {original});
      INFO("node " << node << ": " << describe(r.status));
      REQUIRE(r.status.ok());
      REQUIRE(r.response.receipts_size() == 1);
      CHECK(r.response.receipts(0).SerializeAsString() == receipt.SerializeAsString());
    }
    // The same event_id with other content is refused.
    v1::CreditEvent changed = valid_event("dup-1", kSamr, subject);
    changed.set_summary("a different summary");
    refused_everywhere({ledger_test::sign(changed)}, kSamrRole, StatusCode::ALREADY_EXISTS,
                       "DUPLICATE_EVENT_ID");
    // A retry mixed with a new event: the old receipt and a new one.
    const v1::SignedEvent fresh = signed_event("dup-2", kSamr, subject);
    const SubmitResult r = submit(cluster, nodes[1], kSamrRole, {original, fresh});
    INFO(describe(r.status));
    REQUIRE(r.status.ok());
    REQUIRE(r.response.receipts_size() == 2);
    CHECK(r.response.receipts(0).SerializeAsString() == receipt.SerializeAsString());
    CHECK(r.response.receipts(1).accepted());
    CHECK(r.response.receipts(1).sequence() == receipt.sequence() + 1);
    ++accepted;
    for (uint64_t node : nodes) {
      const EventResult e = get_event(cluster, node, "dup-1");
      REQUIRE(e.status.ok());
      CHECK(e.response.event().SerializeAsString() == original.SerializeAsString());
    }
  }

  // Afterwards: every node still runs and serves, and the chains agree.
  for (uint64_t node : nodes) {
    INFO(cluster.log_tails());
    REQUIRE(cluster.running(node));
    submit_ok(cluster, node, signed_event("after-" + std::to_string(node), kSta, subject),
              "agency:sta");
    ++accepted;
  }
  const auto statuses = cluster.wait_applied_equal(nodes);
  check_same_head(statuses);
  // Nothing refused reached the chain.
  CHECK(statuses.front().tree_size() == accepted);
}

TEST_CASE("each role is allowed what it should and refused the rest", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  const uint64_t follower = nodes[0] == leader ? nodes[1] : nodes[0];
  const v1::Subject company = ledger_test::enterprise(7);
  const v1::Subject person = ledger_test::individual("110101199003074514");
  const v1::Receipt penalty_receipt =
      submit_ok(cluster, follower, signed_event("penalty-1", kSamr, company), kSamrRole);
  submit_ok(cluster, leader, signed_event("blacklist-1", kCourt, company), "agency:court");
  submit_ok(cluster, leader, signed_event("person-penalty-1", kSamr, person), kSamrRole);
  cluster.wait_applied_equal(nodes);

  SECTION("agency") {
    // Its own key: yes (above). Another agency's key: no, even for that agency's own event.
    check_refused(
        submit(cluster, leader, kSamrRole, {signed_event("sta-by-samr", kSta, company)}).status,
        StatusCode::PERMISSION_DENIED, "signed with a key of agency 'sta'");
    check_refused(
        submit(cluster, follower, kSamrRole,
               {signed_event("own", kSamr, company), signed_event("other", kCourt, company)})
            .status,
        StatusCode::PERMISSION_DENIED, "agency 'court'");
    CHECK(get_event(cluster, leader, "own").status.error_code() == StatusCode::NOT_FOUND);
    check_refused(cluster_status_call(cluster, leader, kSamrRole), StatusCode::PERMISSION_DENIED,
                  "admin API");
    check_refused(compact_call(cluster, follower, kSamrRole), StatusCode::PERMISSION_DENIED,
                  "admin API");
    check_refused(access_log_call(cluster, leader, kSamrRole), StatusCode::PERMISSION_DENIED,
                  "auditors only");
    // Agencies may read about individuals (and are logged).
    CHECK(status_ok(cluster, follower, kSamrRole, person).active_penalties_size() == 1);
    CHECK(blocks_call(cluster, follower, kSamrRole).ok());
  }

  SECTION("public") {
    // An enterprise: yes, but only what may be published.
    const v1::SubjectStatus s = status_ok(cluster, follower, "", company);
    CHECK(s.blacklisted());
    REQUIRE(s.blacklist_entries_size() == 1);
    CHECK(s.blacklist_entries(0).event_id() == "blacklist-1");
    CHECK(s.blacklist_entries(0).legal_basis().code() == ledger_test::kBasisDefaulter);
    CHECK(s.blacklist_entries(0).expires_at_ms() > wall_ms());
    CHECK(s.blacklist_entries(0).summary().empty());
    CHECK(s.score() == 0);
    CHECK(s.grade().empty());
    CHECK(s.active_penalties_size() == 0);
    CHECK(s.explanation_size() == 0);
    CHECK(s.event_count() == 0);
    // Withheld fields are named, so a score of 0 is never read as a score (#12).
    const std::vector<std::string> withheld(s.undisclosed_fields().begin(),
                                            s.undisclosed_fields().end());
    for (const char* field : {"score", "grade", "event_count", "active_penalties", "explanation",
                              "blacklist_entries.summary"}) {
      INFO(field);
      CHECK(std::find(withheld.begin(), withheld.end(), field) != withheld.end());
    }
    CHECK(status_ok(cluster, follower, "relying:bank", company).undisclosed_fields_size() == 0);
    // Through LINEARIZABLE (forwarded to the leader) the answer is redacted the same way.
    const v1::SubjectStatus lin = status_ok(cluster, follower, "", company, v1::LINEARIZABLE);
    CHECK(lin.undisclosed_fields_size() == s.undisclosed_fields_size());
    CHECK(lin.score() == 0);
    CHECK(lin.active_penalties_size() == 0);
    CHECK(lin.blacklist_entries_size() == 1);
    // An unknown role or a role without a name is public too.
    for (const std::string role : {"", "king:me", "agency:", "operator"}) {
      INFO("role '" << role << "'");
      check_refused(status_call(cluster, leader, role, person), StatusCode::PERMISSION_DENIED,
                    "query individuals");
      check_refused(history_call(cluster, leader, role, company), StatusCode::PERMISSION_DENIED,
                    "read histories");
      check_refused(get_event(cluster, leader, "penalty-1", role).status,
                    StatusCode::PERMISSION_DENIED, "read events");
      check_refused(
          submit(cluster, leader, role, {signed_event("public-1", kSamr, company)}).status,
          StatusCode::PERMISSION_DENIED, "submit events");
      check_refused(cluster_status_call(cluster, leader, role), StatusCode::PERMISSION_DENIED,
                    "admin API");
      check_refused(blocks_call(cluster, leader, role), StatusCode::PERMISSION_DENIED,
                    "read blocks");
      check_refused(access_log_call(cluster, leader, role), StatusCode::PERMISSION_DENIED,
                    "auditors only");
    }
    {
      v1::CheckRequest request;
      *request.add_subjects() = company;
      *request.add_subjects() = person;
      v1::CheckResponse response;
      auto context = context_as("");
      check_refused(cluster.query(leader)->CheckSubjects(context.get(), request, &response),
                    StatusCode::PERMISSION_DENIED, "subject 1");
    }
    {
      v1::BlacklistRequest request;
      request.set_sector(v1::FINANCE);
      v1::BlacklistResponse response;
      auto context = context_as("");
      const grpc::Status s =
          cluster.query(follower)->ListBlacklist(context.get(), request, &response);
      INFO(describe(s));
      REQUIRE(s.ok());
      REQUIRE(response.entries_size() == 1);
      CHECK(response.entries(0).event_id() == "blacklist-1");
      CHECK(response.entries(0).summary().empty());
      CHECK(!response.entries(0).legal_basis().code().empty());
    }
  }

  SECTION("relying party and auditor") {
    const std::string bank = "relying:bank";
    // An enterprise in full.
    const v1::SubjectStatus s = status_ok(cluster, follower, bank, company);
    CHECK(s.active_penalties_size() == 1);
    CHECK(!s.grade().empty());
    CHECK(s.explanation_size() >= 2);
    CHECK(s.event_count() == 2);
    CHECK(!s.blacklist_entries(0).summary().empty());
    // Individuals: yes, and each query is in the access log of the node that answered.
    const v1::SubjectStatus p = status_ok(cluster, follower, bank, person);
    REQUIRE(p.active_penalties_size() == 1);
    CHECK(p.active_penalties(0).event_id() == "person-penalty-1");
    v1::HistoryResponse history;
    REQUIRE(history_call(cluster, follower, bank, person, &history).ok());
    CHECK(history.entries_size() == 1);

    check_refused(access_log_call(cluster, follower, bank), StatusCode::PERMISSION_DENIED,
                  "auditors only");
    check_refused(access_log_call(cluster, follower, "operator:ops"), StatusCode::PERMISSION_DENIED,
                  "auditors only");
    v1::AccessLogResponse log;
    const grpc::Status s_log = access_log_call(cluster, follower, "auditor:a", &log);
    INFO(describe(s_log));
    REQUIRE(s_log.ok());
    std::vector<std::string> methods;
    for (const v1::AccessRecord& r : log.records()) {
      INFO(r.ShortDebugString());
      CHECK(r.subject().id() == person.id());  // the pseudonym, never a raw id
      if (r.caller_role() == "relying" && r.caller_name() == "bank") methods.push_back(r.method());
      CHECK(r.time_ms() > 0);
    }
    CHECK(methods == std::vector<std::string>{"GetSubjectStatus", "GetHistory"});
    // Enterprise queries are not access-logged.
    CHECK(log.records_size() == 2);

    // What a relying party may not do.
    check_refused(submit(cluster, leader, bank, {signed_event("bank-1", kSamr, company)}).status,
                  StatusCode::PERMISSION_DENIED, "submit events");
    check_refused(cluster_status_call(cluster, leader, bank), StatusCode::PERMISSION_DENIED,
                  "admin API");
    check_refused(blocks_call(cluster, leader, bank), StatusCode::PERMISSION_DENIED, "read blocks");

    // The auditor reads blocks and the access log, and may not submit or administer.
    CHECK(blocks_call(cluster, leader, "auditor:a").ok());
    check_refused(
        submit(cluster, leader, "auditor:a", {signed_event("aud-1", kSamr, company)}).status,
        StatusCode::PERMISSION_DENIED, "submit events");
    check_refused(cluster_status_call(cluster, leader, "auditor:a"), StatusCode::PERMISSION_DENIED,
                  "admin API");
  }

  SECTION("operator") {
    const std::string ops = "operator:ops";
    CHECK(cluster_status_call(cluster, follower, ops).ok());
    const grpc::Status compacted = compact_call(cluster, leader, ops);
    INFO(describe(compacted));
    CHECK(compacted.ok());
    check_refused(submit(cluster, leader, ops, {signed_event("ops-1", kSamr, company)}).status,
                  StatusCode::PERMISSION_DENIED, "submit events");
    check_refused(status_call(cluster, leader, ops, person), StatusCode::PERMISSION_DENIED,
                  "query individuals");
    // Compacting did not disturb anything: the cluster still commits.
    submit_ok(cluster, follower, signed_event("after-compact", kSamr, company), kSamrRole);
    check_same_head(cluster.wait_applied_equal(nodes));
  }
  CHECK(penalty_receipt.accepted());
}

TEST_CASE("a LINEARIZABLE read on any node reflects an acknowledged Submit", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  for (int i = 0; i < 30; ++i) {
    const v1::Subject subject = ledger_test::enterprise(500 + static_cast<uint64_t>(i));
    const std::string id = "lin-" + std::to_string(i);
    const uint64_t via = nodes[static_cast<size_t>(i) % nodes.size()];
    const v1::Receipt receipt =
        submit_ok(cluster, via, signed_event(id, kSamr, subject), kSamrRole);
    // Right after the acknowledgement, every node (followers first) answers with the event.
    std::vector<uint64_t> order;
    for (uint64_t n : nodes) {
      if (n != leader) order.push_back(n);
    }
    order.push_back(leader);
    for (uint64_t node : order) {
      const v1::SubjectStatus s =
          status_ok(cluster, node, "relying:bank", subject, v1::LINEARIZABLE);
      INFO("event " << id << " via node " << via << ", read on node " << node
                    << (node == leader ? " (leader)" : " (follower)"));
      CHECK(s.height() >= receipt.height());
      REQUIRE(s.active_penalties_size() == 1);
      CHECK(s.active_penalties(0).event_id() == id);
    }
  }
}

TEST_CASE("identical submits racing through every node get one and the same receipt",
          "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  constexpr int kRounds = 20;
  constexpr int kBatch = 10;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<v1::SignedEvent> events;
    for (int i = 0; i < kBatch; ++i) {
      events.push_back(signed_event("race-" + std::to_string(round) + "-" + std::to_string(i),
                                    kSamr, ledger_test::enterprise(round * kBatch + i)));
    }
    // Every client sends the same batch at once, each through another node (twice per node).
    std::vector<SubmitResult> results(2 * nodes.size());
    std::vector<std::thread> clients;
    for (size_t c = 0; c < results.size(); ++c) {
      clients.emplace_back(
          [&, c] { results[c] = submit(cluster, nodes[c % nodes.size()], kSamrRole, events); });
    }
    for (auto& t : clients) t.join();
    for (size_t c = 0; c < results.size(); ++c) {
      INFO("round " << round << " client " << c << ": " << describe(results[c].status));
      REQUIRE(results[c].status.ok());
      REQUIRE(results[c].response.receipts_size() == kBatch);
      for (int i = 0; i < kBatch; ++i) {
        INFO(results[c].response.receipts(i).ShortDebugString());
        CHECK(results[c].response.receipts(i).accepted());
        CHECK(results[c].response.receipts(i).SerializeAsString() ==
              results[0].response.receipts(i).SerializeAsString());
      }
    }
  }
  const auto statuses = cluster.wait_applied_equal(nodes);
  check_same_head(statuses);
  CHECK(statuses.front().tree_size() == kRounds * kBatch);
}

TEST_CASE("WatchSubject streams a subject's changes to an authorized watcher", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const std::vector<uint64_t> nodes = cluster.ids();
  const uint64_t follower = nodes[0] == leader ? nodes[1] : nodes[0];
  const v1::Subject person = ledger_test::individual("110101198001010011");

  v1::WatchRequest request;
  *request.mutable_subject() = person;
  auto context = context_as("relying:bank", 20s);
  auto reader = cluster.query(follower)->WatchSubject(context.get(), request);
  v1::SubjectStatus update;
  REQUIRE(reader->Read(&update));  // the status now
  CHECK(update.active_penalties_size() == 0);
  submit_ok(cluster, leader, signed_event("watched-1", kSamr, person), kSamrRole);
  REQUIRE(reader->Read(&update));  // after the block that changed it
  REQUIRE(update.active_penalties_size() == 1);
  CHECK(update.active_penalties(0).event_id() == "watched-1");
  context->TryCancel();
  (void)reader->Finish();

  // Individuals are not watched by the public.
  auto public_context = context_as("", 5s);
  auto refused = cluster.query(follower)->WatchSubject(public_context.get(), request);
  CHECK_FALSE(refused->Read(&update));
  check_refused(refused->Finish(), StatusCode::PERMISSION_DENIED, "query individuals");
}

}  // namespace integration

namespace integration {

TEST_CASE("the standard gRPC health service answers SERVING", "[integration]") {
  Cluster cluster;
  cluster.start_all();
  cluster.wait_for_leader();
  // grpc.health.v1.HealthCheckRequest{} is empty; HealthCheckResponse{status: SERVING} is the
  // two bytes 0x08 0x01 (field 1, varint 1). Sent as raw bytes so no health proto is needed.
  grpc::GenericStub stub(cluster.channel(1));
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);  // an empty message (a default ByteBuffer is no message)
  grpc::ByteBuffer response;
  auto context = context_as("");
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) { done.set_value(s); });
  const grpc::Status s = done.get_future().get();
  INFO(describe(s));
  REQUIRE(s.ok());
  std::vector<grpc::Slice> slices;
  REQUIRE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  CHECK(bytes == std::string("\x08\x01", 2));
}

TEST_CASE("answers at a ledger height: a correction counts from its height, never below it",
          "[integration]") {
  // #12: GetSubjectStatus, CheckSubjects, ListBlacklist and GetHistory answer "what did the
  // ledger say at height H, as of time t", after a later correction exists.
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  const uint64_t follower = leader == 1 ? 2 : 1;
  const v1::Subject company = ledger_test::enterprise(8100);
  const v1::Receipt penalty = submit_ok(cluster, leader, signed_event("ah-pen", kSamr, company),
                                        kSamrRole);
  const v1::Receipt listed = submit_ok(cluster, leader, signed_event("ah-bl", kCourt, company),
                                       "agency:court");
  auto correction = [](const std::string& id, std::string_view agency, const std::string& target,
                       const v1::Subject& subject) {
    v1::CreditEvent e = ledger_test::referring(id, agency, subject, v1::CORRECTION, target, wall_ms());
    e.set_issued_at_ms(wall_ms() - 1000);
    return ledger_test::sign(e);
  };
  const v1::Receipt fixed = submit_ok(cluster, leader, correction("ah-pen-fix", kSamr, "ah-pen", company),
                                      kSamrRole);
  const v1::Receipt unlisted = submit_ok(
      cluster, leader, correction("ah-bl-fix", kCourt, "ah-bl", company), "agency:court");
  REQUIRE(penalty.height() < fixed.height());
  REQUIRE(listed.height() < unlisted.height());
  cluster.wait_applied_equal(cluster.ids());
  const int64_t asked = wall_ms() - 3600 * 1000;  // an hour ago: before both corrections took effect

  auto status_at = [&](uint64_t node, uint64_t height, v1::Consistency consistency) {
    v1::StatusRequest request;
    *request.mutable_subject() = company;
    request.set_as_of_ms(asked);
    request.set_at_height(height);
    request.set_consistency(consistency);
    v1::SubjectStatus response;
    auto context = context_as("relying:bank");
    const grpc::Status s = cluster.query(node)->GetSubjectStatus(context.get(), request, &response);
    INFO("height " << height << " on node " << node << ": " << describe(s));
    REQUIRE(s.ok());
    return response;
  };
  for (v1::Consistency consistency : {v1::LOCAL, v1::LINEARIZABLE}) {
    INFO("consistency " << v1::Consistency_Name(consistency));
    const v1::SubjectStatus before = status_at(follower, listed.height(), consistency);
    CHECK(before.height() == listed.height());
    CHECK(before.active_penalties_size() == 1);
    CHECK(before.blacklisted());
    const v1::SubjectStatus between = status_at(follower, fixed.height(), consistency);
    CHECK(between.active_penalties_size() == 0);  // the penalty never counted from here on
    CHECK(between.blacklisted());
    const v1::SubjectStatus now = status_at(follower, 0, consistency);
    CHECK(now.active_penalties_size() == 0);
    CHECK_FALSE(now.blacklisted());
    CHECK(now.height() >= unlisted.height());
  }

  v1::CheckRequest check;
  *check.add_subjects() = company;
  check.set_as_of_ms(asked);
  check.set_at_height(penalty.height());
  v1::CheckResponse checked;
  auto check_context = context_as("relying:bank");
  REQUIRE(cluster.query(follower)->CheckSubjects(check_context.get(), check, &checked).ok());
  REQUIRE(checked.statuses_size() == 1);
  CHECK(checked.statuses(0).height() == penalty.height());
  CHECK(checked.statuses(0).active_penalties_size() == 1);

  auto blacklist_at = [&](uint64_t height) {
    v1::BlacklistRequest request;
    request.set_sector(v1::FINANCE);
    request.set_as_of_ms(asked);
    request.set_at_height(height);
    v1::BlacklistResponse response;
    auto context = context_as("");
    const grpc::Status s = cluster.query(follower)->ListBlacklist(context.get(), request, &response);
    INFO(describe(s));
    REQUIRE(s.ok());
    std::vector<std::string> ids;
    for (const auto& e : response.entries()) ids.push_back(e.event_id());
    return ids;
  };
  CHECK(blacklist_at(listed.height()) == std::vector<std::string>{"ah-bl"});
  CHECK(blacklist_at(0).empty());

  auto history_at = [&](uint64_t height) {
    v1::HistoryRequest request;
    *request.mutable_subject() = company;
    request.set_at_height(height);
    v1::HistoryResponse response;
    auto context = context_as("auditor:a");
    REQUIRE(cluster.query(follower)->GetHistory(context.get(), request, &response).ok());
    std::vector<std::string> out;
    for (const auto& e : response.entries()) {
      out.push_back(e.event_id() + (e.ended_by_event_id().empty() ? "" : "/" + e.ended_by_event_id()));
    }
    return out;
  };
  CHECK(history_at(listed.height()) == std::vector<std::string>{"ah-pen", "ah-bl"});
  CHECK(history_at(0) ==
        std::vector<std::string>{"ah-pen/ah-pen-fix", "ah-bl/ah-bl-fix", "ah-pen-fix", "ah-bl-fix"});

  // A height no node has applied yet.
  v1::StatusRequest beyond;
  *beyond.mutable_subject() = company;
  beyond.set_at_height(unlisted.height() + 1000000);
  v1::SubjectStatus ignored;
  auto beyond_context = context_as("relying:bank");
  check_refused(cluster.query(follower)->GetSubjectStatus(beyond_context.get(), beyond, &ignored),
                StatusCode::UNAVAILABLE, "is not applied on this node yet");
}

}  // namespace integration
