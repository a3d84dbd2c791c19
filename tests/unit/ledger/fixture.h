// Shared fixture for the ledger unit tests: a three-agency test consortium with fixed keys,
// builders for valid (and deliberately invalid) credit events and subjects, and a ledger in a
// temporary RocksDB directory that is removed when the test ends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/db.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "proto/ledger.pb.h"

namespace ledger_test {

namespace v1 = credledger::v1;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;
// 2026-01-01T00:00:00Z: every test's clock starts here.
constexpr int64_t kT0 = 1767225600000;

// Agencies and their single keys.
constexpr std::string_view kSamr = "samr";    // market regulator
constexpr std::string_view kSta = "sta";      // tax bureau
constexpr std::string_view kCourt = "court";  // people's court
std::string key_id_of(std::string_view agency);  // "samr-k1", ...
const ledger::KeyPair& keys_of(std::string_view agency);
// A key that no agency holds.
const ledger::KeyPair& rogue_keys();

// Legal-basis catalog codes and their maximum publicity periods (days).
constexpr std::string_view kBasisPenaltyLaw = "APL-2021-art28";        // 365 days
constexpr std::string_view kBasisTaxLaw = "TAXADMIN-2015-art63";       // 1095 days
constexpr std::string_view kBasisDefaulter = "SPC-2017-defaulter";     // 730 days
constexpr std::string_view kBasisFoodSafety = "FOODSAFETY-2021-art135";  // 1825 days
constexpr int64_t kPenaltyLawDays = 365;

// Mandates (deliberate gaps for the out-of-mandate rules):
//   samr : PENALTY, BLACKLIST_ENTRY, BLACKLIST_REMOVAL, CORRECTION, OBJECTION_RULING,
//          COMMENDATION in GENERAL, FOOD_AND_DRUG, INTERNET_SERVICES, REAL_ESTATE, CONSTRUCTION;
//          RESTORATION, CREDIT_RATING, VOLUNTARY_DISCLOSURE, CREDIT_COMMITMENT in GENERAL,
//          INTERNET_SERVICES, REAL_ESTATE (no restoration in FOOD_AND_DRUG or CONSTRUCTION).
//   sta  : PENALTY, BLACKLIST_ENTRY, BLACKLIST_REMOVAL, RESTORATION, CORRECTION,
//          OBJECTION_RULING, CREDIT_RATING, VOLUNTARY_DISCLOSURE in TAXATION;
//          COMMENDATION in TAXATION and GENERAL (never CREDIT_COMMITMENT).
//   court: BLACKLIST_ENTRY, BLACKLIST_REMOVAL, RESTORATION, CORRECTION, OBJECTION_RULING in
//          GENERAL, LEGAL_SERVICES, FINANCE (never ADMINISTRATIVE_PENALTY).
// Nobody holds OBJECTION: any agency may file one on a subject's behalf.
v1::ConsortiumConfig test_config();
// The consortium of test_config() with defaults, built once through to_genesis/from_genesis.
std::shared_ptr<const ledger::Consortium> test_consortium();
// Builds a consortium from a config via to_genesis + from_genesis; REQUIREs success.
std::shared_ptr<const ledger::Consortium> make_consortium(const v1::ConsortiumConfig& config);

// ---- subjects ----

// A valid USCC built from n (both check characters computed), kind ENTERPRISE.
std::string uscc_for(uint64_t n);
v1::Subject enterprise(uint64_t n);
v1::Subject social_organization(uint64_t n);
// An individual: pseudonym of a national id under the test consortium secret.
v1::Subject individual(std::string_view national_id);
std::string_view pseudonym_secret();

// ---- events ----

// A fully valid event of any kind with sensible defaults; tests change single fields.
//   penalty: MODERATE, kBasisPenaltyLaw (or the tax/defaulter basis for sta/court), 180 days.
//   blacklist entry: same basis choice, 180 days.
//   rating: "B". ruling: UPHELD. Referring kinds have no sector.
v1::CreditEvent make_event(std::string_view event_id, std::string_view issuer,
                           const v1::Subject& subject, v1::EventKind kind, v1::Sector sector,
                           int64_t effective_at_ms);
v1::CreditEvent penalty(std::string_view event_id, std::string_view issuer,
                        const v1::Subject& subject, v1::Sector sector, v1::Severity severity,
                        int64_t effective_at_ms, int64_t days);
v1::CreditEvent blacklist_entry(std::string_view event_id, std::string_view issuer,
                                const v1::Subject& subject, v1::Sector sector,
                                int64_t effective_at_ms, int64_t days);
v1::CreditEvent referring(std::string_view event_id, std::string_view issuer,
                          const v1::Subject& subject, v1::EventKind kind,
                          std::string_view refers_to, int64_t effective_at_ms);

// Signs with the issuer's key (an unknown issuer signs with samr's key).
v1::SignedEvent sign(const v1::CreditEvent& event);
v1::SignedEvent sign_with(const v1::CreditEvent& event, std::string_view key_id,
                          const ledger::KeyPair& keys);
// Signs arbitrary payload bytes with an agency key (malformed payload tests).
v1::SignedEvent sign_payload(std::string payload, std::string_view agency);

v1::BlockBody body(std::vector<v1::SignedEvent> events, int64_t timestamp_ms);

// ---- storage ----

// A unique directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A Database + Ledger in a TempDir (sync_writes off). REQUIREs every open to succeed.
class TestLedger {
 public:
  explicit TestLedger(std::shared_ptr<const ledger::Consortium> consortium = test_consortium());
  ~TestLedger();

  ledger::Ledger& operator*() { return *ledger_; }
  ledger::Ledger* operator->() { return ledger_.get(); }
  ledger::Ledger& get() { return *ledger_; }
  ledger::Database& db() { return *db_; }
  const std::string& path() const { return dir_.path(); }

  // Closes the ledger and the database (as a crash after the last write would).
  void close();
  // Opens database and ledger again; REQUIREs success.
  void reopen();
  // Opens the database only and returns the ledger's open status (ledger stays closed on error).
  base::Status try_reopen(std::shared_ptr<const ledger::Consortium> consortium);

  // Applies one block; REQUIREs that apply succeeded.
  v1::Block apply(std::vector<v1::SignedEvent> events, int64_t timestamp_ms);
  // Applies a block of one event and returns its receipt.
  v1::Receipt apply_one(const v1::SignedEvent& event, int64_t timestamp_ms);
  v1::Receipt apply_one(const v1::CreditEvent& event, int64_t timestamp_ms) {
    return apply_one(sign(event), timestamp_ms);
  }
  v1::SubjectStatus status(const v1::Subject& subject, int64_t as_of_ms);

 private:
  TempDir dir_;
  std::shared_ptr<const ledger::Consortium> consortium_;
  std::unique_ptr<ledger::Database> db_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

// Bytes of a header for equality checks in failure messages.
std::string header_text(const v1::BlockHeader& header);

}  // namespace ledger_test
