// credaudit: the auditor's tool. Works offline and trusts nothing it is given except the genesis.
//
//   verify       replay an exported chain from genesis, checking every hash link, signature,
//                rule, receipt and root (and optionally a cosigned checkpoint)
//   inclusion    check an inclusion proof file against a cosigned checkpoint
//   consistency  check that a newer checkpoint extends an older one; report fork evidence
//   export       write the chain of a stopped node's data directory as an export file
//   checkpoint   cosign the checkpoint of a block of a stopped node's data directory
//   proof        write inclusion / consistency proof files from a stopped node's data directory
// Output is a readable table by default and JSON with -o json.
// Exit codes: 0 everything holds, 1 it does not (the first failure is printed), 2 usage,
// 3 could not do the work (I/O, unreadable files).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/db.h"
#include "ledger/event.h"
#include "ledger/export.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "proto/api.grpc.pb.h"
#include "tools/cli_util.h"
#include "tools/client.h"

namespace {

namespace v1 = credledger::v1;
using tools::kExitError;
using tools::kExitFailure;
using tools::kExitOk;
using tools::kExitUsage;

constexpr std::string_view kTool = "credaudit";

struct Global {
  std::string output = "table";
  bool json() const { return output == "json"; }
};

int fail(const base::Status& status) { return tools::report_error(kTool, status); }

// An unreadable genesis means the work cannot be done (exit 3); a checkpoint or proof that does
// not parse is the thing being verified, and callers answer "no" (exit 1) for it.
base::Result<std::shared_ptr<const ledger::Consortium>> load_genesis(const std::string& path) {
  auto c = ledger::Consortium::load_file(path);
  if (!c.is_ok()) return base::Status::io_error("genesis " + path + ": " + c.status().message());
  return c;
}

base::Result<ledger::CosignedCheckpoint> load_checkpoint(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, tools::read_file(path));
  auto cp = ledger::checkpoint_from_json(text);
  if (!cp.is_ok()) return base::Status::corruption(path + ": " + cp.status().message());
  return cp;
}

nlohmann::ordered_json checkpoint_summary(const v1::Checkpoint& c) {
  return {{"height", c.height()},
          {"tree_size", c.tree_size()},
          {"root_hash", ledger::to_hex(c.root_hash())},
          {"block_hash", ledger::to_hex(c.block_hash())},
          {"state_root", ledger::to_hex(c.state_root())},
          {"timestamp_ms", c.timestamp_ms()},
          {"time", tools::format_time_ms(c.timestamp_ms())}};
}

nlohmann::ordered_json quorum_json(const ledger::QuorumReport& q) {
  nlohmann::ordered_json sigs = nlohmann::ordered_json::array();
  for (const auto& s : q.signatures) {
    sigs.push_back({{"name", s.name},
                    {"agency", s.agency},
                    {"outcome", std::string(ledger::outcome_name(s.outcome))},
                    {"timestamp", s.timestamp_s},
                    {"detail", s.detail}});
  }
  return {{"trusted", q.trusted()},
          {"origin_ok", q.origin_ok},
          {"signer_agencies", q.signer_agencies},
          {"agencies", q.agency_count},
          {"quorum", q.quorum},
          {"signatures", sigs}};
}

void print_quorum(const ledger::QuorumReport& q, const std::string& label) {
  std::cout << label << " cosigned by " << q.signer_agencies.size() << " of " << q.agency_count
            << " agencies (quorum " << q.quorum << "): " << (q.trusted() ? "trusted" : "NOT trusted")
            << "\n";
  for (const auto& s : q.signatures) {
    std::cout << "  " << std::left << std::setw(12) << ledger::outcome_name(s.outcome) << " "
              << s.name << (s.agency.empty() ? "" : " (" + s.agency + ")")
              << (s.detail.empty() ? "" : ": " + s.detail) << "\n";
  }
}

// ---- verify ----

struct VerifyArgs {
  std::string genesis, chain, checkpoint, work_dir = "/tmp";
  unsigned threads = 0;
  bool quiet = false;
  bool baseline = false;
  std::vector<std::string> nodes;  // verify while streaming from the first; compare all
  tools::ClientOptions client;
};

// Connects to one node (the --node address with the TLS flags).
base::Result<tools::Client> node_client(const VerifyArgs& a, const std::string& node) {
  tools::ClientOptions o = a.client;
  o.endpoints = node;
  return tools::Client::connect(o);
}

base::Result<ledger::CosignedCheckpoint> node_checkpoint(const tools::Client& client) {
  v1::GetCheckpointRequest request;
  v1::CheckpointResponse response;
  grpc::Status status = client.call([&](auto channel, grpc::ClientContext& ctx) {
    return v1::AuditService::NewStub(channel)->GetCheckpoint(&ctx, request, &response);
  });
  if (!status.ok()) {
    return base::Status::unavailable(tools::grpc_code_name(status.error_code()) + ": " +
                                     status.error_message());
  }
  return ledger::parse_checkpoint_note(response.note());
}

// Compares the latest quorum checkpoints of several nodes: the same tree size must have the
// same root, and a larger tree must be consistent with a smaller one (proof from its node).
// Prints what it finds; false on fork evidence or an unverifiable pair.
bool compare_node_checkpoints(const ledger::Consortium& consortium, const VerifyArgs& a) {
  struct Seen {
    std::string node;
    ledger::CosignedCheckpoint checkpoint;
  };
  std::vector<Seen> seen;
  for (const std::string& node : a.nodes) {
    auto client = node_client(a, node);
    auto cp = client.is_ok() ? node_checkpoint(*client)
                             : base::Result<ledger::CosignedCheckpoint>(client.status());
    if (!cp.is_ok()) {
      std::cout << "node        " << node << ": no checkpoint: " << cp.status().message() << "\n";
      return false;
    }
    const ledger::QuorumReport report = ledger::verify_cosignatures(consortium, *cp);
    std::cout << "node        " << node << ": checkpoint height " << cp->checkpoint.height()
              << ", tree size " << cp->checkpoint.tree_size() << ", "
              << (report.trusted() ? "trusted" : "NOT trusted: " + report.status().message())
              << "\n";
    if (!report.trusted()) return false;
    seen.push_back({node, std::move(cp).value()});
  }
  bool ok = true;
  for (size_t i = 0; i + 1 < seen.size(); ++i) {
    for (size_t j = i + 1; j < seen.size(); ++j) {
      const Seen* small = &seen[i];
      const Seen* large = &seen[j];
      if (small->checkpoint.checkpoint.tree_size() > large->checkpoint.checkpoint.tree_size()) {
        std::swap(small, large);
      }
      const uint64_t m = small->checkpoint.checkpoint.tree_size();
      const uint64_t n = large->checkpoint.checkpoint.tree_size();
      const auto& old_root = small->checkpoint.checkpoint.root_hash();
      const auto& new_root = large->checkpoint.checkpoint.root_hash();
      bool consistent = false;
      if (m == n) {
        consistent = old_root == new_root;
      } else if (m == 0) {
        // Every tree extends the empty one, whose only root is SHA-256("").
        consistent = old_root == ledger::to_string(ledger::merkle_empty_root());
      } else {
        auto client = node_client(a, large->node);
        v1::ConsistencyProofRequest request;
        request.set_old_size(m);
        request.set_new_size(n);
        v1::ConsistencyProofResponse response;
        grpc::Status status = client.is_ok()
            ? client->call([&](auto channel, grpc::ClientContext& ctx) {
                return v1::AuditService::NewStub(channel)->GetConsistencyProof(&ctx, request,
                                                                              &response);
              })
            : grpc::Status(grpc::UNAVAILABLE, client.status().message());
        std::vector<ledger::Hash> path;
        for (const auto& h : response.path()) {
          auto hash = ledger::hash_from_bytes(h);
          if (hash.is_ok()) path.push_back(*hash);
        }
        auto o = ledger::hash_from_bytes(old_root);
        auto nn = ledger::hash_from_bytes(new_root);
        consistent = status.ok() && o.is_ok() && nn.is_ok() &&
                     ledger::verify_consistency(m, n, *o, *nn, path);
        if (!status.ok()) {
          std::cout << "compare     " << large->node << " gave no consistency proof: "
                    << status.error_message() << "\n";
        }
      }
      std::cout << "compare     " << small->node << " (size " << m << ") and " << large->node
                << " (size " << n << "): "
                << (consistent ? "consistent" : "FORK EVIDENCE: the checkpoints disagree") << "\n";
      if (!consistent) {
        std::cout << small->checkpoint.text() << "\n" << large->checkpoint.text() << "\n";
        ok = false;
      }
    }
  }
  return ok;
}

// The machine's raw Ed25519 rate on this very export: every event's signature verified once on
// `threads` threads, nothing else. Events are read into memory first so that only verification
// is timed. Returns events/s, or a negative value if the export cannot be read.
double raw_verify_rate(const ledger::Consortium& consortium, const std::string& path,
                       unsigned threads) {
  std::ifstream in(path, std::ios::binary);
  ledger::ChainReader reader(in);
  std::vector<v1::SignedEvent> events;
  for (;;) {
    auto next = reader.next();
    if (!next.is_ok()) return -1;
    if (!next->has_value()) break;
    for (auto& e : *(*next)->mutable_events()) events.push_back(std::move(e));
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  std::atomic<uint64_t> valid{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t ok = 0;
      for (size_t i = t; i < events.size(); i += threads) {
        ok += ledger::verify_event_signature(consortium, events[i]) ? 1 : 0;
      }
      valid += ok;
    });
  }
  for (auto& th : pool) th.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(events.size()) / std::max(seconds, 1e-9);
}

int run_verify(const Global& g, const VerifyArgs& a) {
  auto consortium = load_genesis(a.genesis);
  if (!consortium.is_ok()) return fail(consortium.status());
  if (a.chain.empty() == a.nodes.empty()) {
    return fail(base::Status::invalid_argument("give either --chain or --node"));
  }
  std::optional<ledger::CosignedCheckpoint> checkpoint;
  if (!a.checkpoint.empty()) {
    auto cp = load_checkpoint(a.checkpoint);
    if (!cp.is_ok()) {
      std::cerr << "credaudit: " << cp.status().message() << "\n";
      return kExitFailure;
    }
    checkpoint = std::move(cp).value();
  }
  // Live mode: the node's latest quorum checkpoint is fetched before the blocks, so the stream
  // reaches its height; the blocks flow through a pipe straight into the verifier.
  std::optional<tools::Client> live;
  std::thread streamer;
  grpc::Status stream_status;
  int pipe_fds[2] = {-1, -1};
  std::string source = a.chain;
  if (!a.nodes.empty()) {
    if (a.nodes.size() > 1 && !compare_node_checkpoints(**consortium, a)) return kExitFailure;
    auto client = node_client(a, a.nodes.front());
    if (!client.is_ok()) return fail(client.status());
    live = std::move(client).value();
    if (!checkpoint) {
      auto cp = node_checkpoint(*live);
      if (cp.is_ok()) checkpoint = std::move(cp).value();
    }
    if (::pipe(pipe_fds) != 0) return fail(base::Status::io_error("cannot make a pipe"));
    source = "/proc/self/fd/" + std::to_string(pipe_fds[0]);
    streamer = std::thread([&] {
      {
        std::ofstream out("/proc/self/fd/" + std::to_string(pipe_fds[1]), std::ios::binary);
        ledger::ChainWriter writer(out);
        grpc::ClientContext ctx;
        live->prepare(ctx, /*streaming=*/true);
        auto reader = v1::AuditService::NewStub(live->channels().front())
                          ->GetBlocks(&ctx, v1::GetBlocksRequest());
        v1::Block block;
        bool write_ok = true;
        while (reader->Read(&block)) {
          if (!writer.write(block).is_ok()) {
            write_ok = false;  // the verifier stopped reading (it found a failure)
            ctx.TryCancel();
            break;
          }
        }
        stream_status = reader->Finish();
        if (write_ok) (void)writer.finish();
      }
      ::close(pipe_fds[1]);
    });
  }
  std::ifstream in(source, std::ios::binary);
  if (!in) return fail(base::Status::io_error("cannot open " + source));
  std::vector<char> buffer(1 << 20);
  in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));

  ledger::AuditOptions options;
  options.verify_threads = a.threads;
  options.work_dir = a.work_dir;
  options.checkpoint = checkpoint ? &*checkpoint : nullptr;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  bool progress_shown = false;
  if (!a.quiet) {
    options.progress_interval_s = 2.0;
    options.on_progress = [&](const ledger::AuditProgress& p) {
      progress_shown = true;
      std::cerr << (tty ? "\r" : "") << "credaudit: verified height " << p.height << ", "
                << p.events << " events, " << (p.bytes >> 20) << " MiB, "
                << static_cast<uint64_t>(p.events / std::max(p.elapsed_s, 1e-9)) << " events/s"
                << (tty ? "   " : "\n") << std::flush;
    };
  }
  double baseline = 0;
  if (a.baseline) {
    baseline = raw_verify_rate(**consortium, a.chain, a.threads);
    if (baseline < 0) return fail(base::Status::corruption(a.chain + " cannot be read"));
  }
  ledger::AuditResult r = ledger::verify_chain(*consortium, in, options);
  if (streamer.joinable()) {
    in.close();
    ::close(pipe_fds[0]);  // unblocks the streamer if the verifier stopped early
    streamer.join();
    if (!stream_status.ok() && r.ok()) {
      return fail(base::Status::unavailable("block stream from " + a.nodes.front() + " failed: " +
                                            stream_status.error_message()));
    }
  }
  if (progress_shown && tty) std::cerr << "\n";
  if (!r.status.is_ok()) return fail(r.status);

  const ledger::AuditSummary& s = r.summary;
  const double rate = s.events / std::max(s.elapsed_s, 1e-9);
  if (r.failure) {
    // Verification stops at the first failure, and so does the report: the head, checkpoint
    // and speed of a partial replay would only read as more findings.
    const ledger::AuditFailure& f = *r.failure;
    if (g.json()) {
      nlohmann::ordered_json fj;
      fj["check"] = f.check;
      if (f.height) fj["height"] = *f.height;
      if (f.event_index) fj["event_index"] = *f.event_index;
      if (f.byte_offset) fj["byte_offset"] = *f.byte_offset;
      fj["expected"] = f.expected;
      fj["found"] = f.found;
      fj["detail"] = f.detail;
      nlohmann::ordered_json j;
      j["ok"] = false;
      j["failure"] = fj;
      j["verified_blocks"] = s.blocks;
      j["verified_events"] = s.events;
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "FAILED: " << f.to_string() << "\n"
                << "(verified before the failure: " << s.blocks << " blocks, " << s.events
                << " events)\n";
    }
    return kExitFailure;
  }
  if (g.json()) {
    nlohmann::ordered_json j;
    j["ok"] = true;
    j["blocks"] = s.blocks;
    j["events"] = s.events;
    j["accepted"] = s.accepted;
    j["rejected"] = s.rejected;
    nlohmann::ordered_json agencies = nlohmann::ordered_json::object();
    for (const auto& [name, c] : s.agencies) {
      agencies[name] = {{"accepted", c.accepted}, {"rejected", c.rejected}};
    }
    j["agencies"] = agencies;
    j["rejection_reasons"] = s.rejection_reasons;
    j["first_block_time"] = tools::format_time_ms(s.first_timestamp_ms);
    j["last_block_time"] = tools::format_time_ms(s.last_timestamp_ms);
    j["head"] = checkpoint_summary(s.head);
    if (s.checkpoint_quorum) {
      j["checkpoint"] = quorum_json(*s.checkpoint_quorum);
      j["checkpoint"]["matches_chain"] = s.checkpoint_checked;
    }
    j["export_bytes"] = s.export_bytes;
    j["elapsed_s"] = s.elapsed_s;
    j["events_per_s"] = static_cast<uint64_t>(rate);
    if (a.baseline) {
      j["raw_ed25519_verifies_per_s"] = static_cast<uint64_t>(baseline);
      j["fraction_of_raw"] = rate / baseline;
    }
    j["verify_threads"] = s.verify_threads;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "OK: the chain verifies from genesis\n";
    std::cout << "blocks      " << s.blocks << " (heights 0.." << s.head.height() << ")\n"
              << "events      " << s.events << " (" << s.accepted << " accepted, " << s.rejected
              << " rejected)\n"
              << "time range  " << tools::format_time_ms(s.first_timestamp_ms) << " .. "
              << tools::format_time_ms(s.last_timestamp_ms) << "\n"
              << "head        tree size " << s.head.tree_size() << ", root "
              << ledger::to_hex(s.head.root_hash()) << "\n"
              << "            block hash " << ledger::to_hex(s.head.block_hash()) << "\n"
              << "            state root " << ledger::to_hex(s.head.state_root()) << "\n";
    for (const auto& [name, c] : s.agencies) {
      std::cout << "agency      " << std::left << std::setw(16) << name << c.accepted
                << " accepted, " << c.rejected << " rejected\n";
    }
    for (const auto& [reason, n] : s.rejection_reasons) {
      std::cout << "rejected    " << std::left << std::setw(30) << reason << n << "\n";
    }
    if (s.checkpoint_quorum) {
      print_quorum(*s.checkpoint_quorum, "checkpoint");
      std::cout << "checkpoint  " << (s.checkpoint_checked ? "matches" : "does NOT match")
                << " the replayed chain at height " << checkpoint->checkpoint.height() << "\n";
    }
    std::cout << "speed       " << static_cast<uint64_t>(rate) << " events/s over "
              << std::fixed << std::setprecision(2) << s.elapsed_s << " s, " << s.verify_threads
              << " verify threads\n";
    if (a.baseline) {
      std::cout << "baseline    raw Ed25519 verify of the same events on " << s.verify_threads
                << " threads: " << static_cast<uint64_t>(baseline) << " verifies/s; verify ran at "
                << std::setprecision(0) << 100 * rate / baseline << "% of it\n";
    }
  }
  return kExitOk;
}

// ---- inclusion / consistency ----

int run_inclusion(const Global& g, const std::string& genesis, const std::string& cp_path,
                  const std::string& proof_path) {
  auto consortium = load_genesis(genesis);
  if (!consortium.is_ok()) return fail(consortium.status());
  auto text = tools::read_file(proof_path);
  if (!text.is_ok()) return fail(text.status());
  auto proof = ledger::inclusion_proof_from_json(*text);
  if (!proof.is_ok()) {
    std::cerr << "credaudit: " << proof_path << ": " << proof.status().message() << "\n";
    return kExitFailure;
  }
  ledger::CosignedCheckpoint cp = proof->checkpoint;
  if (!cp_path.empty()) {
    auto given = load_checkpoint(cp_path);
    if (!given.is_ok()) {
      std::cerr << "credaudit: " << given.status().message() << "\n";
      return kExitFailure;
    }
    cp = std::move(given).value();
  }
  const ledger::QuorumReport quorum = ledger::verify_cosignatures(**consortium, cp);
  const base::Status s = ledger::verify_inclusion_proof(**consortium, *proof, cp);
  auto event = ledger::parse_event_leaf_data(proof->leaf_data);
  std::optional<v1::CreditEvent> decoded;
  if (event.is_ok()) {
    if (auto e = ledger::parse_event_payload(event->payload()); e.is_ok()) decoded = *e;
  }
  if (g.json()) {
    nlohmann::ordered_json j;
    j["ok"] = s.is_ok();
    if (!s.is_ok()) j["error"] = s.message();
    j["leaf_index"] = proof->leaf_index;
    j["tree_size"] = proof->tree_size;
    j["leaf_hash"] = ledger::to_hex(ledger::merkle_leaf_hash(proof->leaf_data));
    if (decoded) {
      j["event_id"] = decoded->event_id();
      j["issuer"] = decoded->issuer();
      j["kind"] = v1::EventKind_Name(decoded->kind());
    }
    j["checkpoint"] = checkpoint_summary(cp.checkpoint);
    j["cosignatures"] = quorum_json(quorum);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << (s.is_ok() ? "OK: " : "FAILED: ")
              << (s.is_ok() ? "leaf " + std::to_string(proof->leaf_index) +
                                  " is in the cosigned tree of " +
                                  std::to_string(proof->tree_size) + " leaves"
                            : s.message())
              << "\n";
    if (decoded) {
      std::cout << "event       " << decoded->event_id() << " by " << decoded->issuer() << " ("
                << v1::EventKind_Name(decoded->kind()) << ")\n";
    }
    std::cout << "checkpoint  height " << cp.checkpoint.height() << ", root "
              << ledger::to_hex(cp.checkpoint.root_hash()) << "\n";
    print_quorum(quorum, "checkpoint");
  }
  return s.is_ok() ? kExitOk : kExitFailure;
}

int run_consistency(const Global& g, const std::string& genesis, const std::string& old_path,
                    const std::string& new_path, const std::string& proof_path) {
  auto consortium = load_genesis(genesis);
  if (!consortium.is_ok()) return fail(consortium.status());
  auto older = load_checkpoint(old_path);
  auto newer = load_checkpoint(new_path);
  for (const auto* cp : {&older, &newer}) {
    if (!cp->is_ok()) {
      std::cerr << "credaudit: " << cp->status().message() << "\n";
      return kExitFailure;
    }
  }
  std::optional<ledger::ConsistencyProof> proof;
  if (!proof_path.empty()) {
    auto text = tools::read_file(proof_path);
    if (!text.is_ok()) return fail(text.status());
    auto p = ledger::consistency_proof_from_json(*text);
    if (!p.is_ok()) {
      std::cerr << "credaudit: " << proof_path << ": " << p.status().message() << "\n";
      return kExitFailure;
    }
    proof = std::move(p).value();
  }
  const ledger::QuorumReport qa = ledger::verify_cosignatures(**consortium, *older);
  const ledger::QuorumReport qb = ledger::verify_cosignatures(**consortium, *newer);
  std::optional<ledger::ForkEvidence> fork =
      ledger::detect_fork(**consortium, *older, *newer, proof ? &*proof : nullptr);
  base::Status s = base::Status::ok();
  if (!qa.trusted()) s = qa.status().with_context("old checkpoint");
  if (s.is_ok() && !qb.trusted()) s = qb.status().with_context("new checkpoint");
  if (s.is_ok() && !fork) {
    if (older->checkpoint.tree_size() > newer->checkpoint.tree_size()) {
      s = base::Status::corruption("the --old checkpoint's tree is larger than the --new one's");
    } else if (older->checkpoint.tree_size() < newer->checkpoint.tree_size()) {
      if (!proof) {
        s = base::Status::invalid_argument(
            "trees of different sizes need --proof (a consistency proof file)");
      } else {
        s = ledger::verify_consistency_proof(**consortium, *proof, *older, *newer);
      }
    }
  }
  if (fork) s = base::Status::corruption("fork evidence: " + fork->description);
  if (g.json()) {
    nlohmann::ordered_json j;
    j["ok"] = s.is_ok();
    if (!s.is_ok()) j["error"] = s.message();
    j["old"] = checkpoint_summary(older->checkpoint);
    j["old"]["cosignatures"] = quorum_json(qa);
    j["new"] = checkpoint_summary(newer->checkpoint);
    j["new"]["cosignatures"] = quorum_json(qb);
    if (fork) j["fork_evidence"] = nlohmann::ordered_json::parse(ledger::fork_evidence_to_json(*fork));
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << (s.is_ok() ? "OK: the new checkpoint extends the old one" : "FAILED: " + s.message())
              << "\n";
    std::cout << "old         height " << older->checkpoint.height() << ", tree size "
              << older->checkpoint.tree_size() << "\n"
              << "new         height " << newer->checkpoint.height() << ", tree size "
              << newer->checkpoint.tree_size() << "\n";
    print_quorum(qa, "old");
    print_quorum(qb, "new");
    if (fork) std::cout << "evidence:\n" << ledger::fork_evidence_to_json(*fork);
  }
  if (s.code() == base::Code::kInvalidArgument) return fail(s);
  return s.is_ok() ? kExitOk : kExitFailure;
}

// ---- offline access to a stopped node's data directory ----

struct DataDir {
  std::shared_ptr<const ledger::Consortium> consortium;
  std::unique_ptr<ledger::Database> db;
  std::unique_ptr<ledger::Ledger> ledger;
};

base::Result<DataDir> open_data_dir(const std::string& dir, const std::string& genesis) {
  DataDir d;
  ASSIGN_OR_RETURN(d.consortium, load_genesis(genesis));
  // A node's database also holds the Raft log, node metadata and the access log; RocksDB must
  // be told every family it has, so list them rather than hard-code them.
  const std::string path = dir + "/db";
  std::vector<std::string> families;
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &families);
  if (!ls.ok()) return base::Status::io_error("no node database in " + dir + ": " + ls.ToString());
  ledger::Database::Options options;
  options.create_if_missing = false;
  static const std::set<std::string> kLedgerFamilies = {"default", "blocks", "events", "index",
                                                        "merkle",  "view",   "meta"};
  for (const std::string& f : families) {
    if (!kLedgerFamilies.count(f)) options.extra_column_families.push_back(f);
  }
  ASSIGN_OR_RETURN(d.db, ledger::Database::open(path, options));
  ASSIGN_OR_RETURN(d.ledger, ledger::Ledger::open(*d.db, d.consortium,
                                                  ledger::LedgerOptions{.sync_writes = false}));
  return d;
}

struct ExportArgs {
  std::string data_dir, genesis, out;
  uint64_t from = 0;
  int64_t to = -1;
  bool force = false;
};

int run_export(const Global& g, const ExportArgs& a) {
  auto d = open_data_dir(a.data_dir, a.genesis);
  if (!d.is_ok()) return fail(d.status());
  const uint64_t head = d->ledger->head().height();
  const uint64_t to = a.to < 0 ? head : static_cast<uint64_t>(a.to);
  if (to > head) {
    return fail(base::Status::invalid_argument("--to " + std::to_string(to) +
                                               " is above the head " + std::to_string(head)));
  }
  if (auto s = tools::check_overwrite(a.out, a.force); !s.is_ok()) return fail(s);
  const std::string tmp = a.out + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return fail(base::Status::io_error("cannot create " + tmp));
  ledger::ChainWriter writer(out);
  if (auto s = ledger::export_chain(*d->ledger, a.from, to, writer); !s.is_ok()) return fail(s);
  out.close();
  if (!out) return fail(base::Status::io_error("cannot write " + tmp));
  if (auto s = tools::rename_into_place(tmp, a.out); !s.is_ok()) return fail(s);
  if (g.json()) {
    std::cout << nlohmann::ordered_json{{"file", a.out}, {"from", a.from}, {"to", to},
                                        {"bytes", writer.bytes_written()}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "exported blocks " << a.from << ".." << to << " (" << writer.bytes_written()
              << " bytes) to " << a.out << "\n";
  }
  return kExitOk;
}

struct CheckpointArgs {
  std::string data_dir, genesis, out, add_to;
  std::vector<std::string> keys;
  int64_t height = -1;
  bool force = false;
};

int run_checkpoint(const Global& g, const CheckpointArgs& a) {
  auto d = open_data_dir(a.data_dir, a.genesis);
  if (!d.is_ok()) return fail(d.status());
  const uint64_t height = a.height < 0 ? d->ledger->head().height() : static_cast<uint64_t>(a.height);
  auto cp = ledger::checkpoint_at(*d->ledger, height);
  if (!cp.is_ok()) return fail(cp.status());
  ledger::CosignedCheckpoint out =
      ledger::make_checkpoint(ledger::checkpoint_origin(d->consortium->config().consortium_id()), *cp);
  if (!a.add_to.empty()) {
    auto existing = load_checkpoint(a.add_to);
    if (!existing.is_ok()) return fail(existing.status());
    if (existing->note.body != out.note.body) {
      return fail(base::Status::invalid_argument(a.add_to + " is a checkpoint of another block"));
    }
    out = std::move(existing).value();
  }
  for (const std::string& path : a.keys) {
    auto key = ledger::read_key_file(path);
    if (!key.is_ok()) return fail(key.status());
    if (auto s = ledger::cosign(out, *key, static_cast<uint64_t>(tools::now_ms() / 1000));
        !s.is_ok()) {
      return fail(s);
    }
  }
  if (out.note.signatures.empty()) {
    return fail(base::Status::invalid_argument("a checkpoint needs at least one --key"));
  }
  const std::string json = ledger::checkpoint_to_json(out);
  if (auto s = tools::write_file(a.out, json, a.force || a.out == a.add_to); !s.is_ok()) {
    return fail(s);
  }
  if (!g.json()) std::cout << out.text();
  else std::cout << json;
  return kExitOk;
}

struct ProofArgs {
  std::string data_dir, genesis, checkpoint, old_checkpoint, out;
  uint64_t sequence = 0;
  std::string event_id;
  bool force = false;
};

int run_proof_inclusion(const ProofArgs& a) {
  auto d = open_data_dir(a.data_dir, a.genesis);
  if (!d.is_ok()) return fail(d.status());
  auto cp = load_checkpoint(a.checkpoint);
  if (!cp.is_ok()) return fail(cp.status());
  uint64_t sequence = a.sequence;
  if (!a.event_id.empty()) {
    auto rec = d->ledger->event(a.event_id);
    if (!rec.is_ok()) return fail(rec.status());
    if (!rec->location.receipt().accepted()) {
      std::cerr << "credaudit: event '" << a.event_id << "' was rejected; it is not in the log\n";
      return kExitFailure;
    }
    sequence = rec->location.receipt().sequence();
  }
  auto proof = ledger::make_inclusion_proof(*d->ledger, sequence, *cp);
  if (!proof.is_ok()) return fail(proof.status());
  if (auto s = tools::write_file(a.out, ledger::inclusion_proof_to_json(*proof), a.force);
      !s.is_ok()) {
    return fail(s);
  }
  std::cout << "wrote inclusion proof of leaf " << sequence << " to " << a.out << "\n";
  return kExitOk;
}

int run_proof_consistency(const ProofArgs& a) {
  auto d = open_data_dir(a.data_dir, a.genesis);
  if (!d.is_ok()) return fail(d.status());
  auto older = load_checkpoint(a.old_checkpoint);
  if (!older.is_ok()) return fail(older.status());
  auto newer = load_checkpoint(a.checkpoint);
  if (!newer.is_ok()) return fail(newer.status());
  auto proof = ledger::make_consistency_proof(*d->ledger, *older, *newer);
  if (!proof.is_ok()) return fail(proof.status());
  if (auto s = tools::write_file(a.out, ledger::consistency_proof_to_json(*proof), a.force);
      !s.is_ok()) {
    return fail(s);
  }
  std::cout << "wrote consistency proof " << proof->old_size << " -> " << proof->new_size
            << " to " << a.out << "\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  tools::route_library_logs(kTool);
  ledger::crypto_init();
  // Live verification writes blocks into a pipe the verifier may stop reading on a failure.
  ::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"credaudit: verify a credledger chain, checkpoints and proofs offline"};
  app.require_subcommand(1);
  Global g;
  app.add_option("--format", g.output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  int rc = kExitOk;

  // -o selects the output format, as in credctl, except for the verbs that write a file.
  auto add_format = [&](CLI::App* cmd) {
    cmd->add_option("-o,--output", g.output, "output format (table or json)")
        ->check(CLI::IsMember({"table", "json"}));
  };

  VerifyArgs verify;
  auto* verify_cmd = app.add_subcommand("verify", "replay and check an exported chain");
  verify_cmd->add_option("--genesis", verify.genesis, "the consortium genesis file")->required();
  verify_cmd->add_option("--chain", verify.chain, "chain export (credaudit export, credctl export)");
  verify_cmd->add_option("--node", verify.nodes,
                         "verify while streaming from this node (host:port); repeat to also "
                         "compare the nodes' checkpoints");
  verify_cmd->add_option("--cacert", verify.client.cacert,
                         "with --node: consortium CA (TLS; default $CREDLEDGER_CACERT)");
  verify_cmd->add_option("--cert", verify.client.cert,
                         "with --node: auditor certificate (default $CREDLEDGER_CERT)");
  verify_cmd->add_option("--key", verify.client.key,
                         "with --node: certificate key (default $CREDLEDGER_KEY)");
  verify_cmd->add_flag("--insecure", verify.client.insecure, "with --node: plaintext cluster");
  verify_cmd->add_option("--role", verify.client.role, "with --insecure: role, e.g. auditor:me");
  verify_cmd->add_option("--checkpoint", verify.checkpoint, "cosigned checkpoint (cp.json) to check");
  verify_cmd->add_option("--threads", verify.threads, "signature threads (default: all cores)");
  verify_cmd
      ->add_option("--work-dir", verify.work_dir,
                   "where the replay database is made (created if missing)")
      ->capture_default_str();
  verify_cmd->add_flag("--quiet", verify.quiet, "no progress line");
  verify_cmd->add_flag("--baseline", verify.baseline,
                       "first time raw Ed25519 verification of the same events, to compare");
  add_format(verify_cmd);
  verify_cmd->callback([&] { rc = run_verify(g, verify); });

  std::string inc_genesis, inc_cp, inc_proof;
  auto* inclusion_cmd =
      app.add_subcommand("inclusion", "check an inclusion proof against a cosigned checkpoint");
  inclusion_cmd->add_option("--genesis", inc_genesis, "the consortium genesis file (its keys)")
      ->required();
  inclusion_cmd->add_option("--checkpoint", inc_cp,
                            "trusted cp.json (default: the checkpoint inside the proof)");
  inclusion_cmd->add_option("--proof", inc_proof, "inclusion proof file")->required();
  add_format(inclusion_cmd);
  inclusion_cmd->callback([&] { rc = run_inclusion(g, inc_genesis, inc_cp, inc_proof); });

  std::string con_genesis, con_old, con_new, con_proof;
  auto* consistency_cmd = app.add_subcommand(
      "consistency", "check that a newer checkpoint extends an older one; report forks");
  consistency_cmd->add_option("--genesis", con_genesis, "the consortium genesis file")->required();
  consistency_cmd->add_option("--old", con_old, "older cp.json")->required();
  consistency_cmd->add_option("--new", con_new, "newer cp.json")->required();
  consistency_cmd->add_option("--proof", con_proof, "consistency proof file (sizes differ)");
  add_format(consistency_cmd);
  consistency_cmd->callback(
      [&] { rc = run_consistency(g, con_genesis, con_old, con_new, con_proof); });

  ExportArgs exp;
  auto* export_cmd =
      app.add_subcommand("export", "export the chain of a stopped node's data directory");
  export_cmd->add_option("--data-dir", exp.data_dir, "node data_dir (the node must be stopped)")
      ->required();
  export_cmd->add_option("--genesis", exp.genesis, "the consortium genesis file")->required();
  export_cmd->add_option("-o,--out", exp.out, "export file to write")->required();
  export_cmd->add_option("--from", exp.from, "first height (default 0)");
  export_cmd->add_option("--to", exp.to, "last height (default: head)");
  export_cmd->add_flag("--force", exp.force, "replace an existing file");
  export_cmd->callback([&] { rc = run_export(g, exp); });

  CheckpointArgs cpa;
  auto* cp_cmd = app.add_subcommand(
      "checkpoint", "cosign the checkpoint of a block of a stopped node's data directory");
  cp_cmd->add_option("--data-dir", cpa.data_dir, "node data_dir")->required();
  cp_cmd->add_option("--genesis", cpa.genesis, "the consortium genesis file")->required();
  cp_cmd->add_option("--key", cpa.keys, "agency key file, repeat to cosign with several");
  cp_cmd->add_option("--height", cpa.height, "block height (default: head)");
  cp_cmd->add_option("--add-to", cpa.add_to, "add cosignatures to this existing cp.json");
  cp_cmd->add_option("--out", cpa.out, "cp.json to write")->required();
  cp_cmd->add_flag("--force", cpa.force, "replace an existing file");
  cp_cmd->callback([&] { rc = run_checkpoint(g, cpa); });

  auto* proof_cmd = app.add_subcommand("proof", "write proof files from a stopped node's data");
  proof_cmd->require_subcommand(1);
  ProofArgs pa;
  auto* pi_cmd = proof_cmd->add_subcommand("inclusion", "inclusion proof of one event");
  pi_cmd->add_option("--data-dir", pa.data_dir, "node data_dir")->required();
  pi_cmd->add_option("--genesis", pa.genesis, "the consortium genesis file")->required();
  pi_cmd->add_option("--checkpoint", pa.checkpoint, "cp.json the proof is for")->required();
  auto* seq = pi_cmd->add_option("--sequence", pa.sequence, "leaf index");
  pi_cmd->add_option("--event-id", pa.event_id, "or the accepted event's id")->excludes(seq);
  pi_cmd->add_option("--out", pa.out, "proof file to write")->required();
  pi_cmd->add_flag("--force", pa.force, "replace an existing file");
  pi_cmd->callback([&] { rc = run_proof_inclusion(pa); });
  auto* pc_cmd = proof_cmd->add_subcommand("consistency", "consistency proof between checkpoints");
  pc_cmd->add_option("--data-dir", pa.data_dir, "node data_dir")->required();
  pc_cmd->add_option("--genesis", pa.genesis, "the consortium genesis file")->required();
  pc_cmd->add_option("--old", pa.old_checkpoint, "older cp.json")->required();
  pc_cmd->add_option("--new", pa.checkpoint, "newer cp.json")->required();
  pc_cmd->add_option("--out", pa.out, "proof file to write")->required();
  pc_cmd->add_flag("--force", pa.force, "replace an existing file");
  pc_cmd->callback([&] { rc = run_proof_consistency(pa); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return rc;
}
