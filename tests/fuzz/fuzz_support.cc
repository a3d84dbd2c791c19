// The fuzz targets' consortium, subjects, events and scratch ledger. Mirrors the shape of
// tests/unit/ledger/fixture.cc but stops the process instead of failing a Catch2 assertion.
#include "tests/fuzz/fuzz_support.h"

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <google/protobuf/stubs/logging.h>

#include "ledger/internal/view_entry.h"
#include "ledger/event.h"
#include "ledger/uscc.h"
#include "ledger/validation.h"

namespace fuzz {

namespace {

[[noreturn]] void die(std::string_view what) {
  std::fprintf(stderr, "fuzz support: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

std::string seed_for(std::string_view name) {
  std::string seed(32, '\0');
  for (size_t i = 0; i < seed.size(); ++i) {
    seed[i] = static_cast<char>(i < name.size() ? name[i] : 0x5a + i);
  }
  return seed;
}

void grant(v1::Agency& agency, std::initializer_list<v1::EventKind> kinds,
           std::initializer_list<v1::Sector> sectors) {
  v1::MandateGrant* g = agency.add_mandate();
  for (v1::EventKind k : kinds) g->add_kinds(k);
  for (v1::Sector s : sectors) g->add_sectors(s);
}

v1::Agency& add_agency(v1::ConsortiumConfig& config, std::string_view id, std::string_view name) {
  v1::Agency* a = config.add_agencies();
  a->set_id(std::string(id));
  a->set_name(std::string(name));
  v1::AgencyKey* k = a->add_keys();
  k->set_key_id(key_id_of(id));
  k->set_public_key(keys_of(id).public_key);
  return *a;
}

std::string_view default_basis(std::string_view issuer) {
  if (issuer == "sta") return "TAXADMIN-2015-art63";
  if (issuer == "court") return "SPC-2017-defaulter";
  return "APL-2021-art28";
}

// Fuzzed protobuf strings are often invalid UTF-8, which protobuf logs on every parse; the
// parse result is what the targets check, and the log only slows the fuzzers down.
const bool quiet_protobuf = [] {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int,
                                     const std::string&) {});
  return true;
}();

// Scratch directories still present, removed at exit (libFuzzer ends with exit()).
std::mutex dirs_mu;
std::set<std::string>& live_dirs() {
  static auto* dirs = new std::set<std::string>();
  return *dirs;
}
void remove_live_dirs() {
  std::lock_guard<std::mutex> lock(dirs_mu);
  for (const std::string& d : live_dirs()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
  live_dirs().clear();
}

}  // namespace

void check_failed(const char* cond, std::string_view what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %.*s\n", file, line, cond,
               static_cast<int>(what.size()), what.data());
  std::abort();
}

std::string key_id_of(std::string_view agency) { return std::string(agency) + "-k1"; }

const ledger::KeyPair& keys_of(std::string_view agency) {
  static const auto* keys = new std::map<std::string, ledger::KeyPair, std::less<>>{
      {"samr", ledger::keypair_from_seed(seed_for("seed:samr"))},
      {"sta", ledger::keypair_from_seed(seed_for("seed:sta"))},
      {"court", ledger::keypair_from_seed(seed_for("seed:court"))},
  };
  auto it = keys->find(agency);
  if (it == keys->end()) it = keys->find("samr");
  return it->second;
}

v1::ConsortiumConfig test_config() {
  v1::ConsortiumConfig config;
  config.set_consortium_id("credledger-test");
  using namespace credledger::v1;
  v1::Agency& samr = add_agency(config, "samr", "State Administration for Market Regulation");
  grant(samr,
        {ADMINISTRATIVE_PENALTY, BLACKLIST_ENTRY, BLACKLIST_REMOVAL, CORRECTION, OBJECTION_RULING,
         COMMENDATION},
        {GENERAL, FOOD_AND_DRUG, INTERNET_SERVICES, REAL_ESTATE, CONSTRUCTION});
  grant(samr, {RESTORATION, CREDIT_RATING, VOLUNTARY_DISCLOSURE, CREDIT_COMMITMENT},
        {GENERAL, INTERNET_SERVICES, REAL_ESTATE});
  v1::Agency& sta = add_agency(config, "sta", "State Taxation Administration");
  grant(sta,
        {ADMINISTRATIVE_PENALTY, BLACKLIST_ENTRY, BLACKLIST_REMOVAL, RESTORATION, CORRECTION,
         OBJECTION_RULING, CREDIT_RATING, VOLUNTARY_DISCLOSURE},
        {TAXATION});
  grant(sta, {COMMENDATION}, {TAXATION, GENERAL});
  v1::Agency& court = add_agency(config, "court", "Supreme People's Court");
  grant(court, {BLACKLIST_ENTRY, BLACKLIST_REMOVAL, RESTORATION, CORRECTION, OBJECTION_RULING},
        {GENERAL, LEGAL_SERVICES, FINANCE});
  auto basis = [&](std::string_view code, std::string_view title, int64_t days) {
    v1::LegalBasisEntry* e = config.add_catalog();
    e->set_code(std::string(code));
    e->set_title(std::string(title));
    e->set_max_publicity_days(days);
  };
  basis("APL-2021-art28", "Administrative Penalty Law, art. 28", 365);
  basis("TAXADMIN-2015-art63", "Law on the Administration of Tax Collection, art. 63", 1095);
  basis("SPC-2017-defaulter", "SPC provisions on the list of dishonest judgment defaulters", 730);
  basis("FOODSAFETY-2021-art135", "Food Safety Law, art. 135", 1825);
  ledger::Consortium::apply_defaults(config);
  return config;
}

std::shared_ptr<const ledger::Consortium> test_consortium() {
  static const std::shared_ptr<const ledger::Consortium> consortium = [] {
    auto genesis = ledger::Consortium::to_genesis(test_config());
    if (!genesis.is_ok()) die(genesis.status().to_string());
    auto c = ledger::Consortium::from_genesis(*genesis);
    if (!c.is_ok()) die(c.status().to_string());
    return *c;
  }();
  return consortium;
}

v1::Subject enterprise(uint64_t n) {
  char body[9];
  std::snprintf(body, sizeof body, "%08llu", static_cast<unsigned long long>(n % 100000000));
  std::string code = "91110108";
  code += body;
  code += ledger::organization_code_check_character(body);
  code += ledger::uscc_check_character(code);
  v1::Subject s;
  s.set_kind(v1::ENTERPRISE);
  s.set_id(code);
  return s;
}

v1::Subject individual(std::string_view national_id) {
  v1::Subject s;
  s.set_kind(v1::INDIVIDUAL);
  s.set_id(ledger::pseudonym(national_id, "credledger-test-consortium-secret"));
  return s;
}

v1::CreditEvent make_event(std::string_view event_id, std::string_view issuer,
                           const v1::Subject& subject, v1::EventKind kind, v1::Sector sector,
                           int64_t effective_at_ms) {
  v1::CreditEvent e;
  e.set_event_id(std::string(event_id));
  e.set_issuer(std::string(issuer));
  *e.mutable_subject() = subject;
  e.set_kind(kind);
  e.set_effective_at_ms(effective_at_ms);
  e.set_issued_at_ms(kT0);
  e.set_summary("fuzz seed " + std::string(event_id));
  if (!ledger::is_referring_kind(kind)) e.set_sector(sector);
  switch (kind) {
    case v1::ADMINISTRATIVE_PENALTY:
      e.set_severity(v1::MODERATE);
      [[fallthrough]];
    case v1::BLACKLIST_ENTRY:
      e.mutable_legal_basis()->set_code(std::string(default_basis(issuer)));
      e.mutable_legal_basis()->set_document_ref("doc-" + std::string(event_id));
      e.set_expires_at_ms(effective_at_ms + 180 * kDayMs);
      break;
    case v1::CREDIT_RATING:
      e.set_rating("B");
      break;
    case v1::OBJECTION_RULING:
      e.set_ruling(v1::UPHELD);
      break;
    default:
      break;
  }
  return e;
}

v1::SignedEvent sign(const v1::CreditEvent& event) {
  std::string_view agency = event.issuer();
  if (agency != "samr" && agency != "sta" && agency != "court") agency = "samr";
  return ledger::sign_event(event, key_id_of(agency), keys_of(agency).secret_key);
}

v1::ViewEntry entry_of(const v1::CreditEvent& e, uint64_t sequence) {
  return ledger::internal::make_entry(e, sequence, 1, kSeedBlockTimeMs);
}

std::vector<v1::SignedEvent> seed_events() {
  const int64_t t = kT0 + kDayMs / 2;
  return {
      sign(make_event("seed-1", "samr", enterprise(1), v1::ADMINISTRATIVE_PENALTY, v1::GENERAL, t)),
      sign(make_event("seed-2", "samr", enterprise(1), v1::BLACKLIST_ENTRY, v1::REAL_ESTATE, t)),
      sign(make_event("seed-3", "sta", enterprise(2), v1::ADMINISTRATIVE_PENALTY, v1::TAXATION, t)),
      sign(make_event("seed-4", "court", individual("110101199001011234"), v1::BLACKLIST_ENTRY,
                      v1::GENERAL, t)),
      sign(make_event("seed-5", "samr", enterprise(1), v1::CREDIT_RATING, v1::GENERAL, t)),
  };
}

ScratchLedger::ScratchLedger() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/credledger-fuzz-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) die("cannot make a scratch directory");
  dir_ = pattern;
  {
    std::lock_guard<std::mutex> lock(dirs_mu);
    static const bool registered = [] { return std::atexit(remove_live_dirs) == 0; }();
    (void)registered;
    live_dirs().insert(dir_);
  }
  ledger::Database::Options db_options;
  db_options.block_cache_bytes = 1 << 20;
  auto db = ledger::Database::open(dir_ + "/db", db_options);
  if (!db.is_ok()) die(db.status().to_string());
  db_ = std::move(db).value();
  auto l = ledger::Ledger::open(*db_, test_consortium(),
                                ledger::LedgerOptions{.sync_writes = false, .disable_wal = true});
  if (!l.is_ok()) die(l.status().to_string());
  ledger_ = std::move(l).value();
  v1::BlockBody body;
  body.set_timestamp_ms(kSeedBlockTimeMs);
  for (auto& e : seed_events()) *body.add_events() = std::move(e);
  auto block = ledger_->apply(body);
  if (!block.is_ok()) die(block.status().to_string());
  for (const v1::Receipt& r : block->receipts()) {
    if (!r.accepted()) die("seed event " + r.event_id() + " rejected: " + r.message());
  }
}

ScratchLedger::~ScratchLedger() {
  ledger_.reset();
  db_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::lock_guard<std::mutex> lock(dirs_mu);
  live_dirs().erase(dir_);
}

uint8_t Reader::u8() {
  if (pos_ >= size_) return 0;
  return data_[pos_++];
}

uint32_t Reader::u32() {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | u8();
  return v;
}

uint64_t Reader::u64() {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
  return v;
}

std::string Reader::bytes(size_t n) {
  const size_t take = std::min(n, size_ - std::min(pos_, size_));
  std::string out(reinterpret_cast<const char*>(data_) + pos_, take);
  pos_ += take;
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace fuzz
