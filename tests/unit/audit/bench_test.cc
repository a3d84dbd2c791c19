// Hidden benchmark ([.bench], not run by default): builds a chain of CREDAUDIT_BENCH_EVENTS
// events (default 100,000) with TestLedger, writes it and the genesis to CREDAUDIT_BENCH_DIR
// (default /tmp/credaudit-bench) for `credaudit verify`, then measures in one run the raw Ed25519
// verification rate on all cores and verify_chain's rate on the same export.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "ledger/audit.h"
#include "ledger/export.h"
#include "ledger/validation.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
namespace v1 = credledger::v1;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("credaudit verify rate next to raw Ed25519 rate", "[.bench]") {
  const char* env_n = std::getenv("CREDAUDIT_BENCH_EVENTS");
  const char* env_dir = std::getenv("CREDAUDIT_BENCH_DIR");
  const int total = env_n ? std::atoi(env_n) : 100000;
  const std::string dir = env_dir ? env_dir : "/tmp/credaudit-bench";
  std::filesystem::create_directories(dir);
  constexpr int kPerBlock = 500;

  TestLedger ledger;
  std::vector<v1::SignedEvent> all;
  const std::string_view agencies[] = {kSamr, kSta, kCourt};
  int made = 0;
  for (int b = 1; made < total; ++b) {
    std::vector<v1::SignedEvent> events;
    for (int i = 0; i < kPerBlock && made < total; ++i, ++made) {
      std::string_view a = agencies[made % 3];
      v1::CreditEvent e =
          a == kSta ? make_event("e" + std::to_string(made), a, enterprise(made), v1::COMMENDATION,
                                 v1::TAXATION, kT0)
          : a == kCourt
              ? blacklist_entry("e" + std::to_string(made), a, enterprise(made), v1::FINANCE, kT0, 30)
              : penalty("e" + std::to_string(made), a, enterprise(made), v1::GENERAL, v1::MINOR,
                        kT0, 30);
      events.push_back(sign(e));
    }
    all.insert(all.end(), events.begin(), events.end());
    ledger.apply(events, kT0 + b * 1000);
  }
  {
    std::ofstream out(dir + "/chain.bin", std::ios::binary | std::ios::trunc);
    ledger::ChainWriter writer(out);
    REQUIRE(ledger::export_chain(ledger.get(), 0, ledger->head().height(), writer).is_ok());
    std::ofstream g(dir + "/genesis.json", std::ios::binary | std::ios::trunc);
    g << test_consortium()->genesis_bytes();
  }

  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  auto consortium = test_consortium();
  double t0 = now_s();
  std::vector<std::thread> pool;
  std::atomic<int> valid{0};
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      int ok = 0;
      for (size_t i = t; i < all.size(); i += threads) {
        ok += ledger::verify_event_signature(*consortium, all[i]) ? 1 : 0;
      }
      valid += ok;
    });
  }
  for (auto& th : pool) th.join();
  const double raw_s = now_s() - t0;
  REQUIRE(valid == total);

  std::ifstream in(dir + "/chain.bin", std::ios::binary);
  ledger::AuditResult r = ledger::verify_chain(consortium, in);
  REQUIRE(r.ok());
  const double raw_rate = total / raw_s;
  const double audit_rate = total / r.summary.elapsed_s;
  std::cout << "events " << total << ", threads " << threads << "\n"
            << "raw Ed25519 verify (verify_event_signature): " << static_cast<uint64_t>(raw_rate)
            << " events/s\n"
            << "verify_chain: " << static_cast<uint64_t>(audit_rate) << " events/s ("
            << static_cast<int>(100 * audit_rate / raw_rate) << "% of raw)\n"
            << "export and genesis in " << dir << "\n";
}
