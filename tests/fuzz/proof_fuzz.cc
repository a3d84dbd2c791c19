// Fuzzes Merkle proofs, as a node makes them and as an auditor checks what a node sent.
//
// Input starting with '{' is a proof.json file (credaudit's input): it is parsed as an
// inclusion and as a consistency proof, written back, and verified against its own checkpoints
// and the test consortium. Any other input drives the Merkle code over a fixed tree of
// kTreeLeaves leaves:
//   byte 0        mode: bit 0 takes sizes and indexes raw (any u64), else small (< kTreeLeaves+8)
//   then          index, size, old_size, new_size (u16 each small, u64 each raw), a flip
//                 position, and the rest as extra hashes (32 bytes each) for forged proofs.
// It makes inclusion and consistency proofs with merkle_inclusion_proof/_consistency_proof,
// verifies them, corrupts them (one bit, one hash less, one hash more, a forged path) and
// verifies again, and rebuilds frontiers and roots of every size it touches.
//
// Oracles (RFC 9162): a made proof verifies; a proof with a flipped bit, a missing or an extra
// hash does not; roots from stored nodes equal roots recomputed from the leaves; a proof request
// outside the tree is an error, not a crash.
#include <string>
#include <vector>

#include "ledger/audit.h"
#include "ledger/merkle.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr uint64_t kTreeLeaves = 300;

struct Tree {
  ledger::MemoryMerkleTree tree;
  std::vector<ledger::Hash> leaves;
};

const Tree& tree() {
  static const Tree* t = [] {
    auto* out = new Tree();
    for (uint64_t i = 0; i < kTreeLeaves; ++i) {
      out->leaves.push_back(ledger::merkle_leaf_hash("leaf " + std::to_string(i)));
      out->tree.append(out->leaves.back());
    }
    return out;
  }();
  return *t;
}

ledger::Hash root_of_prefix(uint64_t size) {
  std::vector<ledger::Hash> prefix(tree().leaves.begin(), tree().leaves.begin() + size);
  return prefix.empty() ? ledger::merkle_empty_root() : ledger::merkle_root_of(prefix);
}

// The same proof with one bit flipped, one hash dropped, one hash added: none may verify.
std::vector<std::vector<ledger::Hash>> corruptions(const std::vector<ledger::Hash>& proof,
                                                   uint32_t flip) {
  std::vector<std::vector<ledger::Hash>> out;
  if (!proof.empty()) {
    auto flipped = proof;
    flipped[flip % proof.size()][(flip / 8) % 32] ^= static_cast<uint8_t>(1u << (flip % 8));
    out.push_back(flipped);
    auto shorter = proof;
    shorter.pop_back();
    out.push_back(shorter);
  }
  auto longer = proof;
  longer.push_back(ledger::merkle_leaf_hash("extra"));
  out.push_back(longer);
  return out;
}

void fuzz_merkle(fuzz::Reader& in) {
  const Tree& t = tree();
  const bool raw = in.u8() & 1;
  auto number = [&]() -> uint64_t {
    if (raw) return in.u64();
    const uint64_t v = (uint64_t{in.u8()} << 8) | in.u8();
    return v % (kTreeLeaves + 8);  // a little beyond the tree: sizes it cannot prove
  };
  const uint64_t index = number();
  const uint64_t size = number();
  const uint64_t old_size = number();
  const uint64_t new_size = number();
  const uint32_t flip = in.u32();
  std::vector<ledger::Hash> forged;
  while (!in.empty()) {
    std::string h = in.bytes(32);
    h.resize(32);
    forged.push_back(*ledger::hash_from_bytes(h));
  }

  // Roots and frontiers of stored trees.
  for (uint64_t s : {size, new_size}) {
    auto root = ledger::merkle_root(t.tree, s);
    if (s <= kTreeLeaves) {
      FUZZ_CHECK(root.is_ok(), "a stored size has a root");
      FUZZ_CHECK(*root == root_of_prefix(s), "stored-node root equals the recomputed root");
      auto frontier = ledger::MerkleFrontier::load(t.tree, s);
      FUZZ_CHECK(frontier.is_ok() && frontier->root() == *root, "frontier root equals root");
    } else {
      FUZZ_CHECK(!root.is_ok(), "a size beyond the tree has no root");
    }
  }

  // Inclusion.
  auto path = ledger::merkle_inclusion_proof(t.tree, index, size);
  if (index < size && size <= kTreeLeaves) {
    FUZZ_CHECK(path.is_ok(), "an index inside a stored tree has a proof");
    const ledger::Hash root = root_of_prefix(size);
    FUZZ_CHECK(ledger::verify_inclusion(t.leaves[index], index, size, *path, root),
               "a made inclusion proof verifies");
    for (const auto& bad : corruptions(*path, flip)) {
      FUZZ_CHECK(!ledger::verify_inclusion(t.leaves[index], index, size, bad, root),
                 "a corrupted inclusion proof does not verify");
    }
    if (forged != *path) {
      FUZZ_CHECK(!ledger::verify_inclusion(t.leaves[index], index, size, forged, root),
                 "a forged inclusion path does not verify");
    }
  } else {
    FUZZ_CHECK(!path.is_ok(), "no inclusion proof outside the tree");
    // Verification must refuse, not crash, on impossible coordinates.
    const ledger::Hash leaf = t.leaves[index % kTreeLeaves];
    FUZZ_CHECK(!ledger::verify_inclusion(leaf, index, size, forged, t.tree.root()) ||
                   index < size,
               "no leaf is included at an index outside its tree");
  }

  // Consistency.
  auto proof = ledger::merkle_consistency_proof(t.tree, old_size, new_size);
  if (0 < old_size && old_size <= new_size && new_size <= kTreeLeaves) {
    FUZZ_CHECK(proof.is_ok(), "stored sizes have a consistency proof");
    const ledger::Hash old_root = root_of_prefix(old_size);
    const ledger::Hash new_root = root_of_prefix(new_size);
    FUZZ_CHECK(ledger::verify_consistency(old_size, new_size, old_root, new_root, *proof),
               "a made consistency proof verifies");
    for (const auto& bad : corruptions(*proof, flip)) {
      FUZZ_CHECK(!ledger::verify_consistency(old_size, new_size, old_root, new_root, bad),
                 "a corrupted consistency proof does not verify");
    }
    if (forged != *proof) {
      FUZZ_CHECK(!ledger::verify_consistency(old_size, new_size, old_root, new_root, forged),
                 "a forged consistency proof does not verify");
    }
  } else {
    // Equal sizes need no nodes: the proof is empty whatever the tree (RFC 9162 2.1.4.1).
    FUZZ_CHECK(!proof.is_ok() || (old_size == new_size && old_size != 0 && proof->empty()),
               "no consistency proof for impossible sizes");
    (void)ledger::verify_consistency(old_size, new_size, t.tree.root(), t.tree.root(), forged);
  }
}

void fuzz_proof_file(std::string_view json) {
  static const auto consortium = fuzz::test_consortium();
  auto inclusion = ledger::inclusion_proof_from_json(json);
  if (inclusion.is_ok()) {
    const std::string again = ledger::inclusion_proof_to_json(*inclusion);
    auto reread = ledger::inclusion_proof_from_json(again);
    FUZZ_CHECK(reread.is_ok(), "an inclusion proof we wrote reads back");
    FUZZ_CHECK(ledger::inclusion_proof_to_json(*reread) == again,
               "an inclusion proof round-trips");
    (void)ledger::verify_inclusion_proof(*consortium, *inclusion, inclusion->checkpoint);
    (void)ledger::parse_event_leaf_data(inclusion->leaf_data);
  }
  auto consistency = ledger::consistency_proof_from_json(json);
  if (consistency.is_ok()) {
    const std::string again = ledger::consistency_proof_to_json(*consistency);
    auto reread = ledger::consistency_proof_from_json(again);
    FUZZ_CHECK(reread.is_ok(), "a consistency proof we wrote reads back");
    FUZZ_CHECK(ledger::consistency_proof_to_json(*reread) == again,
               "a consistency proof round-trips");
    (void)ledger::verify_consistency_proof(*consortium, *consistency,
                                           consistency->old_checkpoint,
                                           consistency->new_checkpoint);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0 && data[0] == '{') {
    fuzz_proof_file(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
  }
  fuzz::Reader in(data, size);
  fuzz_merkle(in);
  return 0;
}
