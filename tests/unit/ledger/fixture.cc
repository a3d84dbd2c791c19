// Implementation of the shared ledger test fixture: the consortium is built once per process
// through the real genesis path (to_genesis then from_genesis), keys come from fixed seeds, and
// every ledger lives in its own temporary directory.
#include "tests/unit/ledger/fixture.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <map>

#include "ledger/uscc.h"

namespace ledger_test {

namespace {

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
  if (issuer == kSta) return kBasisTaxLaw;
  if (issuer == kCourt) return kBasisDefaulter;
  return kBasisPenaltyLaw;
}

}  // namespace

std::string key_id_of(std::string_view agency) { return std::string(agency) + "-k1"; }

const ledger::KeyPair& keys_of(std::string_view agency) {
  static const auto* keys = new std::map<std::string, ledger::KeyPair, std::less<>>{
      {std::string(kSamr), ledger::keypair_from_seed(seed_for("seed:samr"))},
      {std::string(kSta), ledger::keypair_from_seed(seed_for("seed:sta"))},
      {std::string(kCourt), ledger::keypair_from_seed(seed_for("seed:court"))},
  };
  auto it = keys->find(agency);
  if (it == keys->end()) it = keys->find(kSamr);
  return it->second;
}

const ledger::KeyPair& rogue_keys() {
  static const ledger::KeyPair keys = ledger::keypair_from_seed(seed_for("seed:rogue"));
  return keys;
}

v1::ConsortiumConfig test_config() {
  v1::ConsortiumConfig config;
  config.set_consortium_id("credledger-test");
  using namespace credledger::v1;
  v1::Agency& samr = add_agency(config, kSamr, "State Administration for Market Regulation");
  grant(samr,
        {ADMINISTRATIVE_PENALTY, BLACKLIST_ENTRY, BLACKLIST_REMOVAL, CORRECTION, OBJECTION_RULING,
         COMMENDATION},
        {GENERAL, FOOD_AND_DRUG, INTERNET_SERVICES, REAL_ESTATE, CONSTRUCTION});
  grant(samr, {RESTORATION, CREDIT_RATING, VOLUNTARY_DISCLOSURE, CREDIT_COMMITMENT},
        {GENERAL, INTERNET_SERVICES, REAL_ESTATE});
  v1::Agency& sta = add_agency(config, kSta, "State Taxation Administration");
  grant(sta,
        {ADMINISTRATIVE_PENALTY, BLACKLIST_ENTRY, BLACKLIST_REMOVAL, RESTORATION, CORRECTION,
         OBJECTION_RULING, CREDIT_RATING, VOLUNTARY_DISCLOSURE},
        {TAXATION});
  grant(sta, {COMMENDATION}, {TAXATION, GENERAL});
  v1::Agency& court = add_agency(config, kCourt, "Supreme People's Court");
  grant(court, {BLACKLIST_ENTRY, BLACKLIST_REMOVAL, RESTORATION, CORRECTION, OBJECTION_RULING},
        {GENERAL, LEGAL_SERVICES, FINANCE});

  auto basis = [&](std::string_view code, std::string_view title, int64_t days) {
    v1::LegalBasisEntry* e = config.add_catalog();
    e->set_code(std::string(code));
    e->set_title(std::string(title));
    e->set_max_publicity_days(days);
  };
  basis(kBasisPenaltyLaw, "Administrative Penalty Law, art. 28", kPenaltyLawDays);
  basis(kBasisTaxLaw, "Law on the Administration of Tax Collection, art. 63", 1095);
  basis(kBasisDefaulter, "SPC provisions on the list of dishonest judgment defaulters", 730);
  basis(kBasisFoodSafety, "Food Safety Law, art. 135", 1825);
  ledger::Consortium::apply_defaults(config);
  return config;
}

std::shared_ptr<const ledger::Consortium> make_consortium(const v1::ConsortiumConfig& config) {
  auto genesis = ledger::Consortium::to_genesis(config);
  REQUIRE(genesis.is_ok());
  auto consortium = ledger::Consortium::from_genesis(*genesis);
  INFO(consortium.status().to_string());
  REQUIRE(consortium.is_ok());
  return *consortium;
}

std::shared_ptr<const ledger::Consortium> test_consortium() {
  static const std::shared_ptr<const ledger::Consortium> consortium =
      make_consortium(test_config());
  return consortium;
}

std::string uscc_for(uint64_t n) {
  char body[9];
  std::snprintf(body, sizeof body, "%08llu", static_cast<unsigned long long>(n % 100000000));
  std::string code = "91110108";
  code += body;
  code += ledger::organization_code_check_character(body);
  code += ledger::uscc_check_character(code);
  return code;
}

v1::Subject enterprise(uint64_t n) {
  v1::Subject s;
  s.set_kind(v1::ENTERPRISE);
  s.set_id(uscc_for(n));
  return s;
}

v1::Subject social_organization(uint64_t n) {
  std::string code = uscc_for(n);
  code[0] = '5';
  code[1] = '1';
  code[17] = ledger::uscc_check_character(std::string_view(code).substr(0, 17));
  v1::Subject s;
  s.set_kind(v1::SOCIAL_ORGANIZATION);
  s.set_id(code);
  return s;
}

std::string_view pseudonym_secret() { return "credledger-test-consortium-secret"; }

v1::Subject individual(std::string_view national_id) {
  v1::Subject s;
  s.set_kind(v1::INDIVIDUAL);
  s.set_id(ledger::pseudonym(national_id, pseudonym_secret()));
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
  // Issued at the start of the test clock, so that events may take effect later.
  e.set_issued_at_ms(kT0);
  e.set_summary("test event " + std::string(event_id));
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

v1::CreditEvent penalty(std::string_view event_id, std::string_view issuer,
                        const v1::Subject& subject, v1::Sector sector, v1::Severity severity,
                        int64_t effective_at_ms, int64_t days) {
  v1::CreditEvent e =
      make_event(event_id, issuer, subject, v1::ADMINISTRATIVE_PENALTY, sector, effective_at_ms);
  e.set_severity(severity);
  e.set_expires_at_ms(effective_at_ms + days * kDayMs);
  return e;
}

v1::CreditEvent blacklist_entry(std::string_view event_id, std::string_view issuer,
                                const v1::Subject& subject, v1::Sector sector,
                                int64_t effective_at_ms, int64_t days) {
  v1::CreditEvent e =
      make_event(event_id, issuer, subject, v1::BLACKLIST_ENTRY, sector, effective_at_ms);
  e.set_expires_at_ms(effective_at_ms + days * kDayMs);
  return e;
}

v1::CreditEvent referring(std::string_view event_id, std::string_view issuer,
                          const v1::Subject& subject, v1::EventKind kind,
                          std::string_view refers_to, int64_t effective_at_ms) {
  v1::CreditEvent e =
      make_event(event_id, issuer, subject, kind, v1::SECTOR_UNSPECIFIED, effective_at_ms);
  e.set_refers_to(std::string(refers_to));
  return e;
}

v1::SignedEvent sign(const v1::CreditEvent& event) {
  std::string_view agency = event.issuer();
  if (agency != kSamr && agency != kSta && agency != kCourt) agency = kSamr;
  return sign_with(event, key_id_of(agency), keys_of(agency));
}

v1::SignedEvent sign_with(const v1::CreditEvent& event, std::string_view key_id,
                          const ledger::KeyPair& keys) {
  return ledger::sign_event(event, key_id, keys.secret_key);
}

v1::SignedEvent sign_payload(std::string payload, std::string_view agency) {
  v1::SignedEvent s;
  s.set_signature(ledger::sign(ledger::kEventSignDomain, payload, keys_of(agency).secret_key));
  s.set_payload(std::move(payload));
  s.set_key_id(key_id_of(agency));
  return s;
}

v1::BlockBody body(std::vector<v1::SignedEvent> events, int64_t timestamp_ms) {
  v1::BlockBody b;
  b.set_timestamp_ms(timestamp_ms);
  for (auto& e : events) *b.add_events() = std::move(e);
  return b;
}

TempDir::TempDir() {
  std::string pattern = "/tmp/credledger-ltest-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  REQUIRE(made != nullptr);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestLedger::TestLedger(std::shared_ptr<const ledger::Consortium> consortium)
    : consortium_(std::move(consortium)) {
  reopen();
}

TestLedger::~TestLedger() { close(); }

void TestLedger::close() {
  ledger_.reset();
  db_.reset();
}

base::Status TestLedger::try_reopen(std::shared_ptr<const ledger::Consortium> consortium) {
  close();
  auto db = ledger::Database::open(dir_.path() + "/db", {});
  if (!db.is_ok()) return db.status();
  db_ = std::move(db).value();
  auto ledger = ledger::Ledger::open(*db_, std::move(consortium),
                                     ledger::LedgerOptions{.sync_writes = false});
  if (!ledger.is_ok()) return ledger.status();
  ledger_ = std::move(ledger).value();
  return base::Status::ok();
}

void TestLedger::reopen() {
  base::Status s = try_reopen(consortium_);
  INFO(s.to_string());
  REQUIRE(s.is_ok());
}

v1::Block TestLedger::apply(std::vector<v1::SignedEvent> events, int64_t timestamp_ms) {
  auto block = ledger_->apply(body(std::move(events), timestamp_ms));
  INFO(block.status().to_string());
  REQUIRE(block.is_ok());
  return std::move(block).value();
}

v1::Receipt TestLedger::apply_one(const v1::SignedEvent& event, int64_t timestamp_ms) {
  v1::Block block = apply({event}, timestamp_ms);
  REQUIRE(block.receipts_size() == 1);
  return block.receipts(0);
}

v1::SubjectStatus TestLedger::status(const v1::Subject& subject, int64_t as_of_ms) {
  auto s = ledger_->status(subject, as_of_ms);
  INFO(s.status().to_string());
  REQUIRE(s.is_ok());
  return std::move(s).value();
}

std::string header_text(const v1::BlockHeader& header) { return header.ShortDebugString(); }

}  // namespace ledger_test
