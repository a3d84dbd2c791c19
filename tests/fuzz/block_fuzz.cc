// Fuzzes block decoding and the chain rules: the input is the bytes of a Block as block sync
// (CatchUp, GetBlocks) carries it from another node. The header goes through the canonical
// header bytes and block hash; the receipts through the receipts hash and the state-root chain;
// then the block is applied with Ledger::apply_block to a scratch ledger that holds block 1 of
// seed_events(), which re-runs the whole state machine (static and stateful rules, view lookups,
// Merkle frontier, scoring inputs) on the fuzzed events and compares every header field.
//
// Signatures count as checked and valid (as a node's worker pool reports them), so that fuzzed
// events reach the rules behind the signature; event_fuzz covers the signature check itself.
// The block is forced to the next height so that the input is not refused before the replay.
//
// Oracles: nothing crashes; a block refused is refused with a message and leaves the ledger's
// head as it was; a block accepted moves the head to a header that hashes like the block's; and
// the view asked at the height before the block (at_height, #12) answers for each subject of its
// events exactly what the ledger answered before the block was applied.
#include <limits>
#include <string>
#include <vector>

#include "ledger/block.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<fuzz::ScratchLedger> scratch = std::make_unique<fuzz::ScratchLedger>();

  fuzz::v1::Block block;
  if (!block.ParseFromArray(data, static_cast<int>(size))) return 0;

  auto bytes = ledger::header_bytes(block.header());
  auto hash = ledger::block_hash(block.header());
  FUZZ_CHECK(bytes.is_ok() == hash.is_ok(), "a header hashes exactly when it has bytes");
  // receipts_hash requires 32-byte event hashes; Ledger::block() checks them before calling it.
  bool receipts_hashable = true;
  for (const auto& r : block.receipts()) receipts_hashable &= r.event_hash().size() == 32;
  if (receipts_hashable) (void)ledger::receipts_hash(block.receipts());

  ledger::Ledger& l = scratch->get();
  const fuzz::v1::BlockHeader head_before = l.head();
  if (block.events_size() > 64) return 0;  // keeps one input cheap; limits are tested elsewhere
  block.mutable_header()->set_height(head_before.height() + 1);

  // What the view says now about each subject the block names, at two instants.
  struct Asked {
    fuzz::v1::Subject subject;
    int64_t as_of_ms;
    std::string answer;  // serialized status, or the error message
  };
  auto ask = [&](const fuzz::v1::Subject& subject, int64_t as_of, uint64_t at_height) {
    auto status = l.status(subject, as_of, at_height);
    return status.is_ok() ? status->SerializeAsString() : "error: " + status.status().message();
  };
  std::vector<Asked> before;
  for (const auto& e : block.events()) {
    auto event = ledger::parse_event_payload(e.payload());
    if (!event.is_ok()) continue;
    for (int64_t as_of : {fuzz::kSeedBlockTimeMs, std::numeric_limits<int64_t>::max()}) {
      before.push_back({event->subject(), as_of, ask(event->subject(), as_of, 0)});
    }
  }

  const std::vector<ledger::SignatureState> signatures(block.events_size(),
                                                       ledger::SignatureState::kValid);
  const base::Status s = l.apply_block(block, &signatures);
  if (!s.is_ok()) {
    FUZZ_CHECK(!s.message().empty(), "a refused block says why");
    FUZZ_CHECK(l.head().SerializeAsString() == head_before.SerializeAsString(),
               "a refused block leaves the head as it was");
    return 0;
  }
  auto accepted_hash = ledger::block_hash(block.header());
  FUZZ_CHECK(accepted_hash.is_ok() && *accepted_hash == l.head_hash(),
             "an accepted block's header becomes the head");
  auto stored = l.block(block.header().height());
  FUZZ_CHECK(stored.is_ok(), "an accepted block reads back and verifies");
  for (const Asked& a : before) {
    FUZZ_CHECK(ask(a.subject, a.as_of_ms, head_before.height()) == a.answer,
               "the view at the previous height answers what the ledger said before the block");
  }
  // The next input must meet the same ledger: start again from the seed block.
  scratch = std::make_unique<fuzz::ScratchLedger>();
  return 0;
}
