// Micro-benchmarks of the ledger on one core: applying blocks into the RocksDB view (with the
// signatures pre-verified, as the node's worker pool does, and with apply verifying them itself),
// point status queries on the local view, and the raw Ed25519 verify rate for comparison.
// Run: build/bench/ledger_bench  (see README "Performance").
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "ledger/uscc.h"

namespace {

namespace v1 = credledger::v1;

constexpr int kEventsPerBlock = 1000;
constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kT0 = 1767225600000;  // 2026-01-01

struct Fixture {
  ledger::KeyPair key = ledger::keypair_from_seed(std::string(32, 'b'));
  std::shared_ptr<const ledger::Consortium> consortium;

  Fixture() {
    v1::ConsortiumConfig c;
    c.set_consortium_id("bench");
    v1::Agency* a = c.add_agencies();
    a->set_id("samr");
    a->set_name("market regulator");
    v1::AgencyKey* k = a->add_keys();
    k->set_key_id("samr-1");
    k->set_public_key(key.public_key);
    v1::MandateGrant* g = a->add_mandate();
    g->add_kinds(v1::ADMINISTRATIVE_PENALTY);
    g->add_kinds(v1::BLACKLIST_ENTRY);
    g->add_kinds(v1::COMMENDATION);
    g->add_sectors(v1::GENERAL);
    g->add_sectors(v1::REAL_ESTATE);
    v1::LegalBasisEntry* lb = c.add_catalog();
    lb->set_code("APL-9");
    lb->set_title("Administrative Penalty Law, Art. 9");
    lb->set_max_publicity_days(1095);
    ledger::Consortium::apply_defaults(c);
    consortium = ledger::Consortium::from_genesis(*ledger::Consortium::to_genesis(c)).value();
  }

  // A valid USCC for organisation number n.
  static std::string uscc(uint64_t n) {
    char body[9];
    std::snprintf(body, sizeof body, "%08llu", static_cast<unsigned long long>(n % 100000000));
    std::string org = std::string(body);
    org += ledger::organization_code_check_character(org);
    std::string first17 = "91110000" + org;
    return first17 + ledger::uscc_check_character(first17);
  }

  v1::SignedEvent event(uint64_t n, uint64_t subjects) const {
    v1::CreditEvent e;
    e.set_event_id("ev-" + std::to_string(n));
    e.set_issuer("samr");
    e.mutable_subject()->set_kind(v1::ENTERPRISE);
    e.mutable_subject()->set_id(uscc(n % subjects));
    const int kind = static_cast<int>(n % 3);
    e.set_kind(kind == 0 ? v1::ADMINISTRATIVE_PENALTY
                         : kind == 1 ? v1::COMMENDATION : v1::BLACKLIST_ENTRY);
    e.set_sector(kind == 2 ? v1::REAL_ESTATE : v1::GENERAL);
    e.set_severity(v1::MODERATE);
    e.mutable_legal_basis()->set_code("APL-9");
    e.mutable_legal_basis()->set_document_ref("BENCH-" + std::to_string(n));
    e.set_effective_at_ms(kT0);
    e.set_expires_at_ms(kT0 + 365 * kDay);
    e.set_issued_at_ms(kT0);
    e.set_summary("benchmark event with a summary of typical length for a penalty decision");
    return ledger::sign_event(e, "samr-1", key.secret_key);
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

struct TempLedger {
  std::string path;
  std::unique_ptr<ledger::Database> db;
  std::unique_ptr<ledger::Ledger> ledger;

  explicit TempLedger(bool sync) {
    path = std::filesystem::temp_directory_path() /
           ("credledger-bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    db = ledger::Database::open(path, {}).value();
    ledger = ledger::Ledger::open(*db, fixture().consortium, {.sync_writes = sync}).value();
  }
  ~TempLedger() {
    ledger.reset();
    db.reset();
    std::filesystem::remove_all(path);
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

// Pre-signed blocks, made once: signing is the issuer's cost, not the ledger's.
const std::vector<v1::BlockBody>& blocks() {
  static const std::vector<v1::BlockBody> bodies = [] {
    std::vector<v1::BlockBody> out;
    constexpr int kBlocks = 60;
    uint64_t n = 0;
    for (int b = 0; b < kBlocks; ++b) {
      v1::BlockBody body;
      body.set_timestamp_ms(kT0 + b);
      for (int i = 0; i < kEventsPerBlock; ++i) *body.add_events() = fixture().event(n++, 20000);
      out.push_back(std::move(body));
    }
    return out;
  }();
  return bodies;
}

void apply_blocks(benchmark::State& state, bool preverified, bool sync) {
  const auto& bodies = blocks();
  const std::vector<ledger::SignatureState> valid(kEventsPerBlock, ledger::SignatureState::kValid);
  std::unique_ptr<TempLedger> t;
  size_t next = bodies.size();
  int64_t events = 0;
  for (auto _ : state) {
    if (next == bodies.size()) {
      // Event ids are unique per ledger: start a fresh one when the pre-signed blocks run out.
      state.PauseTiming();
      t.reset();
      t = std::make_unique<TempLedger>(sync);
      next = 0;
      state.ResumeTiming();
    }
    auto block = t->ledger->apply(bodies[next++], preverified ? &valid : nullptr);
    if (!block.is_ok() || block->header().accepted_count() != kEventsPerBlock) {
      state.SkipWithError("apply failed or rejected events");
      break;
    }
    events += kEventsPerBlock;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events),
                                                      benchmark::Counter::kIsRate);
}

void BM_ApplyPreverified(benchmark::State& state) { apply_blocks(state, true, state.range(0)); }
void BM_ApplyVerifying(benchmark::State& state) { apply_blocks(state, false, state.range(0)); }
BENCHMARK(BM_ApplyPreverified)->ArgName("fsync")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApplyVerifying)->ArgName("fsync")->Arg(1)->Unit(benchmark::kMillisecond);

void BM_StatusQuery(benchmark::State& state) {
  static TempLedger* t = [] {
    auto* l = new TempLedger(false);
    const std::vector<ledger::SignatureState> valid(kEventsPerBlock,
                                                    ledger::SignatureState::kValid);
    for (int b = 0; b < 20; ++b) (void)l->ledger->apply(blocks()[b], &valid);
    return l;
  }();
  std::mt19937_64 rng(42);
  int64_t queries = 0;
  for (auto _ : state) {
    v1::Subject s;
    s.set_kind(v1::ENTERPRISE);
    s.set_id(Fixture::uscc(rng() % 20000));
    auto status = t->ledger->status(s, kT0 + 30 * kDay);
    benchmark::DoNotOptimize(status);
    ++queries;
  }
  state.counters["queries_per_s"] = benchmark::Counter(static_cast<double>(queries),
                                                       benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StatusQuery)->Unit(benchmark::kMicrosecond);

void BM_Ed25519Verify(benchmark::State& state) {
  const v1::SignedEvent e = fixture().event(1, 1);
  const std::string& pub = fixture().key.public_key;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ledger::verify(ledger::kEventSignDomain, e.payload(), e.signature(), pub));
  }
  state.counters["verifies_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Ed25519Verify)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
