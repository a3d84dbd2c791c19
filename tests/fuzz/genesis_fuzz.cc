// Fuzzes the consortium genesis file (protobuf JSON of ConsortiumConfig), as every node and
// credaudit load it. A genesis that parses is written back with to_genesis and must load again
// to the same config; then the rules that read it run on it: key, agency, catalog and mandate
// lookups, the static rules on valid events of the test agencies (their signatures counted as
// valid), and the scoring of a subject with an entry of every scored kind at several instants.
//
// Oracles: a genesis that loads round-trips; validation and scoring under any loaded genesis
// return an answer (no crash, no signed overflow); a score stays within [score_min, score_max].
#include <string>
#include <vector>

#include "ledger/consortium.h"
#include "ledger/scoring.h"
#include "ledger/validation.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace v1 = credledger::v1;

struct Samples {
  std::vector<v1::SignedEvent> events;
  std::vector<v1::ViewEntry> entries;  // of enterprise(1), in sequence order
};

const Samples& samples() {
  static const Samples* s = [] {
    auto* out = new Samples();
    const v1::Subject subject = fuzz::enterprise(1);
    const int64_t t = fuzz::kT0;
    uint64_t sequence = 0;
    auto add = [&](v1::CreditEvent e) {
      out->events.push_back(fuzz::sign(e));
      out->entries.push_back(fuzz::entry_of(e, sequence++));
    };
    for (v1::Severity severity : {v1::MINOR, v1::MODERATE, v1::SERIOUS, v1::VERY_SERIOUS}) {
      v1::CreditEvent e = fuzz::make_event("p" + std::to_string(severity), "samr", subject,
                                           v1::ADMINISTRATIVE_PENALTY, v1::GENERAL, t);
      e.set_severity(severity);
      add(e);
    }
    add(fuzz::make_event("bl", "samr", subject, v1::BLACKLIST_ENTRY, v1::REAL_ESTATE, t));
    for (int i = 0; i < 4; ++i) {
      add(fuzz::make_event("c" + std::to_string(i), "samr", subject, v1::COMMENDATION,
                           v1::GENERAL, t));
      add(fuzz::make_event("d" + std::to_string(i), "samr", subject, v1::VOLUNTARY_DISCLOSURE,
                           v1::GENERAL, t));
      add(fuzz::make_event("k" + std::to_string(i), "samr", subject, v1::CREDIT_COMMITMENT,
                           v1::GENERAL, t));
    }
    add(fuzz::make_event("r", "samr", subject, v1::CREDIT_RATING, v1::GENERAL, t));
    add(fuzz::make_event("tax", "sta", fuzz::enterprise(2), v1::ADMINISTRATIVE_PENALTY,
                         v1::TAXATION, t));
    return out;
  }();
  return *s;
}

void exercise(const ledger::Consortium& consortium) {
  const v1::ConsortiumConfig& config = consortium.config();
  for (const v1::Agency& agency : config.agencies()) {
    FUZZ_CHECK(consortium.find_agency(agency.id()) != nullptr, "every agency is found");
    for (const v1::AgencyKey& key : agency.keys()) {
      FUZZ_CHECK(consortium.find_key(key.key_id()) != nullptr, "every key is found");
    }
    for (int kind = v1::EventKind_MIN; kind <= v1::EventKind_MAX; ++kind) {
      (void)consortium.mandate_allows_kind(agency, static_cast<v1::EventKind>(kind));
      for (int sector = v1::Sector_MIN; sector <= v1::Sector_MAX; ++sector) {
        (void)consortium.mandate_allows(agency, static_cast<v1::EventKind>(kind),
                                        static_cast<v1::Sector>(sector));
      }
    }
  }
  for (const v1::LegalBasisEntry& entry : config.catalog()) {
    FUZZ_CHECK(consortium.find_legal_basis(entry.code()) != nullptr, "every basis is found");
  }
  for (const v1::SignedEvent& e : samples().events) {
    (void)ledger::check_event_static(consortium, e, ledger::SignatureState::kValid);
  }
  const v1::ScoringRules& rules = config.scoring();
  for (int64_t as_of : {fuzz::kT0, fuzz::kT0 + 30 * fuzz::kDayMs, fuzz::kT0 + 4000 * fuzz::kDayMs}) {
    v1::SubjectStatus status =
        ledger::evaluate_subject(consortium, fuzz::enterprise(1), samples().entries, as_of);
    FUZZ_CHECK(status.score() >= rules.score_min() && status.score() <= rules.score_max(),
               "a score stays within [score_min, score_max]");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto consortium =
      ledger::Consortium::from_genesis(std::string(reinterpret_cast<const char*>(data), size));
  if (!consortium.is_ok()) {
    FUZZ_CHECK(!consortium.status().message().empty(), "a refused genesis says why");
    return 0;
  }
  auto written = ledger::Consortium::to_genesis((*consortium)->config());
  FUZZ_CHECK(written.is_ok(), "a loaded genesis can be written");
  auto again = ledger::Consortium::from_genesis(*written);
  FUZZ_CHECK(again.is_ok(), "a genesis we wrote loads");
  FUZZ_CHECK((*again)->config().SerializeAsString() == (*consortium)->config().SerializeAsString(),
             "a genesis round-trips to the same config");
  exercise(**consortium);
  return 0;
}
