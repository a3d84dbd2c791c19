// credbench: load generator for a credledger cluster, and for an etcd cluster to compare with.
//
//   credbench submit --key samr.key --legal-basis APL-2021-ART9 --clients 64 --events 20000
//   credbench query  --clients 256 --seconds 10 [--linearizable]
//   credbench check  --clients 8 --seconds 10 --subjects-per-call 1000
//   credbench etcd-put   --endpoints 127.0.0.1:2379 --insecure --clients 64 --events 20000
//   credbench etcd-range --endpoints 127.0.0.1:2379 --insecure --clients 256 --seconds 10 [--linearizable]
//   credbench limits --dir /var/lib/credledger --seconds 3
//
// Every load mode runs --clients closed-loop clients, each on its own connection, and reports
// units/s with per-call latency percentiles. submit pre-signs every event before the clock
// starts (signing is the issuer's cost) and counts committed events. The etcd modes drive
// etcd's KV API (proto/etcd_kv.proto) with values of a signed event's size, so both systems see
// the same load from the same client. limits measures what bounds a node on this machine:
// Ed25519 verifications/s and fdatasync/s. Endpoints and TLS flags are credctl's.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sodium.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <sstream>
#include <atomic>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/absl_runtime.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/event.h"
#include "ledger/uscc.h"
#include "proto/api.grpc.pb.h"
#include "proto/etcd_kv.grpc.pb.h"
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
  int value_bytes = 300;    // etcd values and verify messages: the size of a signed event
  std::string dir = ".";
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
  std::vector<uint64_t> us;
  uint64_t pct(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    const size_t i = std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())));
    return us[i];
  }
};

std::shared_ptr<grpc::ChannelCredentials> credentials_for(const Options& o) {
  if (o.client.insecure) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tools::read_file(o.client.cacert).value();
  if (!o.client.cert.empty()) {
    ssl.pem_cert_chain = tools::read_file(o.client.cert).value();
    ssl.pem_private_key = tools::read_file(o.client.key).value();
  }
  return grpc::SslCredentials(ssl);
}

std::vector<std::shared_ptr<grpc::Channel>> channels_for(const std::vector<std::string>& endpoints,
                                                         int n, const Options& o) {
  // Each client gets its own connection so that load spreads like independent callers.
  std::vector<std::shared_ptr<grpc::Channel>> out;
  const auto creds = credentials_for(o);
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(64 << 20);
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

// What one call of a closed-loop client did.
struct CallOutcome {
  grpc::Status status;
  uint64_t units = 0;     // events committed, queries or subjects answered
  uint64_t rejected = 0;  // events the ledger answered with a rejection receipt
};
// A client's next call; nullopt once the client has no more work.
using NextCall = std::function<std::optional<CallOutcome>()>;

struct RunResult {
  double seconds = 0;
  uint64_t units = 0, rejected = 0, calls = 0, errors = 0;
  Latencies latency;
  std::string first_error;
};

// Runs o.clients closed-loop clients, each calling its NextCall (made by make_client(index) on
// the client's own thread) back to back until it runs out of work or `seconds` (0 = no limit)
// have passed. Every call's latency is recorded.
RunResult drive(const Options& o, int seconds, const std::function<NextCall(int)>& make_client) {
  RunResult r;
  std::atomic<uint64_t> units{0}, rejected{0}, calls{0}, errors{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int c = 0; c < o.clients; ++c) {
    workers.emplace_back([&, c] {
      NextCall next = make_client(c);
      std::vector<uint64_t> local;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        std::optional<CallOutcome> out = next();
        if (!out) break;
        local.push_back(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
        calls++;
        if (!out->status.ok()) {
          errors++;
          std::lock_guard<std::mutex> lock(mu);
          if (r.first_error.empty()) {
            r.first_error = tools::grpc_code_name(out->status.error_code()) + ": " +
                            out->status.error_message();
          }
          continue;
        }
        units += out->units;
        rejected += out->rejected;
      }
      std::lock_guard<std::mutex> lock(mu);
      r.latency.us.insert(r.latency.us.end(), local.begin(), local.end());
    });
  }
  if (seconds > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    stop = true;
  }
  for (auto& w : workers) w.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.units = units;
  r.rejected = rejected;
  r.calls = calls;
  r.errors = errors;
  return r;
}

int report(const Options& o, const std::string& mode, const char* unit, RunResult& r) {
  const double rate = r.seconds > 0 ? static_cast<double>(r.units) / r.seconds : 0;
  if (o.output == "json") {
    std::cout << nlohmann::json{{"mode", mode},
                                {"clients", o.clients},
                                {"seconds", r.seconds},
                                {unit, r.units},
                                {std::string(unit) + "_per_s", rate},
                                {"calls", r.calls},
                                {"errors", r.errors},
                                {"rejected", r.rejected},
                                {"latency_us_p50", r.latency.pct(0.50)},
                                {"latency_us_p95", r.latency.pct(0.95)},
                                {"latency_us_p99", r.latency.pct(0.99)}}
                     .dump()
              << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(1) << "mode      " << mode << " (" << o.clients
              << " clients)\n"
              << unit << "  " << r.units << " in " << r.seconds << " s = " << rate << " " << unit
              << "/s\n"
              << "calls     " << r.calls << ", errors " << r.errors << "\n"
              << "latency   p50 " << r.latency.pct(0.50) / 1000.0 << " ms  p95 "
              << r.latency.pct(0.95) / 1000.0 << " ms  p99 " << r.latency.pct(0.99) / 1000.0
              << " ms\n";
  }
  if (r.errors) std::cerr << "credbench: first error: " << r.first_error << "\n";
  if (r.rejected) std::cerr << "credbench: " << r.rejected << " events rejected\n";
  return r.errors || r.rejected ? tools::kExitFailure : tools::kExitOk;
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

  auto channels = channels_for(client->endpoints(), o.clients, o);
  std::atomic<uint64_t> next{0};
  RunResult r = drive(o, 0, [&](int c) -> NextCall {
    auto stub = std::shared_ptr<v1::LedgerService::Stub>(
        v1::LedgerService::NewStub(channels[static_cast<size_t>(c)]));
    return [&, stub]() -> std::optional<CallOutcome> {
      const uint64_t first = next.fetch_add(static_cast<uint64_t>(o.batch));
      if (first >= o.events) return std::nullopt;
      const uint64_t last = std::min<uint64_t>(o.events, first + static_cast<uint64_t>(o.batch));
      v1::SubmitRequest request;
      for (uint64_t i = first; i < last; ++i) *request.add_events() = events[i];
      v1::SubmitResponse response;
      grpc::ClientContext ctx;
      prepare(ctx, o);
      CallOutcome out;
      out.status = stub->Submit(&ctx, request, &response);
      for (const auto& receipt : response.receipts()) (receipt.accepted() ? out.units : out.rejected)++;
      return out;
    };
  });
  return report(o, "submit", "events", r);
}

int run_query(const Options& o, bool check) {
  auto client = tools::Client::connect(o.client);
  if (!client.is_ok()) return tools::report_error("credbench", client.status());
  auto channels = channels_for(client->endpoints(), o.clients, o);
  RunResult r = drive(o, o.seconds, [&](int c) -> NextCall {
    auto stub = std::shared_ptr<v1::QueryService::Stub>(
        v1::QueryService::NewStub(channels[static_cast<size_t>(c)]));
    auto rng = std::make_shared<std::mt19937_64>(static_cast<uint64_t>(c) * 7919 + 1);
    return [&, stub, rng]() -> std::optional<CallOutcome> {
      grpc::ClientContext ctx;
      prepare(ctx, o);
      CallOutcome out;
      const auto consistency = o.linearizable ? v1::LINEARIZABLE : v1::LOCAL;
      if (check) {
        v1::CheckRequest request;
        for (int i = 0; i < o.subjects_per_call; ++i) {
          v1::Subject* subject = request.add_subjects();
          subject->set_kind(v1::ENTERPRISE);
          subject->set_id(uscc_for((*rng)() % o.subjects));
        }
        request.set_consistency(consistency);
        v1::CheckResponse response;
        out.status = stub->CheckSubjects(&ctx, request, &response);
        out.units = static_cast<uint64_t>(response.statuses_size());
      } else {
        v1::StatusRequest request;
        request.mutable_subject()->set_kind(v1::ENTERPRISE);
        request.mutable_subject()->set_id(uscc_for((*rng)() % o.subjects));
        request.set_consistency(consistency);
        v1::SubjectStatus response;
        out.status = stub->GetSubjectStatus(&ctx, request, &response);
        out.units = 1;
      }
      return out;
    };
  });
  const std::string mode = std::string(check ? "check" : "query") +
                           (o.linearizable ? " linearizable" : " local");
  return report(o, mode, check ? "subjects" : "queries", r);
}

// ---- etcd: the same closed loop against etcd's KV API (proto/etcd_kv.proto) ----

std::vector<std::string> split_endpoints(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int usage_error(const std::string& what) {
  std::cerr << "credbench: " << what << "\n";
  return tools::kExitUsage;
}

std::string etcd_key(uint64_t n) { return "credbench/" + std::to_string(n); }

int run_etcd_put(const Options& o) {
  const auto endpoints = split_endpoints(o.client.endpoints);
  if (endpoints.empty()) return usage_error("--endpoints is required");
  // Values of the size of a signed credit event, prepared before the clock starts like them.
  std::string value(static_cast<size_t>(o.value_bytes), '\0');
  randombytes_buf(value.data(), value.size());
  auto channels = channels_for(endpoints, o.clients, o);
  std::atomic<uint64_t> next{0};
  std::cerr << "credbench: putting " << o.events << " keys of " << o.value_bytes
            << "-byte values with " << o.clients << " clients\n";
  RunResult r = drive(o, 0, [&](int c) -> NextCall {
    auto stub = std::shared_ptr<etcdserverpb::KV::Stub>(
        etcdserverpb::KV::NewStub(channels[static_cast<size_t>(c)]));
    return [&, stub]() -> std::optional<CallOutcome> {
      const uint64_t i = next.fetch_add(1);
      if (i >= o.events) return std::nullopt;
      etcdserverpb::PutRequest request;
      request.set_key(etcd_key(i % o.subjects));
      request.set_value(value);
      etcdserverpb::PutResponse response;
      grpc::ClientContext ctx;
      prepare(ctx, o);
      CallOutcome out;
      out.status = stub->Put(&ctx, request, &response);
      out.units = 1;
      return out;
    };
  });
  return report(o, "etcd put", "puts", r);
}

int run_etcd_range(const Options& o) {
  const auto endpoints = split_endpoints(o.client.endpoints);
  if (endpoints.empty()) return usage_error("--endpoints is required");
  auto channels = channels_for(endpoints, o.clients, o);
  RunResult r = drive(o, o.seconds, [&](int c) -> NextCall {
    auto stub = std::shared_ptr<etcdserverpb::KV::Stub>(
        etcdserverpb::KV::NewStub(channels[static_cast<size_t>(c)]));
    auto rng = std::make_shared<std::mt19937_64>(static_cast<uint64_t>(c) * 7919 + 1);
    return [&, stub, rng]() -> std::optional<CallOutcome> {
      etcdserverpb::RangeRequest request;
      request.set_key(etcd_key((*rng)() % o.subjects));
      request.set_serializable(!o.linearizable);
      etcdserverpb::RangeResponse response;
      grpc::ClientContext ctx;
      prepare(ctx, o);
      CallOutcome out;
      out.status = stub->Range(&ctx, request, &response);
      out.units = 1;
      return out;
    };
  });
  return report(o, o.linearizable ? "etcd range linearizable" : "etcd range serializable",
                "ranges", r);
}

// ---- the machine's limits ----

// Ed25519 verifications/s of `message_bytes`-byte messages on `threads` threads for `seconds`.
double verify_rate(int threads, double seconds, size_t message_bytes) {
  constexpr size_t kMessages = 256;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  std::vector<std::string> messages(kMessages, std::string(message_bytes, '\0'));
  std::vector<std::array<unsigned char, crypto_sign_BYTES>> sigs(kMessages);
  for (size_t i = 0; i < kMessages; ++i) {
    randombytes_buf(messages[i].data(), message_bytes);
    crypto_sign_detached(sigs[i].data(), nullptr,
                         reinterpret_cast<const unsigned char*>(messages[i].data()), message_bytes, sk);
  }
  std::atomic<uint64_t> total{0};
  std::atomic<bool> stop{false}, failed{false};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint64_t n = 0;
      for (size_t i = static_cast<size_t>(t); !stop.load(std::memory_order_relaxed); ++i, ++n) {
        const size_t k = i % kMessages;
        if (crypto_sign_verify_detached(sigs[k].data(),
                                        reinterpret_cast<const unsigned char*>(messages[k].data()),
                                        message_bytes, pk) != 0) {
          failed = true;
        }
      }
      total += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  if (failed) throw std::runtime_error("a valid signature failed to verify");
  return static_cast<double>(total) / std::chrono::duration<double>(Clock::now() - start).count();
}

// fdatasync/s of 4 KiB appends to a new file in `dir`, like a log's group commit at its smallest.
base::Result<double> fdatasync_rate(const std::string& dir, double seconds) {
  const std::string path = dir + "/credbench-fsync.tmp";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return base::Status::io_error("cannot create " + path + ": " + std::strerror(errno));
  std::string page(4096, 'x');
  uint64_t n = 0;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  base::Status error;
  while (Clock::now() < until) {
    if (::write(fd, page.data(), page.size()) != static_cast<ssize_t>(page.size()) ||
        ::fdatasync(fd) != 0) {
      error = base::Status::io_error("write/fdatasync " + path + ": " + std::strerror(errno));
      break;
    }
    ++n;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  ::unlink(path.c_str());
  RETURN_IF_ERROR(error);
  return static_cast<double>(n) / elapsed;
}

int run_limits(const Options& o) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const double one = verify_rate(1, o.seconds, static_cast<size_t>(o.value_bytes));
  const double all = verify_rate(cores, o.seconds, static_cast<size_t>(o.value_bytes));
  auto fsyncs = fdatasync_rate(o.dir, o.seconds);
  if (!fsyncs.is_ok()) return tools::report_error("credbench", fsyncs.status());
  if (o.output == "json") {
    std::cout << nlohmann::json{{"mode", "limits"},
                                {"cores", cores},
                                {"message_bytes", o.value_bytes},
                                {"verify_per_s_1_thread", one},
                                {"verify_per_s_all_cores", all},
                                {"fdatasync_per_s", *fsyncs},
                                {"dir", o.dir}}
                     .dump()
              << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(0) << "Ed25519 verify (" << o.value_bytes
              << "-byte messages): " << one << "/s on 1 thread, " << all << "/s on " << cores
              << " threads\nfdatasync of 4 KiB appends in " << o.dir << ": " << *fsyncs << "/s\n";
  }
  return tools::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  tools::route_library_logs("credbench");
  base::disable_absl_deadlock_detection();
  ledger::crypto_init();
  CLI::App app{"credbench: load generator for credledger (and etcd, to compare)"};
  app.require_subcommand(1);
  app.fallthrough();  // the shared flags may also follow the mode
  Options o;
  app.add_option("--endpoints", o.client.endpoints, "comma-separated node addresses");
  app.add_option("--cacert", o.client.cacert, "consortium CA (TLS)");
  app.add_option("--cert", o.client.cert, "client certificate");
  app.add_option("--key-pem", o.client.key, "client certificate key");
  app.add_flag("--insecure", o.client.insecure, "plaintext development cluster");
  app.add_option("--role", o.client.role, "plaintext mode role, e.g. agency:samr");
  app.add_option("-o,--output", o.output)->check(CLI::IsMember({"table", "json"}));
  app.add_option("--clients", o.clients, "concurrent clients")->capture_default_str();
  app.add_option("--subjects", o.subjects, "distinct subjects (etcd: distinct keys)")
      ->capture_default_str();

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
  auto* etcd_put = app.add_subcommand("etcd-put", "etcd puts/s and put latency");
  etcd_put->add_option("--events", o.events, "puts to make")->capture_default_str();
  etcd_put->add_option("--value-bytes", o.value_bytes)->capture_default_str();
  auto* etcd_range = app.add_subcommand("etcd-range", "etcd single-key ranges/s and latency");
  etcd_range->add_option("--seconds", o.seconds)->capture_default_str();
  etcd_range->add_flag("--linearizable", o.linearizable, "linearizable (default: serializable)");
  auto* limits = app.add_subcommand("limits", "Ed25519 verify/s (1 thread, all cores), fdatasync/s");
  limits->add_option("--dir", o.dir, "directory on the data disk")->capture_default_str();
  limits->add_option("--seconds", o.seconds, "per measurement")->capture_default_str();
  limits->add_option("--message-bytes", o.value_bytes)->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : tools::kExitUsage;
  }
  if (o.clients <= 0 || o.batch <= 0 || o.subjects == 0 || o.value_bytes <= 0) {
    std::cerr << "credbench: --clients, --batch, --subjects and sizes must be positive\n";
    return tools::kExitUsage;
  }
  if (submit->parsed()) return run_submit(o);
  if (query->parsed()) return run_query(o, false);
  if (check->parsed()) return run_query(o, true);
  if (etcd_put->parsed()) return run_etcd_put(o);
  if (etcd_range->parsed()) return run_etcd_range(o);
  return run_limits(o);
}
