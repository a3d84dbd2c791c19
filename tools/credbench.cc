// credbench: load generator for a credledger cluster.
//
//   credbench submit --key samr.key --legal-basis APL-2021-ART9 --clients 64 --events 20000
//   credbench query  --clients 256 --seconds 10 [--linearizable]
//   credbench check  --clients 8 --seconds 10 --subjects-per-call 1000
//
// submit pre-signs every event before the clock starts (signing is the issuer's cost), then
// each client thread sends Submit calls of --batch events and waits for the receipts. It reports
// committed events/s and per-call latency percentiles. Endpoints and TLS flags are credctl's.
#include <grpcpp/grpcpp.h>
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/event.h"
#include "ledger/uscc.h"
#include "proto/api.grpc.pb.h"
#include "tools/cli_util.h"
#include "tools/client.h"

namespace {

namespace v1 = credledger::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  tools::ClientOptions client;
  std::string output = "table";
  int clients = 16;
  int seconds = 10;
  uint64_t events = 10000;
  int batch = 1;
  std::string key_file;
  std::string legal_basis = "APL-2021-ART9";
  std::string sector = "general";
  uint64_t subjects = 10000;
  int subjects_per_call = 1000;
  bool linearizable = false;
  int summary_bytes = 120;  // makes a signed event about 300 bytes on the wire
};

std::string uscc_for(uint64_t n) {
  char body[9];
  std::snprintf(body, sizeof body, "%08llu", static_cast<unsigned long long>(n % 100000000));
  std::string org(body);
  org += ledger::organization_code_check_character(org);
  const std::string first17 = "91110000" + org;
  return first17 + ledger::uscc_check_character(first17);
}

struct Latencies {
  std::mutex mu;
  std::vector<uint64_t> us;
  void add(std::vector<uint64_t>& local) {
    std::lock_guard<std::mutex> lock(mu);
    us.insert(us.end(), local.begin(), local.end());
  }
  uint64_t pct(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    const size_t i = std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())));
    return us[i];
  }
};

std::vector<std::shared_ptr<grpc::Channel>> channels_for(const tools::Client& client, int n,
                                                         const Options& o) {
  // Each client gets its own connection so that load spreads like independent callers.
  std::vector<std::shared_ptr<grpc::Channel>> out;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.client.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tools::read_file(o.client.cacert).value();
    if (!o.client.cert.empty()) {
      ssl.pem_cert_chain = tools::read_file(o.client.cert).value();
      ssl.pem_private_key = tools::read_file(o.client.key).value();
    }
    creds = grpc::SslCredentials(ssl);
  }
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(64 << 20);
    const auto& endpoints = client.endpoints();
    out.push_back(grpc::CreateCustomChannel(endpoints[static_cast<size_t>(i) % endpoints.size()],
                                            creds, args));
  }
  return out;
}

void prepare(grpc::ClientContext& ctx, const Options& o) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  // Hundreds of channels connect at once at the start; a call waits for its channel instead of
  // failing fast while a first connection attempt is retried.
  ctx.set_wait_for_ready(true);
  if (o.client.insecure && !o.client.role.empty()) ctx.AddMetadata("x-credledger-role", o.client.role);
}

void report(const Options& o, const std::string& mode, double seconds, uint64_t ok_units,
            const char* unit, uint64_t calls, uint64_t errors, Latencies& lat,
            const std::string& first_error) {
  const double rate = seconds > 0 ? static_cast<double>(ok_units) / seconds : 0;
  if (o.output == "json") {
    std::cout << nlohmann::json{{"mode", mode},           {"clients", o.clients},
                                {"seconds", seconds},     {unit, ok_units},
                                {std::string(unit) + "_per_s", rate},
                                {"calls", calls},         {"errors", errors},
                                {"latency_us_p50", lat.pct(0.50)},
                                {"latency_us_p95", lat.pct(0.95)},
                                {"latency_us_p99", lat.pct(0.99)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(1) << "mode      " << mode << " (" << o.clients
              << " clients)\n"
              << unit << "  " << ok_units << " in " << seconds << " s = " << rate << " " << unit
              << "/s\n"
              << "calls     " << calls << ", errors " << errors << "\n"
              << "latency   p50 " << lat.pct(0.50) / 1000.0 << " ms  p95 " << lat.pct(0.95) / 1000.0
              << " ms  p99 " << lat.pct(0.99) / 1000.0 << " ms\n";
  }
  if (errors) std::cerr << "credbench: first error: " << first_error << "\n";
}

int run_submit(const Options& o) {
  auto key = ledger::read_key_file(o.key_file);
  if (!key.is_ok()) return tools::report_error("credbench", key.status());
  auto sector = ledger::parse_sector(o.sector);
  if (!sector.is_ok()) return tools::report_error("credbench", sector.status());
  auto client = tools::Client::connect(o.client);
  if (!client.is_ok()) return tools::report_error("credbench", client.status());

  // Pre-sign, on all cores.
  std::string run_id(4, '\0');
  randombytes_buf(run_id.data(), run_id.size());
  const std::string prefix = "bench-" + ledger::to_hex(run_id) + "-";
  const int64_t now = tools::now_ms();
  std::vector<v1::SignedEvent> events(o.events);
  {
    std::vector<std::thread> signers;
    const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned t = 0; t < n; ++t) {
      signers.emplace_back([&, t] {
        for (uint64_t i = t; i < o.events; i += n) {
          v1::CreditEvent e;
          e.set_event_id(prefix + std::to_string(i));
          e.set_issuer(key->agency);
          e.mutable_subject()->set_kind(v1::ENTERPRISE);
          e.mutable_subject()->set_id(uscc_for(i % o.subjects));
          e.set_kind(v1::ADMINISTRATIVE_PENALTY);
          e.set_sector(*sector);
          e.set_severity(v1::MINOR);
          e.mutable_legal_basis()->set_code(o.legal_basis);
          e.mutable_legal_basis()->set_document_ref("BENCH-" + std::to_string(i));
          e.set_effective_at_ms(now - 1000);
          e.set_expires_at_ms(now + 30LL * 24 * 3600 * 1000);
          e.set_issued_at_ms(now - 1000);
          e.set_summary(std::string(static_cast<size_t>(o.summary_bytes), 'x'));
          events[i] = ledger::sign_event(e, key->key_id, key->keys.secret_key);
        }
      });
    }
    for (auto& s : signers) s.join();
  }
  std::cerr << "credbench: " << o.events << " events signed (" << events[0].ByteSizeLong()
            << " bytes each); submitting with " << o.clients << " clients, " << o.batch
            << " per call\n";

  auto channels = channels_for(*client, o.clients, o);
  std::atomic<uint64_t> next{0}, accepted{0}, rejected{0}, calls{0}, errors{0};
  std::mutex error_mu;
  std::string first_error;
  Latencies lat;
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.clients; ++c) {
    workers.emplace_back([&, c] {
      auto stub = v1::LedgerService::NewStub(channels[static_cast<size_t>(c)]);
      std::vector<uint64_t> local;
      for (;;) {
        const uint64_t first = next.fetch_add(static_cast<uint64_t>(o.batch));
        if (first >= o.events) break;
        const uint64_t last = std::min<uint64_t>(o.events, first + static_cast<uint64_t>(o.batch));
        v1::SubmitRequest request;
        for (uint64_t i = first; i < last; ++i) *request.add_events() = events[i];
        v1::SubmitResponse response;
        grpc::ClientContext ctx;
        prepare(ctx, o);
        const auto t0 = Clock::now();
        grpc::Status s = stub->Submit(&ctx, request, &response);
        local.push_back(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
        calls++;
        if (!s.ok()) {
          errors++;
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = tools::grpc_code_name(s.error_code()) + ": " + s.error_message();
          continue;
        }
        for (const auto& r : response.receipts()) (r.accepted() ? accepted : rejected)++;
      }
      lat.add(local);
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report(o, "submit", seconds, accepted.load(), "events", calls.load(), errors.load(), lat,
         first_error);
  if (rejected.load()) std::cerr << "credbench: " << rejected.load() << " events rejected\n";
  return errors.load() || rejected.load() ? tools::kExitFailure : tools::kExitOk;
}

int run_query(const Options& o, bool check) {
  auto client = tools::Client::connect(o.client);
  if (!client.is_ok()) return tools::report_error("credbench", client.status());
  auto channels = channels_for(*client, o.clients, o);
  std::atomic<uint64_t> units{0}, calls{0}, errors{0};
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  std::string first_error;
  Latencies lat;
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.clients; ++c) {
    workers.emplace_back([&, c] {
      auto stub = v1::QueryService::NewStub(channels[static_cast<size_t>(c)]);
      std::mt19937_64 rng(static_cast<uint64_t>(c) * 7919 + 1);
      std::vector<uint64_t> local;
      while (!stop.load(std::memory_order_relaxed)) {
        grpc::ClientContext ctx;
        prepare(ctx, o);
        grpc::Status s;
        uint64_t n = 0;
        const auto t0 = Clock::now();
        if (check) {
          v1::CheckRequest request;
          for (int i = 0; i < o.subjects_per_call; ++i) {
            v1::Subject* subject = request.add_subjects();
            subject->set_kind(v1::ENTERPRISE);
            subject->set_id(uscc_for(rng() % o.subjects));
          }
          request.set_consistency(o.linearizable ? v1::LINEARIZABLE : v1::LOCAL);
          v1::CheckResponse response;
          s = stub->CheckSubjects(&ctx, request, &response);
          n = static_cast<uint64_t>(response.statuses_size());
        } else {
          v1::StatusRequest request;
          request.mutable_subject()->set_kind(v1::ENTERPRISE);
          request.mutable_subject()->set_id(uscc_for(rng() % o.subjects));
          request.set_consistency(o.linearizable ? v1::LINEARIZABLE : v1::LOCAL);
          v1::SubjectStatus response;
          s = stub->GetSubjectStatus(&ctx, request, &response);
          n = 1;
        }
        local.push_back(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
        calls++;
        if (!s.ok()) {
          errors++;
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = tools::grpc_code_name(s.error_code()) + ": " + s.error_message();
          continue;
        }
        units += n;
      }
      lat.add(local);
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::string mode = std::string(check ? "check" : "query") +
                           (o.linearizable ? " linearizable" : " local");
  report(o, mode, seconds, units.load(), check ? "subjects" : "queries", calls.load(),
         errors.load(), lat, first_error);
  return errors.load() ? tools::kExitFailure : tools::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  ledger::crypto_init();
  CLI::App app{"credbench: load generator for a credledger cluster"};
  app.require_subcommand(1);
  Options o;
  app.add_option("--endpoints", o.client.endpoints, "comma-separated node addresses");
  app.add_option("--cacert", o.client.cacert, "consortium CA (TLS)");
  app.add_option("--cert", o.client.cert, "client certificate");
  app.add_option("--key-pem", o.client.key, "client certificate key");
  app.add_flag("--insecure", o.client.insecure, "plaintext development cluster");
  app.add_option("--role", o.client.role, "plaintext mode role, e.g. agency:samr");
  app.add_option("-o,--output", o.output)->check(CLI::IsMember({"table", "json"}));
  app.add_option("--clients", o.clients, "concurrent clients")->capture_default_str();
  app.add_option("--subjects", o.subjects, "distinct subjects")->capture_default_str();

  auto* submit = app.add_subcommand("submit", "committed events/s and submit latency");
  submit->add_option("--key", o.key_file, "agency key file that signs the events")->required();
  submit->add_option("--events", o.events, "events to submit")->capture_default_str();
  submit->add_option("--batch", o.batch, "events per Submit call")->capture_default_str();
  submit->add_option("--legal-basis", o.legal_basis, "catalog code")->capture_default_str();
  submit->add_option("--sector", o.sector)->capture_default_str();
  submit->add_option("--summary-bytes", o.summary_bytes)->capture_default_str();
  auto* query = app.add_subcommand("query", "status queries/s and latency");
  query->add_option("--seconds", o.seconds)->capture_default_str();
  query->add_flag("--linearizable", o.linearizable, "ReadIndex reads");
  auto* check = app.add_subcommand("check", "CheckSubjects subjects/s");
  check->add_option("--seconds", o.seconds)->capture_default_str();
  check->add_option("--subjects-per-call", o.subjects_per_call)->capture_default_str();
  check->add_flag("--linearizable", o.linearizable, "ReadIndex reads");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : tools::kExitUsage;
  }
  if (o.clients <= 0 || o.batch <= 0) {
    std::cerr << "credbench: --clients and --batch must be positive\n";
    return tools::kExitUsage;
  }
  if (submit->parsed()) return run_submit(o);
  if (query->parsed()) return run_query(o, false);
  return run_query(o, true);
}
