// The auditor's verifier: a chain of 40 blocks and 400 events (a quarter of them rejected for
// different rules) is built with TestLedger, exported, and verified; then it is tampered with in
// many ways (flipped bytes at sampled positions, removed events, swapped blocks, replaced
// signatures, out-of-mandate re-signing, altered receipts, forged state roots, weak
// checkpoints) and each must be caught with the right check and location. Forgeries are
// "reforged" (hashes, roots and links recomputed) so only the rule under test is left to catch
// them. Inclusion and consistency proofs and fork evidence are checked offline too.
#include <google/protobuf/stubs/logging.h>

#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "ledger/audit.h"
#include "ledger/block.h"
#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/export.h"
#include "ledger/merkle.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
namespace v1 = credledger::v1;

constexpr int kBlocks = 40;
constexpr int kEventsPerBlock = 10;

ledger::KeyFile key_file(std::string_view agency) {
  return ledger::KeyFile{std::string(agency), key_id_of(agency), keys_of(agency)};
}

std::string id(const char* kind, int b, int i) {
  return std::string(kind) + "-" + std::to_string(b) + "-" + std::to_string(i);
}

// Ten events per block: six accepted kinds and four rejected for different rules.
std::vector<v1::SignedEvent> block_events(int b) {
  std::vector<v1::SignedEvent> out;
  const uint64_t n = static_cast<uint64_t>(b) * 100;
  out.push_back(sign(penalty(id("pen", b, 0), kSamr, enterprise(n + 1), v1::GENERAL, v1::MODERATE,
                             kT0, 90)));
  out.push_back(sign(penalty(id("tax", b, 1), kSta, enterprise(n + 2), v1::TAXATION, v1::SERIOUS,
                             kT0, 300)));
  out.push_back(sign(blacklist_entry(id("bl", b, 2), kCourt, enterprise(n + 3), v1::FINANCE, kT0,
                                     365)));
  out.push_back(sign(make_event(id("com", b, 3), kSamr, enterprise(n + 4), v1::COMMENDATION,
                                v1::GENERAL, kT0)));
  // Rejected: sta has no REAL_ESTATE mandate.
  out.push_back(sign(penalty(id("oom", b, 4), kSta, enterprise(n + 5), v1::REAL_ESTATE,
                             v1::MINOR, kT0, 30)));
  // Rejected: signed by a key nobody holds under samr's key id.
  out.push_back(sign_with(penalty(id("bad", b, 5), kSamr, enterprise(n + 6), v1::GENERAL,
                                  v1::MINOR, kT0, 30),
                          key_id_of(kSamr), rogue_keys()));
  // Rejected: courts never issue administrative penalties.
  out.push_back(sign(penalty(id("kind", b, 6), kCourt, enterprise(n + 7), v1::GENERAL,
                             v1::MINOR, kT0, 30)));
  // Rejected after the first block: the id of an earlier accepted event.
  out.push_back(sign(penalty(b > 1 ? id("pen", b - 1, 0) : id("first", b, 7), kSamr,
                             enterprise(n + 8), v1::GENERAL, v1::MINOR, kT0, 30)));
  // Accepted after the first block: samr restores the previous block's penalty.
  if (b > 1) {
    out.push_back(sign(referring(id("res", b, 8), kSamr, enterprise(n - 100 + 1), v1::RESTORATION,
                                 id("pen", b - 1, 0), kT0 + kDayMs)));
  } else {
    out.push_back(sign(make_event(id("dis", b, 8), kSamr, enterprise(n + 9),
                                  v1::VOLUNTARY_DISCLOSURE, v1::GENERAL, kT0)));
  }
  out.push_back(sign(make_event(id("rat", b, 9), kSta, enterprise(n + 10), v1::CREDIT_RATING,
                                v1::TAXATION, kT0)));
  return out;
}

struct Chain {
  std::unique_ptr<TestLedger> ledger;
  std::vector<v1::Block> blocks;  // heights 0..kBlocks, as exported
  std::string bytes;              // the export
  std::vector<uint64_t> offsets;  // record offset of each block in `bytes`
  uint64_t accepted = 0;
  uint64_t rejected = 0;
};

std::string write_export(const std::vector<v1::Block>& blocks,
                         std::vector<uint64_t>* offsets = nullptr) {
  std::ostringstream out;
  ledger::ChainWriter writer(out);
  for (const v1::Block& b : blocks) {
    if (offsets) offsets->push_back(writer.bytes_written());
    REQUIRE(writer.write(b).is_ok());
  }
  REQUIRE(writer.finish().is_ok());
  return out.str();
}

const Chain& chain() {
  static Chain* c = [] {
    auto* c = new Chain;
    c->ledger = std::make_unique<TestLedger>();
    for (int b = 1; b <= kBlocks; ++b) {
      v1::Block block = c->ledger->apply(block_events(b), kT0 + b * 60000);
      for (const v1::Receipt& r : block.receipts()) (r.accepted() ? c->accepted : c->rejected)++;
    }
    for (uint64_t h = 0; h <= kBlocks; ++h) {
      auto block = c->ledger->get().block(h);
      REQUIRE(block.is_ok());
      c->blocks.push_back(*block);
    }
    c->bytes = write_export(c->blocks, &c->offsets);
    return c;
  }();
  return *c;
}

ledger::CosignedCheckpoint checkpoint_at(uint64_t height,
                                         std::initializer_list<std::string_view> signers = {
                                             kSamr, kSta, kCourt}) {
  auto cp = ledger::checkpoint_at(chain().ledger->get(), height);
  REQUIRE(cp.is_ok());
  ledger::CosignedCheckpoint out =
      ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), *cp);
  for (std::string_view a : signers) REQUIRE(ledger::cosign(out, key_file(a), 1767225600).is_ok());
  return out;
}

ledger::AuditResult verify(const std::string& bytes,
                           const ledger::CosignedCheckpoint* checkpoint = nullptr) {
  std::istringstream in(bytes);
  ledger::AuditOptions options;
  options.verify_threads = 2;
  options.events_in_flight_max = 64;  // a small window, so the pipeline really streams
  options.verify_chunk_events = 3;
  options.checkpoint = checkpoint;
  ledger::AuditResult r = ledger::verify_chain(test_consortium(), in, options);
  INFO(r.status.to_string());
  REQUIRE(r.status.is_ok());
  return r;
}

// By value: callers pass a temporary result.
ledger::AuditFailure failure(const ledger::AuditResult& r) {
  REQUIRE(r.failure.has_value());
  return *r.failure;
}

// Recomputes, from block 1 on, every hash the chain's integrity rests on, keeping what each
// block claims about its events (receipts' accepted/reason): event hashes in receipts, sequence
// numbers, events and Merkle roots, counts, state roots and prev-hash links. What is left is a
// chain whose only flaw is the one the test put in.
void reforge(std::vector<v1::Block>& blocks) {
  ledger::MemoryMerkleTree tree;
  ledger::Hash state = test_consortium()->genesis_state_root();
  ledger::Hash prev = *ledger::block_hash(blocks[0].header());
  for (size_t k = 1; k < blocks.size(); ++k) {
    v1::Block& b = blocks[k];
    v1::BlockHeader& h = *b.mutable_header();
    std::vector<ledger::Hash> hashes;
    h.set_first_sequence(tree.size());
    uint32_t accepted = 0;
    for (int i = 0; i < b.events_size(); ++i) {
      const ledger::Hash e = ledger::event_hash(b.events(i));
      hashes.push_back(e);
      v1::Receipt& r = *b.mutable_receipts(i);
      r.set_event_hash(ledger::to_string(e));
      r.set_index(static_cast<uint32_t>(i));
      if (r.accepted()) {
        r.set_sequence(tree.size());
        tree.append(e);
        ++accepted;
      }
    }
    h.set_prev_hash(ledger::to_string(prev));
    h.set_event_count(static_cast<uint32_t>(b.events_size()));
    h.set_accepted_count(accepted);
    h.set_tree_size(tree.size());
    h.set_merkle_root(ledger::to_string(tree.root()));
    h.set_events_root(ledger::to_string(ledger::merkle_root_of(hashes)));
    state = ledger::next_state_root(state, h.height(), ledger::receipts_hash(b.receipts()));
    h.set_state_root(ledger::to_string(state));
    prev = *ledger::block_hash(h);
  }
}

// Relinks prev_hash only (keeps every other header field as it is).
void relink(std::vector<v1::Block>& blocks) {
  for (size_t k = 1; k < blocks.size(); ++k) {
    blocks[k].mutable_header()->set_prev_hash(
        ledger::to_string(*ledger::block_hash(blocks[k - 1].header())));
  }
}

// Index of an accepted event of `kind_prefix` in block h.
int event_index(const v1::Block& b, const std::string& id_prefix) {
  for (int i = 0; i < b.receipts_size(); ++i) {
    if (b.receipts(i).event_id().rfind(id_prefix, 0) == 0) return i;
  }
  FAIL("no event " << id_prefix);
  return -1;
}

}  // namespace

TEST_CASE("a clean export verifies and is summarised", "[audit]") {
  const Chain& c = chain();
  const ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks);
  ledger::AuditResult r = verify(c.bytes, &cp);
  INFO((r.failure ? r.failure->to_string() : "ok"));
  REQUIRE(r.ok());
  const ledger::AuditSummary& s = r.summary;
  CHECK(s.blocks == kBlocks + 1);
  CHECK(s.events == kBlocks * kEventsPerBlock);
  CHECK(s.accepted == c.accepted);
  CHECK(s.rejected == c.rejected);
  CHECK(c.rejected >= 4 * kBlocks - 1);
  CHECK(s.agencies.at("court").rejected == kBlocks);
  CHECK(s.rejection_reasons.at("OUT_OF_MANDATE_SECTOR") == kBlocks);
  CHECK(s.rejection_reasons.at("BAD_SIGNATURE") == kBlocks);
  CHECK(s.rejection_reasons.at("DUPLICATE_EVENT_ID") == kBlocks - 1);
  CHECK(s.first_timestamp_ms == kT0 + 60000);
  CHECK(s.last_timestamp_ms == kT0 + kBlocks * 60000);
  CHECK(s.head.height() == kBlocks);
  CHECK(s.head.block_hash() == cp.checkpoint.block_hash());
  CHECK(s.checkpoint_checked);
}

TEST_CASE("the export format reader reports offsets", "[audit][export]") {
  const Chain& c = chain();
  SECTION("round trip") {
    std::istringstream in(c.bytes);
    ledger::ChainReader reader(in);
    for (const v1::Block& b : c.blocks) {
      auto got = reader.next();
      REQUIRE(got.is_ok());
      REQUIRE(got->has_value());
      CHECK((*got)->SerializeAsString() == b.SerializeAsString());
    }
    auto end = reader.next();
    REQUIRE(end.is_ok());
    CHECK_FALSE(end->has_value());
  }
  SECTION("truncation inside a record") {
    const uint64_t cut = c.offsets[7] + 30;
    std::istringstream in(c.bytes.substr(0, cut));
    ledger::ChainReader reader(in);
    base::Status last;
    for (;;) {
      auto got = reader.next();
      if (!got.is_ok()) {
        last = got.status();
        break;
      }
      REQUIRE(got->has_value());
    }
    CHECK(last.code() == base::Code::kCorruption);
    CHECK_THAT(last.message(), Catch::Contains("offset " + std::to_string(c.offsets[7])));
    CHECK_THAT(last.message(), Catch::Contains("truncated"));
  }
  SECTION("wrong magic") {
    ledger::AuditResult r = verify("credledger-export/v2\n" + c.bytes.substr(21));
    CHECK(failure(r).check == "export_record");
    CHECK(failure(r).byte_offset == 0u);
  }
  SECTION("a log_index is refused: nothing unauthenticated travels in an export") {
    v1::Block block = c.blocks[3];
    block.set_log_index(99);
    const std::string raw = block.SerializeAsString();
    // Write the record by hand (the writer would clear it).
    std::string hand = c.bytes.substr(0, c.offsets[3]);
    ledger::put_u32(hand, static_cast<uint32_t>(raw.size()));
    hand += raw;
    hand += c.bytes.substr(c.offsets[4]);
    ledger::AuditResult r = verify(hand);
    CHECK(failure(r).check == "export_record");
    CHECK_THAT(failure(r).detail, Catch::Contains("log_index"));
  }
}

TEST_CASE("a flipped byte anywhere in the export is detected where it is", "[audit][tamper]") {
  const Chain& c = chain();
  const ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks);
  std::vector<size_t> positions;
  for (size_t p = 0; p < 21; p += 4) positions.push_back(p);  // magic line
  for (uint64_t o : c.offsets) {                              // length prefixes
    for (size_t k = 0; k < 4; ++k) positions.push_back(o + k);
  }
  // Every byte of block 1 and of the last block, then a stride through the rest.
  // Bytes of block 1 and of the last block (which only the checkpoint commits to) at a small
  // stride, then a wide stride through the rest.
  for (size_t p = c.offsets[1]; p < c.offsets[2]; p += 11) positions.push_back(p);
  for (size_t p = c.offsets[kBlocks]; p < c.bytes.size(); p += 11) positions.push_back(p);
  for (size_t p = c.offsets[2]; p < c.offsets[kBlocks]; p += 331) positions.push_back(p);
  int checked = 0;
  for (size_t p : positions) {
    std::string bytes = c.bytes;
    bytes[p] = static_cast<char>(bytes[p] ^ (1 + (p * 37) % 255));
    google::protobuf::LogSilencer quiet;  // strings made invalid UTF-8 are logged by protobuf
    // The block whose record holds byte p.
    uint64_t h = 0;
    while (h + 1 < c.offsets.size() && c.offsets[h + 1] <= p) ++h;
    ledger::AuditResult r = verify(bytes, &cp);
    INFO("byte " << p << " in block " << h);
    REQUIRE(r.failure.has_value());
    const ledger::AuditFailure& f = *r.failure;
    INFO(f.to_string());
    if (p < ledger::kExportMagic.size()) {
      CHECK(f.check == "export_record");
    } else {
      // Found in that block, or by the next block's link to it, or (last block) by the
      // checkpoint that commits to its header.
      REQUIRE(f.height.has_value());
      const bool here = *f.height == h || *f.height == h + 1;
      const bool by_checkpoint = h == kBlocks && f.check.rfind("checkpoint.", 0) == 0;
      CHECK((here || by_checkpoint));
    }
    ++checked;
  }
  CHECK(checked > 500);
}

TEST_CASE("a removed event is detected in its block", "[audit][tamper]") {
  std::vector<v1::Block> blocks = chain().blocks;
  v1::Block& b = blocks[12];
  b.mutable_events()->DeleteSubrange(3, 1);
  b.mutable_receipts()->DeleteSubrange(3, 1);
  SECTION("as is") {
    const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
    CHECK(f.check == "event_count");
    CHECK(f.height == 12u);
    CHECK(f.expected == "10");
    CHECK(f.found == "9");
  }
  SECTION("with every hash recomputed, the cosigned checkpoint still catches it") {
    reforge(blocks);
    const ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks);
    const ledger::AuditFailure& f = failure(verify(write_export(blocks), &cp));
    INFO(f.to_string());
    CHECK(f.check.rfind("checkpoint.", 0) == 0);
  }
}

TEST_CASE("two swapped blocks are detected at the first of them", "[audit][tamper]") {
  std::vector<v1::Block> blocks = chain().blocks;
  std::swap(blocks[20], blocks[21]);
  const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
  CHECK(f.check == "height");
  CHECK(f.expected == "20");
  CHECK(f.found == "21");
}

TEST_CASE("a replaced signature is detected at its event", "[audit][tamper]") {
  std::vector<v1::Block> blocks = chain().blocks;
  v1::Block& b = blocks[9];
  const int i = event_index(b, "tax-");
  v1::SignedEvent& e = *b.mutable_events(i);
  e.set_signature(ledger::sign(ledger::kEventSignDomain, e.payload(), rogue_keys().secret_key));
  SECTION("as is: the event no longer hashes to its receipt") {
    const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
    CHECK(f.check == "event_hash");
    CHECK(f.height == 9u);
    CHECK(f.event_index == static_cast<uint32_t>(i));
  }
  SECTION("reforged: the signature check itself catches it") {
    reforge(blocks);
    const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
    CHECK(f.check == "signature");
    CHECK(f.height == 9u);
    CHECK(f.event_index == static_cast<uint32_t>(i));
    CHECK(f.found == "signature does not verify");
  }
}

TEST_CASE("an event re-signed by an agency outside its mandate is caught by replay",
          "[audit][tamper]") {
  std::vector<v1::Block> blocks = chain().blocks;
  v1::Block& b = blocks[15];
  const int i = event_index(b, "com-");  // samr's commendation in GENERAL
  auto event = ledger::parse_event_payload(b.events(i).payload());
  REQUIRE(event.is_ok());
  event->set_issuer(std::string(kCourt));  // courts may not issue commendations
  *b.mutable_events(i) = sign(*event);
  reforge(blocks);  // still recorded as accepted, every hash made to match
  const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
  INFO(f.to_string());
  CHECK(f.check == "receipt");
  CHECK(f.height == 15u);
  CHECK(f.event_index == static_cast<uint32_t>(i));
  CHECK_THAT(f.expected, Catch::StartsWith("accepted"));
  CHECK_THAT(f.found, Catch::Contains("OUT_OF_MANDATE_KIND"));
}

TEST_CASE("an altered receipt is caught by replay", "[audit][tamper]") {
  std::vector<v1::Block> blocks = chain().blocks;
  v1::Block& b = blocks[30];
  const int i = event_index(b, "bl-");
  SECTION("accepted turned into rejected, hashes reforged") {
    v1::Receipt& r = *b.mutable_receipts(i);
    r.set_accepted(false);
    r.set_sequence(0);
    r.set_reason(v1::BAD_SIGNATURE);
    r.set_message("signature does not verify under key 'court-k1'");
    reforge(blocks);
    const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
    CHECK(f.check == "receipt");
    CHECK(f.height == 30u);
    CHECK(f.event_index == static_cast<uint32_t>(i));
    CHECK_THAT(f.found, Catch::StartsWith("accepted"));
  }
  SECTION("only the (unhashed) message changed") {
    b.mutable_receipts(event_index(b, "oom-"))->set_message("fine by us");
    const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
    CHECK(f.check == "receipt");
    CHECK(f.height == 30u);
    CHECK(f.event_index == static_cast<uint32_t>(event_index(b, "oom-")));
  }
}

TEST_CASE("a forged state root is detected in its block", "[audit][tamper]") {
  std::vector<v1::Block> blocks = chain().blocks;
  blocks[25].mutable_header()->set_state_root(ledger::to_string(ledger::sha256("forged")));
  relink(blocks);
  const ledger::AuditFailure& f = failure(verify(write_export(blocks)));
  CHECK(f.check == "state_root");
  CHECK(f.height == 25u);
  CHECK(f.expected == ledger::to_hex(ledger::sha256("forged")));
  CHECK(f.found == ledger::to_hex(chain().blocks[25].header().state_root()));
}

TEST_CASE("checkpoint cosignatures must reach a quorum of known keys", "[audit][checkpoint]") {
  const Chain& c = chain();
  SECTION("one agency of three") {
    const ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks, {kSamr});
    const ledger::AuditFailure& f = failure(verify(c.bytes, &cp));
    CHECK(f.check == "checkpoint.cosignatures");
    CHECK_THAT(f.detail, Catch::Contains("1 of 3 agencies"));
  }
  SECTION("an unknown key does not count") {
    ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks, {kSta});
    REQUIRE(ledger::cosign(cp, ledger::KeyFile{"rogue", "rogue-k1", rogue_keys()}, 7).is_ok());
    const ledger::AuditFailure& f = failure(verify(c.bytes, &cp));
    CHECK(f.check == "checkpoint.cosignatures");
    CHECK_THAT(f.detail, Catch::Contains("unknown keys ignored: rogue-k1"));
  }
  SECTION("a quorum for a checkpoint of another chain") {
    ledger::CosignedCheckpoint cp = checkpoint_at(10);
    v1::Checkpoint forged = cp.checkpoint;
    forged.set_state_root(ledger::to_string(ledger::sha256("other")));
    ledger::CosignedCheckpoint other =
        ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), forged);
    REQUIRE(ledger::cosign(other, key_file(kSamr), 1).is_ok());
    REQUIRE(ledger::cosign(other, key_file(kSta), 1).is_ok());
    const ledger::AuditFailure& f = failure(verify(c.bytes, &other));
    CHECK(f.check == "checkpoint.state_root");
    CHECK(f.height == 10u);
  }
  SECTION("a checkpoint beyond the end of the export") {
    std::vector<v1::Block> blocks = c.blocks;
    blocks.resize(30);  // the last ten blocks withheld
    const ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks);
    const ledger::AuditFailure& f = failure(verify(write_export(blocks), &cp));
    CHECK(f.check == "checkpoint.height");
  }
}

TEST_CASE("every inclusion proof verifies offline and altered ones fail", "[audit][proof]") {
  const Chain& c = chain();
  const ledger::CosignedCheckpoint cp = checkpoint_at(kBlocks);
  const uint64_t size = cp.checkpoint.tree_size();
  REQUIRE(size == c.accepted);
  auto consortium = test_consortium();
  for (uint64_t seq = 0; seq < size; ++seq) {
    auto made = ledger::make_inclusion_proof(c.ledger->get(), seq, cp);
    REQUIRE(made.is_ok());
    auto proof = ledger::inclusion_proof_from_json(ledger::inclusion_proof_to_json(*made));
    INFO("leaf " << seq << ": " << proof.status().to_string());
    REQUIRE(proof.is_ok());
    base::Status ok = ledger::verify_inclusion_proof(*consortium, *proof, cp);
    INFO(ok.to_string());
    REQUIRE(ok.is_ok());

    ledger::InclusionProof bad = *proof;
    bad.leaf_data[bad.leaf_data.size() / 2] ^= 0x20;
    CHECK_FALSE(ledger::verify_inclusion_proof(*consortium, bad, cp).is_ok());
    bad = *proof;
    bad.leaf_index = (seq + 1) % size;
    CHECK_FALSE(ledger::verify_inclusion_proof(*consortium, bad, cp).is_ok());
    if (!proof->path.empty()) {
      bad = *proof;
      bad.path[seq % bad.path.size()][0] ^= 0x01;
      CHECK_FALSE(ledger::verify_inclusion_proof(*consortium, bad, cp).is_ok());
      bad = *proof;
      bad.path.pop_back();
      CHECK_FALSE(ledger::verify_inclusion_proof(*consortium, bad, cp).is_ok());
    }
  }
  SECTION("a proof against a checkpoint without quorum fails") {
    auto proof = ledger::make_inclusion_proof(c.ledger->get(), 5, cp);
    REQUIRE(proof.is_ok());
    const ledger::CosignedCheckpoint weak = checkpoint_at(kBlocks, {kCourt});
    base::Status s = ledger::verify_inclusion_proof(*consortium, *proof, weak);
    CHECK_THAT(s.message(), Catch::Contains("quorum"));
  }
  SECTION("a proof for another tree size fails") {
    auto proof = ledger::make_inclusion_proof(c.ledger->get(), 5, checkpoint_at(20));
    REQUIRE(proof.is_ok());
    CHECK_THAT(ledger::verify_inclusion_proof(*consortium, *proof, cp).message(),
               Catch::Contains("tree of"));
  }
}

TEST_CASE("consistency proofs between checkpoints verify offline; forks are evidence",
          "[audit][proof]") {
  const Chain& c = chain();
  auto consortium = test_consortium();
  const std::vector<uint64_t> heights = {1, 2, 3, 5, 8, 13, 21, 34, 40};
  std::vector<ledger::CosignedCheckpoint> cps;
  for (uint64_t h : heights) cps.push_back(checkpoint_at(h));
  for (size_t a = 0; a < cps.size(); ++a) {
    for (size_t b = a; b < cps.size(); ++b) {
      INFO("heights " << heights[a] << " -> " << heights[b]);
      auto made = ledger::make_consistency_proof(c.ledger->get(), cps[a], cps[b]);
      REQUIRE(made.is_ok());
      auto proof = ledger::consistency_proof_from_json(ledger::consistency_proof_to_json(*made));
      REQUIRE(proof.is_ok());
      base::Status s = ledger::verify_consistency_proof(*consortium, *proof, cps[a], cps[b]);
      INFO(s.to_string());
      CHECK(s.is_ok());
      CHECK_FALSE(ledger::detect_fork(*consortium, cps[a], cps[b], &*proof).has_value());
      if (!proof->path.empty()) {
        ledger::ConsistencyProof bad = *proof;
        bad.path[0][31] ^= 0x80;
        CHECK_FALSE(ledger::verify_consistency_proof(*consortium, bad, cps[a], cps[b]).is_ok());
        auto fork = ledger::detect_fork(*consortium, cps[b], cps[a], &bad);
        REQUIRE(fork.has_value());
        CHECK(fork->kind == "inconsistent");
        CHECK(fork->first.checkpoint.height() == heights[a]);
      }
    }
  }

  SECTION("two quorum checkpoints of one size with different roots are a fork") {
    // Another ledger of the same consortium that accepted other events.
    TestLedger other;
    for (int b = 1; b <= 3; ++b) {
      std::vector<v1::SignedEvent> events;
      for (int i = 0; i < 10; ++i) {
        events.push_back(sign(make_event(id("fork", b, i), kSamr, enterprise(9000 + b * 10 + i),
                                         v1::COMMENDATION, v1::GENERAL, kT0)));
      }
      other.apply(events, kT0 + b * 1000);
    }
    auto mine = ledger::checkpoint_at(other.get(), 3);
    REQUIRE(mine.is_ok());
    REQUIRE(mine->tree_size() == 30);
    ledger::CosignedCheckpoint forked =
        ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), *mine);
    REQUIRE(ledger::cosign(forked, key_file(kSamr), 1).is_ok());
    REQUIRE(ledger::cosign(forked, key_file(kSta), 1).is_ok());
    // A checkpoint of the main chain with the same tree size: build one from the main log.
    auto root = ledger::merkle_root(c.ledger->get().merkle(), 30);
    REQUIRE(root.is_ok());
    v1::Checkpoint honest = *mine;
    honest.set_root_hash(ledger::to_string(*root));
    ledger::CosignedCheckpoint main_cp =
        ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), honest);
    REQUIRE(ledger::cosign(main_cp, key_file(kSta), 1).is_ok());
    REQUIRE(ledger::cosign(main_cp, key_file(kCourt), 1).is_ok());
    auto fork = ledger::detect_fork(*consortium, main_cp, forked);
    REQUIRE(fork.has_value());
    CHECK(fork->kind == "same-size-different-root");
    CHECK(fork->signed_both == std::vector<std::string>{"sta"});
    CHECK_THAT(fork->description, Catch::Contains("signed by both: sta"));
    const std::string json = ledger::fork_evidence_to_json(*fork);
    CHECK_THAT(json, Catch::Contains("\"first_signers\""));
    CHECK_THAT(json, Catch::Contains(forked.text().substr(0, 26)));
  }
}
