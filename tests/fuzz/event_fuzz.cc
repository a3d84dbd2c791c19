// Fuzzes event decoding and validation: the input is the bytes of a SignedEvent as Submit and
// peers carry it. Every decoder and rule an incoming event meets runs on it: leaf data and hash,
// payload parsing, the static rules with the signature unchecked (real Ed25519 verification
// against the test consortium), the same rules once more with the payload re-signed by the key
// it names (so the rules behind the signature check are reached), and the stateful rules against
// the view of a scratch ledger holding seed_events(); an event that passes is then scored as
// a status query would score it.
//
// Oracles: bad input is a rejection, never a crash; a rejected event always says why; an event
// that passes with an unchecked signature must carry a signature that verifies; re-signing a
// payload with the named key never changes what the non-signature rules decide.
#include <limits>
#include <string>
#include <vector>

#include "ledger/event.h"
#include "ledger/scoring.h"
#include "ledger/validation.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using fuzz::v1::SignedEvent;

ledger::LedgerLookup lookup_in(ledger::Ledger& ledger) {
  ledger::LedgerLookup lookup;
  lookup.exists = [&ledger](const std::string& id) {
    auto record = ledger.event(id);
    return record.is_ok() && record->location.receipt().accepted();
  };
  lookup.find = [&ledger](const std::string& id) -> std::optional<fuzz::v1::ViewEntry> {
    auto record = ledger.event(id);
    if (!record.is_ok()) return std::nullopt;
    return record->entry;
  };
  return lookup;
}

void check_rejection(const ledger::StaticCheck& check) {
  if (!check.rejection) return;
  FUZZ_CHECK(check.rejection->reason != fuzz::v1::REJECT_REASON_UNSPECIFIED,
             "a rejection names its reason");
  FUZZ_CHECK(!check.rejection->message.empty(), "a rejection says why");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto consortium = fuzz::test_consortium();
  static fuzz::ScratchLedger* scratch = new fuzz::ScratchLedger();

  SignedEvent signed_event;
  if (!signed_event.ParseFromArray(data, static_cast<int>(size))) return 0;

  // What the ledger stores and hashes: must work on any bytes.
  const std::string leaf = ledger::event_leaf_data(signed_event);
  FUZZ_CHECK(leaf.size() >= signed_event.payload().size(), "leaf data holds the payload");
  (void)ledger::event_hash(signed_event);
  auto payload = ledger::parse_event_payload(signed_event.payload());

  const bool signature_ok = ledger::verify_event_signature(*consortium, signed_event);
  const ledger::StaticCheck unchecked =
      ledger::check_event_static(*consortium, signed_event, ledger::SignatureState::kUnchecked);
  check_rejection(unchecked);
  if (!unchecked.rejection) {
    FUZZ_CHECK(signature_ok, "an accepted event's signature verifies");
    FUZZ_CHECK(unchecked.parsed, "an accepted event was parsed");
    FUZZ_CHECK(payload.is_ok(), "an accepted payload parses");
  }

  // The rules behind the signature: sign the payload with the key the event names, if the test
  // consortium holds it, and check again. Nothing but the signature may change the outcome.
  const ledger::Consortium::KeyInfo* key = consortium->find_key(signed_event.key_id());
  if (key != nullptr) {
    SignedEvent resigned = signed_event;
    resigned.set_signature(ledger::sign(ledger::kEventSignDomain, signed_event.payload(),
                                        fuzz::keys_of(key->agency->id()).secret_key));
    FUZZ_CHECK(ledger::verify_event_signature(*consortium, resigned),
               "a payload signed with the named key verifies");
    const ledger::StaticCheck valid =
        ledger::check_event_static(*consortium, resigned, ledger::SignatureState::kUnchecked);
    check_rejection(valid);
    const ledger::StaticCheck trusted =
        ledger::check_event_static(*consortium, signed_event, ledger::SignatureState::kValid);
    check_rejection(trusted);
    FUZZ_CHECK(valid.rejection.has_value() == trusted.rejection.has_value(),
               "a verified signature and a trusted one lead to the same decision");
    if (valid.rejection) {
      FUZZ_CHECK(valid.rejection->reason == trusted.rejection->reason,
                 "the same rule rejects with a verified or a trusted signature");
    }
    if (valid.parsed && !valid.rejection) {
      // Stateful rules at a few block times around the event's own clock.
      const ledger::LedgerLookup lookup = lookup_in(scratch->get());
      // Block times are what a leader could stamp: its clock, the event's own times.
      for (int64_t block_time : {fuzz::kSeedBlockTimeMs, valid.event.issued_at_ms(),
                                 valid.event.effective_at_ms()}) {
        auto rejection =
            ledger::check_event_stateful(*consortium, valid.event, block_time, lookup);
        if (rejection) {
          FUZZ_CHECK(!rejection->message.empty(), "a stateful rejection says why");
        }
      }
      // Once accepted, the event is scored whenever its subject is queried, at any instant a
      // client names (as_of_ms is the client's).
      const std::vector<fuzz::v1::ViewEntry> entries = {fuzz::entry_of(valid.event, 0)};
      const auto& rules = consortium->config().scoring();
      for (int64_t as_of : {valid.event.effective_at_ms(), valid.event.expires_at_ms(),
                            fuzz::kT0, std::numeric_limits<int64_t>::max()}) {
        const auto status =
            ledger::evaluate_subject(*consortium, valid.event.subject(), entries, as_of);
        FUZZ_CHECK(status.score() >= rules.score_min() && status.score() <= rules.score_max(),
                   "a score stays within [score_min, score_max]");
      }
    }
  }
  return 0;
}
