// credctl verbs that talk to running nodes over gRPC.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/event.h"
#include "ledger/export.h"
#include "ledger/validation.h"
#include "proto/api.grpc.pb.h"
#include "tools/cli_util.h"
#include "tools/credctl.h"

namespace credctl {
namespace {

namespace v1 = credledger::v1;
using tools::kExitError;
using tools::kExitFailure;
using tools::kExitOk;

int fail_status(const grpc::Status& status) {
  std::cerr << "credctl: " << tools::grpc_code_name(status.error_code()) << ": "
            << status.error_message() << "\n";
  return tools::grpc_exit_code(status);
}

int fail(const base::Status& status) { return tools::report_error("credctl", status); }

base::Result<tools::Client> connect(const Global& g) { return tools::Client::connect(g.client); }

base::Result<v1::Subject> make_subject(const std::string& kind, const std::string& id) {
  ASSIGN_OR_RETURN(v1::SubjectKind k, ledger::parse_subject_kind(kind));
  v1::Subject s;
  s.set_kind(k);
  s.set_id(id);
  if (auto bad = ledger::check_subject(s)) return base::Status::invalid_argument(bad->message);
  return s;
}

std::string sector_list(const google::protobuf::RepeatedField<int>& sectors) {
  std::string out;
  for (int s : sectors) {
    if (!out.empty()) out += ",";
    out += v1::Sector_Name(static_cast<v1::Sector>(s));
  }
  return out;
}

void print_entry_line(const v1::ViewEntry& e) {
  std::cout << "  " << std::left << std::setw(28) << e.event_id() << " "
            << std::setw(22) << v1::EventKind_Name(e.kind()) << " "
            << std::setw(18) << v1::Sector_Name(e.sector());
  if (e.severity() != v1::SEVERITY_UNSPECIFIED) std::cout << " " << v1::Severity_Name(e.severity());
  if (!e.legal_basis().code().empty()) std::cout << " basis " << e.legal_basis().code();
  std::cout << " from " << tools::format_time_ms(e.effective_at_ms());
  if (e.expires_at_ms()) std::cout << " until " << tools::format_time_ms(e.expires_at_ms());
  if (e.ended_by_kind() == v1::CORRECTION) {
    std::cout << " corrected by " << e.ended_by_event_id() << " (never counted)";
  } else if (e.ended_at_ms()) {
    std::cout << " ended " << tools::format_time_ms(e.ended_at_ms()) << " by "
              << v1::EventKind_Name(e.ended_by_kind());
  }
  std::cout << " (" << e.issuer() << ")\n";
}

bool undisclosed(const v1::SubjectStatus& s, const std::string& field) {
  return std::find(s.undisclosed_fields().begin(), s.undisclosed_fields().end(), field) !=
         s.undisclosed_fields().end();
}

void print_status(const v1::SubjectStatus& s) {
  std::cout << "subject      " << v1::SubjectKind_Name(s.subject().kind()) << " " << s.subject().id()
            << "\n"
            << "as of        " << tools::format_time_ms(s.as_of_ms()) << " (height " << s.height()
            << ")\n";
  if (undisclosed(s, "score")) {
    std::cout << "score        not disclosed to this caller (public callers see blacklist "
                 "entries only)\n";
  } else {
    std::cout << "score        " << s.score() << "   grade " << s.grade() << "\n";
  }
  std::cout << "blacklisted  "
            << (s.blacklisted() ? "yes: " + sector_list(s.blacklisted_sectors()) : std::string("no"))
            << "\n";
  if (s.blacklist_entries_size()) {
    std::cout << "blacklist entries\n";
    for (const auto& e : s.blacklist_entries()) print_entry_line(e);
  }
  if (s.active_penalties_size()) {
    std::cout << "active penalties\n";
    for (const auto& e : s.active_penalties()) print_entry_line(e);
  }
  if (s.commendations_size()) {
    std::cout << "commendations\n";
    for (const auto& e : s.commendations()) print_entry_line(e);
  }
  for (const auto& r : s.ratings()) {
    std::cout << "rating       " << r.rating() << " in " << v1::Sector_Name(r.sector()) << " by "
              << r.issuer() << "\n";
  }
  for (const auto& id : s.disputed_event_ids()) {
    std::cout << "disputed     " << id << " (objection open)\n";
  }
  if (s.explanation_size()) {
    std::cout << "explanation\n";
    for (const auto& item : s.explanation()) {
      std::cout << "  " << std::right << std::setw(6) << std::showpos << item.delta()
                << std::noshowpos << "  " << std::left << std::setw(28) << item.event_id() << " "
                << item.reason() << "\n";
    }
  }
}

// A file holds one SignedEvent JSON object or an array of them.
base::Result<std::vector<v1::SignedEvent>> read_signed_events(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, tools::read_file(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return base::Status::invalid_argument(path + " is not JSON");
  std::vector<v1::SignedEvent> out;
  auto add = [&](const nlohmann::json& item) -> base::Status {
    v1::SignedEvent e;
    RETURN_IF_ERROR(tools::from_json(item.dump(), e).with_context(path));
    out.push_back(std::move(e));
    return base::Status::ok();
  };
  if (j.is_array()) {
    for (const auto& item : j) RETURN_IF_ERROR(add(item));
  } else {
    RETURN_IF_ERROR(add(j));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

int run_submit(const Global& g, const std::vector<std::string>& files) {
  std::vector<v1::SignedEvent> events;
  for (const std::string& f : files) {
    auto got = read_signed_events(f);
    if (!got.is_ok()) return fail(got.status());
    for (auto& e : *got) events.push_back(std::move(e));
  }
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  bool any_rejected = false;
  nlohmann::json all = nlohmann::json::array();
  constexpr size_t kChunk = 1000;
  for (size_t start = 0; start < events.size(); start += kChunk) {
    v1::SubmitRequest request;
    for (size_t i = start; i < std::min(events.size(), start + kChunk); ++i) {
      *request.add_events() = events[i];
    }
    v1::SubmitResponse response;
    grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
      response.Clear();
      return v1::LedgerService::NewStub(channel)->Submit(&ctx, request, &response);
    });
    if (!status.ok()) return fail_status(status);
    for (const v1::Receipt& r : response.receipts()) {
      any_rejected = any_rejected || !r.accepted();
      if (g.json()) {
        all.push_back(nlohmann::json::parse(tools::to_json(r)));
        continue;
      }
      if (r.accepted()) {
        std::cout << "accepted  " << r.event_id() << "  height " << r.height() << "  sequence "
                  << r.sequence() << "\n";
      } else {
        std::cout << "rejected  " << r.event_id() << "  height " << r.height() << "  "
                  << v1::RejectReason_Name(r.reason()) << ": " << r.message() << "\n";
      }
    }
  }
  if (g.json()) std::cout << all.dump(2) << "\n";
  return any_rejected ? kExitFailure : kExitOk;
}

int run_event_get(const Global& g, const std::string& id) {
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::GetEventRequest request;
  request.set_event_id(id);
  v1::EventResponse response;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::QueryService::NewStub(channel)->GetEvent(&ctx, request, &response);
  });
  if (!status.ok()) return fail_status(status);
  if (g.json()) {
    std::cout << tools::to_json(response) << "\n";
    return kExitOk;
  }
  auto event = ledger::parse_event_payload(response.event().payload());
  if (event.is_ok()) std::cout << tools::to_json(*event) << "\n";
  const v1::Receipt& r = response.receipt();
  std::cout << "height " << response.height() << " index " << response.index() << "  "
            << (r.accepted() ? "accepted, sequence " + std::to_string(r.sequence())
                             : "rejected: " + v1::RejectReason_Name(r.reason()) + ": " + r.message())
            << "\nevent hash " << ledger::to_hex(r.event_hash()) << "\n";
  if (response.has_entry() && response.entry().ended_at_ms()) {
    std::cout << "ended " << tools::format_time_ms(response.entry().ended_at_ms()) << " by "
              << response.entry().ended_by_event_id() << "\n";
  }
  return kExitOk;
}

struct StatusArgs {
  std::string kind = "enterprise", id, as_of;
  bool linearizable = false;
  uint64_t at_height = 0;
};

int run_status(const Global& g, const StatusArgs& a) {
  auto subject = make_subject(a.kind, a.id);
  if (!subject.is_ok()) return fail(subject.status());
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::StatusRequest request;
  *request.mutable_subject() = *subject;
  if (!a.as_of.empty()) {
    auto t = tools::parse_time_ms(a.as_of);
    if (!t.is_ok()) return fail(t.status());
    request.set_as_of_ms(*t);
  }
  request.set_consistency(a.linearizable ? v1::LINEARIZABLE : v1::LOCAL);
  request.set_at_height(a.at_height);
  v1::SubjectStatus response;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::QueryService::NewStub(channel)->GetSubjectStatus(&ctx, request, &response);
  });
  if (!status.ok()) return fail_status(status);
  if (g.json()) {
    std::cout << tools::to_json(response) << "\n";
  } else {
    print_status(response);
  }
  return kExitOk;
}

// A subjects file: one subject per line, "ID" (an enterprise USCC) or "KIND ID"; # comments.
int run_check(const Global& g, const std::string& file, const std::string& as_of, bool linearizable,
              uint64_t at_height) {
  auto text = tools::read_file(file);
  if (!text.is_ok()) return fail(text.status());
  v1::CheckRequest request;
  std::stringstream ss(*text);
  std::string line;
  int line_no = 0;
  while (std::getline(ss, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ls(line);
    std::string a, b;
    ls >> a >> b;
    auto subject = b.empty() ? make_subject("enterprise", a) : make_subject(a, b);
    if (!subject.is_ok()) {
      return fail(subject.status().with_context(file + ":" + std::to_string(line_no)));
    }
    *request.add_subjects() = *subject;
  }
  if (!as_of.empty()) {
    auto t = tools::parse_time_ms(as_of);
    if (!t.is_ok()) return fail(t.status());
    request.set_as_of_ms(*t);
  }
  request.set_consistency(linearizable ? v1::LINEARIZABLE : v1::LOCAL);
  request.set_at_height(at_height);
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::CheckResponse response;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::QueryService::NewStub(channel)->CheckSubjects(&ctx, request, &response);
  });
  if (!status.ok()) return fail_status(status);
  bool any_blacklisted = false;
  if (g.json()) {
    std::cout << tools::to_json(response) << "\n";
  } else {
    std::cout << std::left << std::setw(66) << "SUBJECT" << std::setw(7) << "GRADE" << std::setw(7)
              << "SCORE" << "BLACKLISTED\n";
  }
  for (const auto& s : response.statuses()) {
    any_blacklisted = any_blacklisted || s.blacklisted();
    if (g.json()) continue;
    // "n/d": not disclosed to this caller (never a score of 0).
    std::cout << std::left << std::setw(66) << s.subject().id() << std::setw(7)
              << (undisclosed(s, "grade") ? "n/d" : s.grade()) << std::setw(7)
              << (undisclosed(s, "score") ? std::string("n/d") : std::to_string(s.score()))
              << (s.blacklisted() ? sector_list(s.blacklisted_sectors()) : "no") << "\n";
  }
  // Scripts screening bidders: exit 1 when any subject is blacklisted.
  return any_blacklisted ? kExitFailure : kExitOk;
}

int run_blacklist(const Global& g, const std::string& sector_text, const std::string& as_of,
                  uint32_t limit, uint64_t at_height) {
  auto sector = ledger::parse_sector(sector_text);
  if (!sector.is_ok()) return fail(sector.status());
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::BlacklistRequest request;
  request.set_sector(*sector);
  request.set_at_height(at_height);
  if (!as_of.empty()) {
    auto t = tools::parse_time_ms(as_of);
    if (!t.is_ok()) return fail(t.status());
    request.set_as_of_ms(*t);
  } else {
    request.set_as_of_ms(tools::now_ms());  // one time for every page
  }
  nlohmann::json all = nlohmann::json::array();
  uint32_t shown = 0;
  do {
    request.set_page_size(std::min<uint32_t>(1000, limit - shown));
    v1::BlacklistResponse response;
    grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
      return v1::QueryService::NewStub(channel)->ListBlacklist(&ctx, request, &response);
    });
    if (!status.ok()) return fail_status(status);
    for (const auto& e : response.entries()) {
      ++shown;
      if (g.json()) {
        all.push_back(nlohmann::json::parse(tools::to_json(e)));
      } else {
        std::cout << e.subject().id() << "\n";
        print_entry_line(e);
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() && shown < limit);
  if (g.json()) std::cout << all.dump(2) << "\n";
  return kExitOk;
}

int run_history(const Global& g, const std::string& kind, const std::string& id,
                uint64_t at_height) {
  auto subject = make_subject(kind, id);
  if (!subject.is_ok()) return fail(subject.status());
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::HistoryRequest request;
  *request.mutable_subject() = *subject;
  request.set_page_size(1000);
  request.set_at_height(at_height);
  nlohmann::json all = nlohmann::json::array();
  do {
    v1::HistoryResponse response;
    grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
      return v1::QueryService::NewStub(channel)->GetHistory(&ctx, request, &response);
    });
    if (!status.ok()) return fail_status(status);
    for (const auto& e : response.entries()) {
      if (g.json()) {
        all.push_back(nlohmann::json::parse(tools::to_json(e)));
      } else {
        std::cout << "#" << e.sequence() << " h" << e.height() << " "
                  << tools::format_time_ms(e.recorded_at_ms());
        print_entry_line(e);
      }
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (g.json()) std::cout << all.dump(2) << "\n";
  return kExitOk;
}

int run_watch(const Global& g, const std::string& kind, const std::string& id, int count) {
  auto subject = make_subject(kind, id);
  if (!subject.is_ok()) return fail(subject.status());
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::WatchRequest request;
  *request.mutable_subject() = *subject;
  grpc::ClientContext ctx;
  client->prepare(ctx, /*streaming=*/true);
  auto stub = v1::QueryService::NewStub(client->channels().front());
  auto reader = stub->WatchSubject(&ctx, request);
  v1::SubjectStatus s;
  int seen = 0;
  while (reader->Read(&s)) {
    if (g.json()) {
      google::protobuf::util::JsonPrintOptions o;
      o.preserve_proto_field_names = true;
      std::string line;
      (void)google::protobuf::util::MessageToJsonString(s, &line, o);
      std::cout << line << std::endl;
    } else {
      print_status(s);
      std::cout << "--" << std::endl;
    }
    if (count > 0 && ++seen >= count) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::CANCELLED) return fail_status(status);
  return kExitOk;
}

grpc::Status ask_cluster_status(const tools::Client& client, v1::ClusterStatusResponse& r) {
  return client.call([&](auto channel, grpc::ClientContext& ctx) {
    r.Clear();
    return v1::AdminService::NewStub(channel)->ClusterStatus(&ctx, v1::ClusterStatusRequest(), &r);
  });
}

// Only the leader knows each member's match index and lag. Asked of another node, this asks
// the leader that node names, at its member address and with the same credentials; if the
// leader cannot be reached, it shows the node's own answer and says that it is a follower's.
int run_cluster_status(const Global& g) {
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::ClusterStatusResponse asked;
  grpc::Status status = ask_cluster_status(*client, asked);
  if (!status.ok()) return fail_status(status);
  v1::ClusterStatusResponse r = asked;
  std::string view;  // how the answer shown was obtained, when not from the node asked
  if (asked.role() != "leader") {
    const std::string self = "node " + std::to_string(asked.node_id()) + " (" + asked.role() + ")";
    if (asked.leader_id() == 0 || asked.leader_address().empty()) {
      view = "a follower's view: " + self +
             " knows no leader; match and lag are known only to a leader";
    } else {
      const std::string leader =
          "leader " + std::to_string(asked.leader_id()) + " at " + asked.leader_address();
      tools::ClientOptions options = g.client;
      options.endpoints = asked.leader_address();
      auto leader_client = tools::Client::connect(options);
      v1::ClusterStatusResponse answer;
      grpc::Status leader_status =
          leader_client.is_ok() ? ask_cluster_status(*leader_client, answer)
                                : grpc::Status(grpc::UNAVAILABLE, leader_client.status().message());
      if (leader_status.ok() && answer.role() == "leader") {
        r = answer;
        view = "asked " + self + "; shown: the view of " + leader;
      } else {
        view = "a follower's view: " + leader + " could not be asked (" +
               (leader_status.ok() ? "it is no longer the leader"
                                   : tools::grpc_code_name(leader_status.error_code()) + ": " +
                                         leader_status.error_message()) +
               "); match and lag are known only to the leader";
      }
    }
  }
  if (g.json()) {
    std::cout << tools::to_json(r) << "\n";
    if (view.rfind("a follower's view", 0) == 0) std::cerr << "credctl: " << view << "\n";
    return kExitOk;
  }
  std::cout << "node " << r.node_id() << " (" << r.role() << "), leader " << r.leader_id() << " "
            << r.leader_address() << ", term " << r.term() << "\n";
  if (!view.empty()) std::cout << "(" << view << ")\n";
  std::cout << "commit " << r.commit_index() << "  applied " << r.applied_index() << "  height "
            << r.height() << "  events " << r.tree_size() << "\n"
            << "head   " << ledger::to_hex(r.head_hash()) << "\n"
            << "state  " << ledger::to_hex(r.state_root()) << "\n"
            << "merkle " << ledger::to_hex(r.merkle_root()) << "\n\n"
            << std::left << std::setw(6) << "ID" << std::setw(24) << "ADDRESS" << std::setw(10)
            << "ROLE" << std::setw(8) << "VOTER" << std::setw(12) << "MATCH"
            << "LAG\n";
  for (const auto& m : r.members()) {
    std::cout << std::left << std::setw(6) << m.id() << std::setw(24) << m.address() << std::setw(10)
              << m.role() << std::setw(8) << (m.voter() ? "yes" : "no") << std::setw(12)
              << (m.match_index() ? std::to_string(m.match_index()) : "-")
              << (m.match_index() ? std::to_string(m.lag()) : "-") << "\n";
  }
  return kExitOk;
}

// Exit 1 when damage was found (the node then repairs it from peers in the background), so a
// cron job or a script can alert on it.
int run_storage_verify(const Global& g, uint64_t from, uint64_t to) {
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::VerifyStorageRequest request;
  request.set_from_height(from);
  request.set_to_height(to);
  v1::VerifyStorageResponse r;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::AdminService::NewStub(channel)->VerifyStorage(&ctx, request, &r);
  });
  if (!status.ok()) return fail_status(status);
  if (g.json()) {
    std::cout << tools::to_json(r) << "\n";
    return r.damages().empty() ? kExitOk : kExitFailure;
  }
  const uint64_t last = to == 0 ? r.head_height() : to;
  if (r.damages().empty()) {
    std::cout << "storage verified: heights " << std::max<uint64_t>(from, 1) << ".." << last
              << " and every RocksDB file checksum are intact\n";
    return kExitOk;
  }
  for (const auto& d : r.damages()) {
    std::cout << "damaged height " << d.height() << " (" << (d.block() ? "block" : "Merkle nodes")
              << "): " << d.reason() << "\n";
  }
  std::cout << r.damages_size() << " damaged height(s); "
            << (r.repair_started() ? "repair from peers' verified copies started"
                                   : "no repair started")
            << "\n";
  return kExitFailure;
}

template <typename Invoke>
int run_admin(const Global& g, Invoke invoke) {
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::AdminResponse r;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    auto stub = v1::AdminService::NewStub(channel);
    return invoke(*stub, ctx, r);
  });
  if (!status.ok()) return fail_status(status);
  if (g.json()) {
    std::cout << tools::to_json(r) << "\n";
  } else {
    std::cout << r.message() << "\n";
  }
  return kExitOk;
}

int run_access_log(const Global& g, uint64_t after, uint32_t limit) {
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::AccessLogRequest request;
  request.set_after_sequence(after);
  request.set_limit(limit);
  v1::AccessLogResponse r;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::AuditService::NewStub(channel)->GetAccessLog(&ctx, request, &r);
  });
  if (!status.ok()) return fail_status(status);
  if (g.json()) {
    std::cout << tools::to_json(r) << "\n";
    return kExitOk;
  }
  for (const auto& rec : r.records()) {
    std::cout << rec.sequence() << "  " << tools::format_time_ms(rec.time_ms()) << "  "
              << rec.caller_role() << ":" << rec.caller_name() << "  " << rec.method() << "  "
              << rec.subject().id() << "\n";
  }
  return kExitOk;
}

base::Result<ledger::CosignedCheckpoint> fetch_checkpoint(const tools::Client& client,
                                                          uint64_t height, grpc::Status& status) {
  v1::GetCheckpointRequest request;
  request.set_height(height);
  v1::CheckpointResponse response;
  status = client.call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::AuditService::NewStub(channel)->GetCheckpoint(&ctx, request, &response);
  });
  if (!status.ok()) return base::Status::unavailable(status.error_message());
  return ledger::parse_checkpoint_note(response.note());
}

int run_checkpoint(const Global& g, uint64_t height, const std::string& out, bool force) {
  if (!out.empty()) {
    if (auto s = tools::check_overwrite(out, force); !s.is_ok()) return fail(s);
  }
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  grpc::Status status;
  auto cp = fetch_checkpoint(*client, height, status);
  if (!status.ok()) return fail_status(status);
  if (!cp.is_ok()) return fail(cp.status());
  const std::string json = ledger::checkpoint_to_json(*cp);
  if (!out.empty()) {
    if (auto s = tools::write_file(out, json + "\n", force); !s.is_ok()) return fail(s);
  }
  if (g.json() || out.empty()) {
    std::cout << (g.json() ? json : cp->text()) << "\n";
  } else {
    std::cout << "checkpoint at height " << cp->checkpoint.height() << " (tree size "
              << cp->checkpoint.tree_size() << ", " << cp->note.signatures.size()
              << " cosignatures) written to " << out << "\n";
  }
  return kExitOk;
}

int run_proof_inclusion(const Global& g, const std::string& event_id, uint64_t leaf,
                        uint64_t checkpoint_height, const std::string& out, bool force) {
  if (!out.empty()) {
    if (auto s = tools::check_overwrite(out, force); !s.is_ok()) return fail(s);
  }
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::InclusionProofRequest request;
  request.set_event_id(event_id);
  request.set_leaf_index(leaf);
  request.set_checkpoint_height(checkpoint_height);
  v1::InclusionProofResponse response;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::AuditService::NewStub(channel)->GetInclusionProof(&ctx, request, &response);
  });
  if (!status.ok()) return fail_status(status);
  ledger::InclusionProof proof;
  proof.leaf_index = response.leaf_index();
  proof.tree_size = response.tree_size();
  proof.leaf_data = response.leaf_data();
  for (const auto& h : response.path()) {
    auto hash = ledger::hash_from_bytes(h);
    if (!hash.is_ok()) return fail(hash.status());
    proof.path.push_back(*hash);
  }
  auto cp = ledger::parse_checkpoint_note(response.checkpoint_note());
  if (!cp.is_ok()) return fail(cp.status());
  proof.checkpoint = std::move(cp).value();
  const std::string json = ledger::inclusion_proof_to_json(proof);
  if (out.empty()) {
    std::cout << json << "\n";
    return kExitOk;
  }
  if (auto s = tools::write_file(out, json + "\n", force); !s.is_ok()) return fail(s);
  std::cout << "inclusion proof of leaf " << proof.leaf_index << " in tree size "
            << proof.tree_size << " (" << proof.path.size() << " hashes) written to " << out
            << "\n";
  return kExitOk;
}

int run_proof_consistency(const Global& g, uint64_t old_height, uint64_t new_height,
                          const std::string& out, bool force) {
  if (!out.empty()) {
    if (auto s = tools::check_overwrite(out, force); !s.is_ok()) return fail(s);
  }
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  v1::ConsistencyProofRequest request;
  request.set_old_height(old_height);
  request.set_new_height(new_height);
  v1::ConsistencyProofResponse response;
  grpc::Status status = client->call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::AuditService::NewStub(channel)->GetConsistencyProof(&ctx, request, &response);
  });
  if (!status.ok()) return fail_status(status);
  ledger::ConsistencyProof proof;
  proof.old_size = response.old_size();
  proof.new_size = response.new_size();
  for (const auto& h : response.path()) {
    auto hash = ledger::hash_from_bytes(h);
    if (!hash.is_ok()) return fail(hash.status());
    proof.path.push_back(*hash);
  }
  auto older = ledger::parse_checkpoint_note(response.old_checkpoint_note());
  auto newer = ledger::parse_checkpoint_note(response.new_checkpoint_note());
  if (!older.is_ok()) return fail(older.status());
  if (!newer.is_ok()) return fail(newer.status());
  proof.old_checkpoint = std::move(older).value();
  proof.new_checkpoint = std::move(newer).value();
  const std::string json = ledger::consistency_proof_to_json(proof);
  if (out.empty()) {
    std::cout << json << "\n";
    return kExitOk;
  }
  if (auto s = tools::write_file(out, json + "\n", force); !s.is_ok()) return fail(s);
  std::cout << "consistency proof " << proof.old_size << " -> " << proof.new_size << " ("
            << proof.path.size() << " hashes) written to " << out << "\n";
  return kExitOk;
}

int run_export(const Global& g, uint64_t from, uint64_t to, const std::string& out, bool force) {
  if (out.empty()) return fail(base::Status::invalid_argument("--out is required"));
  if (auto s = tools::check_overwrite(out, force); !s.is_ok()) return fail(s);
  auto client = connect(g);
  if (!client.is_ok()) return fail(client.status());
  // Streamed into "<out>.tmp" and renamed when complete: a failed export leaves no partial file.
  const std::string tmp = out + ".tmp";
  std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
  if (!file) return fail(base::Status::io_error("cannot write " + tmp));
  ledger::ChainWriter writer(file);
  v1::GetBlocksRequest request;
  request.set_from_height(from);
  request.set_to_height(to);
  grpc::ClientContext ctx;
  client->prepare(ctx, /*streaming=*/true);
  auto reader = v1::AuditService::NewStub(client->channels().front())->GetBlocks(&ctx, request);
  v1::Block block;
  uint64_t blocks = 0, events = 0;
  while (reader->Read(&block)) {
    if (auto s = writer.write(block); !s.is_ok()) return fail(s);
    ++blocks;
    events += static_cast<uint64_t>(block.events_size());
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::remove(tmp.c_str());
    return fail_status(status);
  }
  if (auto s = writer.finish(); !s.is_ok()) return fail(s);
  file.close();
  if (!file) return fail(base::Status::io_error("cannot write " + tmp));
  if (auto s = tools::rename_into_place(tmp, out); !s.is_ok()) return fail(s);
  if (g.json()) {
    std::cout << nlohmann::json{{"file", out}, {"blocks", blocks}, {"events", events},
                                {"bytes", writer.bytes_written()}}.dump(2) << "\n";
  } else {
    std::cout << "exported " << blocks << " blocks (" << events << " events, "
              << writer.bytes_written() << " bytes) to " << out << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_node_commands(CLI::App& app, Global& g, int& rc) {
  app.add_option("--endpoints", g.client.endpoints,
                 "comma-separated node addresses (default $CREDLEDGER_ENDPOINTS or "
                 "127.0.0.1:7001)");
  app.add_option("--cacert", g.client.cacert,
                 "consortium CA certificate (TLS; default $CREDLEDGER_CACERT)");
  app.add_option("--cert", g.client.cert,
                 "client certificate; its CN is the role, e.g. agency:samr (default "
                 "$CREDLEDGER_CERT)");
  app.add_option("--key", g.client.key, "client certificate key (default $CREDLEDGER_KEY)");
  app.add_flag("--insecure", g.client.insecure, "plaintext, for a development cluster");
  app.add_option("--role", g.client.role, "plaintext mode: role:name sent to the node");
  app.add_option("--timeout-ms", g.client.timeout_ms, "per-call deadline")->capture_default_str();

  CLI::App* event_cmd = app.get_subcommand("event");
  static std::vector<std::string> submit_files;
  auto* submit = event_cmd->add_subcommand("submit", "submit signed events and wait for receipts");
  submit->add_option("files", submit_files, "signed event JSON files (object or array)")->required();
  submit->callback([&] { rc = run_submit(g, submit_files); });

  static std::string get_id;
  auto* get = event_cmd->add_subcommand("get", "an event with its receipt and position");
  get->add_option("event_id", get_id)->required();
  get->callback([&] { rc = run_event_get(g, get_id); });

  static StatusArgs status_args;
  auto* status = app.add_subcommand("status", "a subject's status, score, grade and explanation");
  status->add_option("subject", status_args.id, "USCC or 64-hex pseudonym")->required();
  status->add_option("--kind", status_args.kind, "subject kind")->capture_default_str();
  status->add_option("--as-of", status_args.as_of, "time (default now)");
  status->add_flag("--linearizable", status_args.linearizable,
                   "reflect every acknowledged event (ReadIndex)");
  const char* kAtHeightHelp =
      "what the ledger said at this height (a checkpoint's height; default the head): later "
      "corrections, restorations and rulings do not count";
  status->add_option("--at-height", status_args.at_height, kAtHeightHelp);
  status->callback([&] { rc = run_status(g, status_args); });

  static std::string check_file, check_as_of;
  static bool check_linearizable = false;
  static uint64_t check_at_height = 0;
  auto* check = app.add_subcommand("check", "screen subjects listed in a file (exit 1 if any is blacklisted)");
  check->add_option("file", check_file, "one subject per line: ID or KIND ID")->required();
  check->add_option("--as-of", check_as_of, "time (default now)");
  check->add_flag("--linearizable", check_linearizable, "ReadIndex consistency");
  check->add_option("--at-height", check_at_height, kAtHeightHelp);
  check->callback(
      [&] { rc = run_check(g, check_file, check_as_of, check_linearizable, check_at_height); });

  auto* blacklist = app.add_subcommand("blacklist", "sector blacklists");
  blacklist->require_subcommand(1);
  static std::string bl_sector, bl_as_of;
  static uint32_t bl_limit = 1000;
  static uint64_t bl_at_height = 0;
  auto* bl_list = blacklist->add_subcommand("list", "entries active in a sector");
  bl_list->add_option("--sector", bl_sector, "e.g. real-estate")->required();
  bl_list->add_option("--as-of", bl_as_of, "time (default now)");
  bl_list->add_option("--limit", bl_limit, "at most this many entries")->capture_default_str();
  bl_list->add_option("--at-height", bl_at_height, kAtHeightHelp);
  bl_list->callback([&] { rc = run_blacklist(g, bl_sector, bl_as_of, bl_limit, bl_at_height); });

  static std::string hist_kind = "enterprise", hist_id;
  static uint64_t hist_at_height = 0;
  auto* history = app.add_subcommand("history", "a subject's events in ledger order");
  history->add_option("subject", hist_id)->required();
  history->add_option("--kind", hist_kind)->capture_default_str();
  history->add_option("--at-height", hist_at_height, kAtHeightHelp);
  history->callback([&] { rc = run_history(g, hist_kind, hist_id, hist_at_height); });

  static std::string watch_kind = "enterprise", watch_id;
  static int watch_count = 0;
  auto* watch = app.add_subcommand("watch", "print a subject's status whenever it changes");
  watch->add_option("subject", watch_id)->required();
  watch->add_option("--kind", watch_kind)->capture_default_str();
  watch->add_option("--count", watch_count, "stop after this many updates (0 = never)");
  watch->callback([&] { rc = run_watch(g, watch_kind, watch_id, watch_count); });

  static uint64_t access_after = 0;
  static uint32_t access_limit = 100;
  auto* access = app.add_subcommand("access-log", "queries about individuals (auditors)");
  access->add_option("--after", access_after, "sequence to start after");
  access->add_option("--limit", access_limit)->capture_default_str();
  access->callback([&] { rc = run_access_log(g, access_after, access_limit); });

  static uint64_t cp_height = 0;
  static std::string cp_out;
  static bool cp_force = false;
  auto* checkpoint = app.add_subcommand("checkpoint", "the latest checkpoint cosigned by a quorum");
  checkpoint->add_option("--height", cp_height, "a stored checkpoint's height (default latest)");
  checkpoint->add_option("--out", cp_out, "write cp.json here");
  checkpoint->add_flag("--force", cp_force, "replace an existing file");
  checkpoint->callback([&] { rc = run_checkpoint(g, cp_height, cp_out, cp_force); });

  auto* proof = app.add_subcommand("proof", "RFC 6962 proofs against cosigned checkpoints");
  proof->require_subcommand(1);
  static std::string proof_event, proof_out;
  static uint64_t proof_leaf = 0, proof_cp = 0, proof_old = 0, proof_new = 0;
  static bool proof_force = false;
  auto* inclusion = proof->add_subcommand("inclusion", "an event is in the log of a checkpoint");
  inclusion->add_option("--event", proof_event, "event id");
  inclusion->add_option("--leaf", proof_leaf, "or its sequence number");
  inclusion->add_option("--checkpoint-height", proof_cp, "default: latest quorum checkpoint");
  inclusion->add_option("--out", proof_out, "write proof.json here");
  inclusion->add_flag("--force", proof_force, "replace an existing file");
  inclusion->callback([&] {
    rc = run_proof_inclusion(g, proof_event, proof_leaf, proof_cp, proof_out, proof_force);
  });
  auto* consistency = proof->add_subcommand("consistency", "a newer checkpoint extends an older");
  consistency->add_option("--old", proof_old, "older checkpoint height")->required();
  consistency->add_option("--new", proof_new, "newer checkpoint height (default latest)");
  consistency->add_option("--out", proof_out, "write proof.json here");
  consistency->add_flag("--force", proof_force, "replace an existing file");
  consistency->callback(
      [&] { rc = run_proof_consistency(g, proof_old, proof_new, proof_out, proof_force); });

  static uint64_t export_from = 0, export_to = 0;
  static std::string export_out;
  static bool export_force = false;
  auto* exp = app.add_subcommand("export", "stream blocks into a chain export for credaudit");
  exp->add_option("--from", export_from, "first height (0 = genesis)");
  exp->add_option("--to", export_to, "last height (0 = head)");
  exp->add_option("--out", export_out, "chain.bin")->required();
  exp->add_flag("--force", export_force, "replace an existing file");
  exp->callback([&] { rc = run_export(g, export_from, export_to, export_out, export_force); });

  auto* cluster = app.add_subcommand("cluster", "cluster membership and leadership");
  cluster->require_subcommand(1);
  cluster->add_subcommand("status", "members, roles, leader, indexes and lag")
      ->callback([&] { rc = run_cluster_status(g); });
  static uint64_t member_id = 0;
  static std::string member_address;
  auto* add = cluster->add_subcommand("add", "add a node as learner");
  add->add_option("id", member_id)->required();
  add->add_option("address", member_address, "host:port of the new node")->required();
  add->callback([&] {
    rc = run_admin(g, [&](auto& stub, grpc::ClientContext& ctx, v1::AdminResponse& r) {
      v1::MemberRequest req;
      req.set_id(member_id);
      req.set_address(member_address);
      return stub.AddMember(&ctx, req, &r);
    });
  });
  auto* promote = cluster->add_subcommand("promote", "make a learner a voter");
  promote->add_option("id", member_id)->required();
  promote->callback([&] {
    rc = run_admin(g, [&](auto& stub, grpc::ClientContext& ctx, v1::AdminResponse& r) {
      v1::MemberRequest req;
      req.set_id(member_id);
      return stub.PromoteMember(&ctx, req, &r);
    });
  });
  auto* remove = cluster->add_subcommand("remove", "remove a member");
  remove->add_option("id", member_id)->required();
  remove->callback([&] {
    rc = run_admin(g, [&](auto& stub, grpc::ClientContext& ctx, v1::AdminResponse& r) {
      v1::MemberRequest req;
      req.set_id(member_id);
      return stub.RemoveMember(&ctx, req, &r);
    });
  });
  auto* transfer = cluster->add_subcommand("transfer", "hand leadership to a voter");
  transfer->add_option("id", member_id)->required();
  transfer->callback([&] {
    rc = run_admin(g, [&](auto& stub, grpc::ClientContext& ctx, v1::AdminResponse& r) {
      v1::TransferRequest req;
      req.set_to(member_id);
      return stub.TransferLeadership(&ctx, req, &r);
    });
  });
  auto* storage = app.add_subcommand("storage", "the called node's own stored data");
  storage->require_subcommand(1);
  static uint64_t verify_from = 0;
  static uint64_t verify_to = 0;
  auto* verify = storage->add_subcommand(
      "verify", "check RocksDB checksums and every stored block; damage is repaired from peers");
  verify->add_option("--from", verify_from, "first height (0 = 1)");
  verify->add_option("--to", verify_to, "last height (0 = head)");
  verify->callback([&] { rc = run_storage_verify(g, verify_from, verify_to); });
  cluster->add_subcommand("compact", "compact the Raft log of the node called")->callback([&] {
    rc = run_admin(g, [&](auto& stub, grpc::ClientContext& ctx, v1::AdminResponse& r) {
      return stub.Compact(&ctx, v1::CompactRequest(), &r);
    });
  });
}

}  // namespace credctl
