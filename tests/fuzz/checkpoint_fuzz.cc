// Fuzzes checkpoints as auditors and peers receive them: C2SP signed notes (GetCheckpoint's
// note, the Cosign body) and cp.json files. Input starting with '{' is a cp.json; anything else
// is note text. Parsed notes are written back, their bodies parsed as checkpoints, and their
// cosignatures verified against the test consortium; a parsed checkpoint is re-cosigned with the
// agencies' keys and must then be trusted.
//
// Oracles: strict parsing means a parsed note formats back to exactly the input; a checkpoint
// body formats back to exactly its text; a checkpoint cosigned by every agency is trusted; a
// cp.json we wrote reads back to the same note.
#include <string>

#include "ledger/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void fuzz_checkpoint(const ledger::CosignedCheckpoint& checkpoint) {
  static const auto consortium = fuzz::test_consortium();
  const ledger::QuorumReport report = ledger::verify_cosignatures(*consortium, checkpoint);
  FUZZ_CHECK(report.signatures.size() == checkpoint.note.signatures.size(),
             "every signature line is reported");
  FUZZ_CHECK(report.trusted() == report.status().is_ok(), "trusted() agrees with status()");
  (void)ledger::checkpoint_to_json(checkpoint);

  // Cosigned by all three agencies (over the same body), it must be trusted if its origin is
  // ours; the fuzzed signatures are dropped first because an invalid one taints the note.
  ledger::CosignedCheckpoint fresh = ledger::make_checkpoint(checkpoint.origin,
                                                             checkpoint.checkpoint);
  if (fresh.note.body != checkpoint.note.body) return;  // not canonical: checked by the caller
  for (const char* agency : {"samr", "sta", "court"}) {
    ledger::KeyFile key{agency, fuzz::key_id_of(agency), fuzz::keys_of(agency)};
    FUZZ_CHECK(ledger::cosign(fresh, key, 1767225600).is_ok(), "cosigning succeeds");
  }
  const ledger::QuorumReport all = ledger::verify_cosignatures(*consortium, fresh);
  FUZZ_CHECK(all.invalid_count() == 0, "our own cosignatures verify");
  FUZZ_CHECK(all.trusted() == (checkpoint.origin == ledger::checkpoint_origin("credledger-test")),
             "a checkpoint cosigned by every agency is trusted exactly when its origin is ours");
  auto reparsed = ledger::parse_checkpoint_note(fresh.text());
  FUZZ_CHECK(reparsed.is_ok(), "a note we cosigned parses");
  FUZZ_CHECK(reparsed->text() == fresh.text(), "a note we cosigned round-trips");
}

void fuzz_note(std::string_view text) {
  auto note = ledger::parse_signed_note(text);
  if (note.is_ok()) {
    FUZZ_CHECK(ledger::format_signed_note(*note) == text, "a parsed note formats back exactly");
    auto body = ledger::parse_checkpoint_body(note->body);
    if (body.is_ok()) {
      FUZZ_CHECK(ledger::format_checkpoint_body(body->origin, body->checkpoint) == note->body,
                 "a parsed checkpoint body formats back exactly");
    }
  }
  // A note body alone, as PeerService.Cosign receives it.
  auto body = ledger::parse_checkpoint_body(text);
  if (body.is_ok()) {
    FUZZ_CHECK(ledger::format_checkpoint_body(body->origin, body->checkpoint) == text,
               "a parsed checkpoint body formats back exactly");
  }
  auto checkpoint = ledger::parse_checkpoint_note(text);
  if (checkpoint.is_ok()) {
    FUZZ_CHECK(note.is_ok(), "a checkpoint note is a signed note");
    fuzz_checkpoint(*checkpoint);
  }
}

void fuzz_json(std::string_view json) {
  auto checkpoint = ledger::checkpoint_from_json(json);
  if (!checkpoint.is_ok()) return;
  const std::string again = ledger::checkpoint_to_json(*checkpoint);
  auto reread = ledger::checkpoint_from_json(again);
  FUZZ_CHECK(reread.is_ok(), "a cp.json we wrote reads back");
  FUZZ_CHECK(reread->text() == checkpoint->text(), "a cp.json round-trips its note");
  fuzz_checkpoint(*checkpoint);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] == '{') {
    fuzz_json(text);
  } else {
    fuzz_note(text);
  }
  return 0;
}
