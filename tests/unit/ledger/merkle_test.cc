// The RFC 6962 Merkle log checked against a naive recursive implementation written here: roots
// and inclusion proofs for every leaf of every tree size 1..300, consistency proofs for every
// pair of sizes up to 130, and tampered proofs (bytes, index, sizes, extra or missing hashes)
// that must fail. Also the frontier reload and the ledger's RocksDB-backed node reader.
#include <algorithm>
#include <catch2/catch.hpp>
#include <optional>
#include <random>
#include <vector>

#include "ledger/merkle.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using ledger::Hash;

// ---- the naive reference, straight from RFC 6962 section 2.1 ----

uint64_t split(uint64_t n) {  // largest power of two < n
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash naive_mth(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return leaves[begin];
  const uint64_t k = split(end - begin);
  return ledger::merkle_node_hash(naive_mth(leaves, begin, begin + k),
                                  naive_mth(leaves, begin + k, end));
}

Hash naive_root(const std::vector<Hash>& leaves, uint64_t n) {
  if (n == 0) return ledger::sha256("");
  return naive_mth(leaves, 0, n);
}

void naive_path(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin, uint64_t end,
                std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (n == 1) return;
  const uint64_t k = split(n);
  if (m < k) {
    naive_path(leaves, m, begin, begin + k, out);
    out.push_back(naive_mth(leaves, begin + k, end));
  } else {
    naive_path(leaves, m - k, begin + k, end, out);
    out.push_back(naive_mth(leaves, begin, begin + k));
  }
}

void naive_subproof(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin, uint64_t end,
                    bool b, std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!b) out.push_back(naive_mth(leaves, begin, end));
    return;
  }
  const uint64_t k = split(n);
  if (m <= k) {
    naive_subproof(leaves, m, begin, begin + k, b, out);
    out.push_back(naive_mth(leaves, begin + k, end));
  } else {
    naive_subproof(leaves, m - k, begin + k, end, false, out);
    out.push_back(naive_mth(leaves, begin, begin + k));
  }
}

// Naive inclusion verifier: rebuild the root top-down from the tree shape of `size`.
std::optional<Hash> naive_root_from_path(const Hash& leaf, uint64_t m, uint64_t n,
                                         const std::vector<Hash>& proof, size_t used) {
  if (n == 1) {
    if (used != proof.size()) return std::nullopt;
    return leaf;
  }
  if (used == proof.size()) return std::nullopt;
  const Hash& sibling = proof[proof.size() - 1 - used];
  const uint64_t k = split(n);
  if (m < k) {
    auto left = naive_root_from_path(leaf, m, k, proof, used + 1);
    if (!left) return std::nullopt;
    return ledger::merkle_node_hash(*left, sibling);
  }
  auto right = naive_root_from_path(leaf, m - k, n - k, proof, used + 1);
  if (!right) return std::nullopt;
  return ledger::merkle_node_hash(sibling, *right);
}

bool naive_verify_inclusion(const Hash& leaf, uint64_t index, uint64_t size,
                            const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) return false;
  auto r = naive_root_from_path(leaf, index, size, proof, 0);
  return r && *r == root;
}

// Naive consistency verifier: replays SUBPROOF top-down, taking hashes from the end of the
// proof, and rebuilds both roots.
struct OldNew {
  Hash old_hash;
  Hash new_hash;
};
std::optional<OldNew> naive_sub(uint64_t m, uint64_t n, bool b, const Hash& old_root,
                                const std::vector<Hash>& proof, size_t& used) {
  auto take = [&]() -> std::optional<Hash> {
    if (used == proof.size()) return std::nullopt;
    return proof[proof.size() - 1 - used++];
  };
  if (m == n) {
    if (b) return OldNew{old_root, old_root};
    auto h = take();
    if (!h) return std::nullopt;
    return OldNew{*h, *h};
  }
  const uint64_t k = split(n);
  auto sibling = take();
  if (!sibling) return std::nullopt;
  if (m <= k) {
    auto r = naive_sub(m, k, b, old_root, proof, used);
    if (!r) return std::nullopt;
    return OldNew{r->old_hash, ledger::merkle_node_hash(r->new_hash, *sibling)};
  }
  auto r = naive_sub(m - k, n - k, false, old_root, proof, used);
  if (!r) return std::nullopt;
  return OldNew{ledger::merkle_node_hash(*sibling, r->old_hash),
                ledger::merkle_node_hash(*sibling, r->new_hash)};
}

bool naive_verify_consistency(uint64_t m, uint64_t n, const Hash& old_root, const Hash& new_root,
                              const std::vector<Hash>& proof) {
  if (m == 0 || m > n) return false;
  if (m == n) return proof.empty() && old_root == new_root;
  size_t used = 0;
  auto r = naive_sub(m, n, true, old_root, proof, used);
  return r && used == proof.size() && r->old_hash == old_root && r->new_hash == new_root;
}

std::vector<Hash> make_leaves(size_t n) {
  std::vector<Hash> leaves;
  for (size_t i = 0; i < n; ++i) {
    leaves.push_back(ledger::merkle_leaf_hash("leaf " + std::to_string(i)));
  }
  return leaves;
}

ledger::MemoryMerkleTree tree_of(const std::vector<Hash>& leaves, size_t n) {
  ledger::MemoryMerkleTree tree;
  for (size_t i = 0; i < n; ++i) tree.append(leaves[i]);
  return tree;
}

Hash flip(Hash h, size_t byte, uint8_t mask = 0x01) {
  h[byte] ^= mask;
  return h;
}

}  // namespace

TEST_CASE("hashing follows RFC 6962 prefixes", "[ledger][merkle]") {
  CHECK(ledger::to_hex(ledger::merkle_empty_root()) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Leaf hash of the empty string, from the RFC 6962 / CT test vectors.
  CHECK(ledger::to_hex(ledger::merkle_leaf_hash("")) ==
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const Hash a = ledger::merkle_leaf_hash("a");
  const Hash b = ledger::merkle_leaf_hash("b");
  CHECK(ledger::merkle_node_hash(a, b) ==
        ledger::sha256(std::string("\x01", 1) + ledger::to_string(a) + ledger::to_string(b)));
  CHECK(ledger::merkle_node_hash(a, b) != ledger::merkle_node_hash(b, a));
}

TEST_CASE("roots match the naive MTH for every size 0..300", "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(300);
  ledger::MemoryMerkleTree tree;
  CHECK(tree.root() == naive_root(leaves, 0));
  for (size_t n = 1; n <= 300; ++n) {
    tree.append(leaves[n - 1]);
    const Hash expected = naive_root(leaves, n);
    REQUIRE(tree.size() == n);
    REQUIRE(tree.root() == expected);
    // Roots of every earlier size stay computable from the stored nodes.
    auto root = ledger::merkle_root(tree, n);
    REQUIRE(root.is_ok());
    REQUIRE(*root == expected);
  }
  for (size_t n = 0; n <= 300; ++n) {
    auto root = ledger::merkle_root(tree, n);
    REQUIRE(root.is_ok());
    REQUIRE(*root == naive_root(leaves, n));
  }
  CHECK(ledger::merkle_root_of({}) == ledger::merkle_empty_root());
  CHECK(ledger::merkle_root_of(leaves) == naive_root(leaves, 300));
}

TEST_CASE("inclusion proofs for every leaf of every size 1..300 equal the RFC PATH and verify",
          "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(300);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 300);
  for (uint64_t n = 1; n <= 300; ++n) {
    const Hash root = naive_root(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      auto proof = ledger::merkle_inclusion_proof(tree, i, n);
      REQUIRE(proof.is_ok());
      std::vector<Hash> expected;
      naive_path(leaves, i, 0, n, expected);
      INFO("size " << n << " leaf " << i);
      REQUIRE(*proof == expected);
      REQUIRE(ledger::verify_inclusion(leaves[i], i, n, *proof, root));
    }
  }
}

TEST_CASE("inclusion proofs are refused for an index outside the tree", "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(10);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 10);
  CHECK(ledger::merkle_inclusion_proof(tree, 5, 5).status().code() ==
        base::Code::kInvalidArgument);
  CHECK(ledger::merkle_inclusion_proof(tree, 0, 0).status().code() ==
        base::Code::kInvalidArgument);
  // Asking beyond what is stored is NotFound from the reader, not a wrong proof.
  CHECK(ledger::merkle_inclusion_proof(tree, 3, 11).status().code() == base::Code::kNotFound);
  CHECK_FALSE(ledger::verify_inclusion(leaves[0], 0, 0, {}, ledger::merkle_empty_root()));
}

TEST_CASE("a tampered inclusion proof fails: every byte of every hash (sizes up to 48)",
          "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(48);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 48);
  for (uint64_t n = 1; n <= 48; ++n) {
    const Hash root = naive_root(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *ledger::merkle_inclusion_proof(tree, i, n);
      INFO("size " << n << " leaf " << i);
      for (size_t h = 0; h < proof.size(); ++h) {
        for (size_t byte = 0; byte < 32; ++byte) {
          std::vector<Hash> bad = proof;
          bad[h] = flip(bad[h], byte, static_cast<uint8_t>(1u << (byte % 8)));
          REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i, n, bad, root));
        }
      }
      for (size_t byte = 0; byte < 32; ++byte) {
        REQUIRE_FALSE(ledger::verify_inclusion(flip(leaves[i], byte), i, n, proof, root));
        REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i, n, proof, flip(root, byte)));
      }
    }
  }
}

TEST_CASE("a tampered inclusion proof fails: sampled bytes for sizes up to 300",
          "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(300);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 300);
  std::mt19937_64 rng(6962);
  for (uint64_t n = 49; n <= 300; ++n) {
    const Hash root = naive_root(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *ledger::merkle_inclusion_proof(tree, i, n);
      for (int sample = 0; sample < 4; ++sample) {
        std::vector<Hash> bad = proof;
        const size_t h = rng() % bad.size();
        const size_t byte = rng() % 32;
        bad[h] = flip(bad[h], byte, static_cast<uint8_t>(1u << (rng() % 8)));
        INFO("size " << n << " leaf " << i << " hash " << h << " byte " << byte);
        REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i, n, bad, root));
      }
    }
  }
}

TEST_CASE("an inclusion proof fails for any other index of the same tree", "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(70);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 70);
  for (uint64_t n = 1; n <= 70; ++n) {
    const Hash root = naive_root(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *ledger::merkle_inclusion_proof(tree, i, n);
      for (uint64_t j = 0; j < n + 3; ++j) {
        if (j == i) continue;
        INFO("size " << n << " leaf " << i << " claimed index " << j);
        REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], j, n, proof, root));
      }
      REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i ^ (uint64_t{1} << 40), n, proof, root));
    }
  }
}

TEST_CASE("an inclusion proof under another tree size verifies exactly when the naive "
          "verifier agrees",
          "[ledger][merkle]") {
  // The size is not hashed into the proof: leaf 0 of a 3-leaf tree has the same path shape in a
  // 4-leaf tree, so the size must come from a signed checkpoint. The verifier must agree with
  // the naive one on every such case and reject all others.
  const std::vector<Hash> leaves = make_leaves(100);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 100);
  int accepted_other_size = 0;
  int rejected_other_size = 0;
  for (uint64_t n = 1; n <= 100; ++n) {
    const Hash root = naive_root(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *ledger::merkle_inclusion_proof(tree, i, n);
      for (uint64_t m : {n - 1, n + 1, n + 2, 2 * n, uint64_t{0}, uint64_t{1} << 50}) {
        if (m == n) continue;
        const bool naive = naive_verify_inclusion(leaves[i], i, m, proof, root);
        INFO("size " << n << " leaf " << i << " claimed size " << m);
        REQUIRE(ledger::verify_inclusion(leaves[i], i, m, proof, root) == naive);
        (naive ? accepted_other_size : rejected_other_size)++;
      }
    }
  }
  CHECK(rejected_other_size > 0);
  CHECK(accepted_other_size > 0);
  // The documented shape coincidence itself.
  const std::vector<Hash> proof3 = *ledger::merkle_inclusion_proof(tree, 0, 3);
  CHECK(ledger::verify_inclusion(leaves[0], 0, 4, proof3, naive_root(leaves, 3)));
}

TEST_CASE("an inclusion proof with a hash dropped or added fails", "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(300);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 300);
  const Hash extra = ledger::merkle_leaf_hash("extra");
  for (uint64_t n = 1; n <= 300; n += (n < 70 ? 1 : 7)) {
    const Hash root = naive_root(leaves, n);
    for (uint64_t i = 0; i < n; ++i) {
      const std::vector<Hash> proof = *ledger::merkle_inclusion_proof(tree, i, n);
      INFO("size " << n << " leaf " << i);
      for (size_t drop = 0; drop < proof.size(); ++drop) {
        std::vector<Hash> bad = proof;
        bad.erase(bad.begin() + static_cast<long>(drop));
        REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i, n, bad, root));
      }
      for (size_t at = 0; at <= proof.size(); ++at) {
        std::vector<Hash> bad = proof;
        bad.insert(bad.begin() + static_cast<long>(at), extra);
        REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i, n, bad, root));
      }
      std::vector<Hash> dup = proof;
      if (!dup.empty()) {
        dup.push_back(dup.back());
        REQUIRE_FALSE(ledger::verify_inclusion(leaves[i], i, n, dup, root));
      }
    }
  }
}

TEST_CASE("consistency proofs for every pair 1 <= m <= n <= 130 equal the RFC SUBPROOF and "
          "verify",
          "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(130);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 130);
  std::vector<Hash> roots;
  for (uint64_t n = 0; n <= 130; ++n) roots.push_back(naive_root(leaves, n));
  for (uint64_t n = 1; n <= 130; ++n) {
    for (uint64_t m = 1; m <= n; ++m) {
      auto proof = ledger::merkle_consistency_proof(tree, m, n);
      REQUIRE(proof.is_ok());
      std::vector<Hash> expected;
      if (m < n) naive_subproof(leaves, m, 0, n, true, expected);
      INFO("old " << m << " new " << n);
      REQUIRE(*proof == expected);
      REQUIRE(ledger::verify_consistency(m, n, roots[m], roots[n], *proof));
      REQUIRE(naive_verify_consistency(m, n, roots[m], roots[n], *proof));
    }
  }
}

TEST_CASE("consistency proofs are refused for sizes out of order", "[ledger][merkle]") {
  const ledger::MemoryMerkleTree tree = tree_of(make_leaves(10), 10);
  CHECK(ledger::merkle_consistency_proof(tree, 0, 5).status().code() ==
        base::Code::kInvalidArgument);
  CHECK(ledger::merkle_consistency_proof(tree, 6, 5).status().code() ==
        base::Code::kInvalidArgument);
  const Hash r = tree.root();
  CHECK_FALSE(ledger::verify_consistency(0, 10, ledger::merkle_empty_root(), r, {}));
  CHECK_FALSE(ledger::verify_consistency(10, 5, r, r, {}));
  CHECK(ledger::verify_consistency(10, 10, r, r, {}));
  CHECK_FALSE(ledger::verify_consistency(10, 10, r, r, {r}));
  CHECK_FALSE(ledger::verify_consistency(10, 10, r, flip(r, 0), {}));
}

TEST_CASE("a tampered consistency proof fails: bytes, roots, sizes, dropped and added hashes",
          "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(130);
  const ledger::MemoryMerkleTree tree = tree_of(leaves, 130);
  std::vector<Hash> roots;
  for (uint64_t n = 0; n <= 130; ++n) roots.push_back(naive_root(leaves, n));
  const Hash extra = ledger::merkle_leaf_hash("extra");
  std::mt19937_64 rng(9162);
  int size_accepted = 0;
  int size_rejected = 0;
  for (uint64_t n = 2; n <= 130; ++n) {
    for (uint64_t m = 1; m < n; ++m) {
      const std::vector<Hash> proof = *ledger::merkle_consistency_proof(tree, m, n);
      INFO("old " << m << " new " << n);
      const bool exhaustive = n <= 24;
      for (size_t h = 0; h < proof.size(); ++h) {
        for (size_t byte = 0; byte < 32; ++byte) {
          if (!exhaustive && rng() % 16 != 0) continue;
          std::vector<Hash> bad = proof;
          bad[h] = flip(bad[h], byte, static_cast<uint8_t>(1u << (byte % 8)));
          REQUIRE_FALSE(ledger::verify_consistency(m, n, roots[m], roots[n], bad));
        }
      }
      const size_t byte = rng() % 32;
      REQUIRE_FALSE(ledger::verify_consistency(m, n, flip(roots[m], byte), roots[n], proof));
      REQUIRE_FALSE(ledger::verify_consistency(m, n, roots[m], flip(roots[n], byte), proof));
      // Like inclusion proofs, a consistency proof does not bind the sizes by itself (old 1,
      // new 3 has the shape of old 1, new 4): the verifier must agree with the naive one.
      for (uint64_t other_m : {m - 1, m + 1}) {
        if (other_m == m || other_m == 0) continue;
        INFO("claimed old " << other_m);
        REQUIRE(ledger::verify_consistency(other_m, n, roots[m], roots[n], proof) ==
                naive_verify_consistency(other_m, n, roots[m], roots[n], proof));
      }
      for (uint64_t other_n : {n - 1, n + 1, 2 * n}) {
        if (other_n == n) continue;
        INFO("claimed new " << other_n);
        const bool naive = naive_verify_consistency(m, other_n, roots[m], roots[n], proof);
        REQUIRE(ledger::verify_consistency(m, other_n, roots[m], roots[n], proof) == naive);
        (naive ? size_accepted : size_rejected)++;
      }
      for (size_t drop = 0; drop < proof.size(); ++drop) {
        std::vector<Hash> bad = proof;
        bad.erase(bad.begin() + static_cast<long>(drop));
        REQUIRE_FALSE(ledger::verify_consistency(m, n, roots[m], roots[n], bad));
      }
      for (size_t at = 0; at <= proof.size(); at += std::max<size_t>(1, proof.size())) {
        std::vector<Hash> bad = proof;
        bad.insert(bad.begin() + static_cast<long>(at), extra);
        REQUIRE_FALSE(ledger::verify_consistency(m, n, roots[m], roots[n], bad));
      }
    }
  }
  CHECK(size_rejected > 0);
  CHECK(size_accepted > 0);
}

TEST_CASE("a frontier loaded from stored nodes equals the incremental one", "[ledger][merkle]") {
  const std::vector<Hash> leaves = make_leaves(300);
  ledger::MemoryMerkleTree tree;
  ledger::MerkleFrontier incremental;
  for (size_t n = 0; n <= 260; ++n) {
    if (n > 0) {
      tree.append(leaves[n - 1]);
      incremental.append(leaves[n - 1], [](const ledger::MerkleFrontier::NewNode&) {});
    }
    auto loaded = ledger::MerkleFrontier::load(tree, n);
    REQUIRE(loaded.is_ok());
    INFO("size " << n);
    REQUIRE(loaded->size() == incremental.size());
    REQUIRE(loaded->root() == incremental.root());
    // Both keep growing identically and report the same new nodes.
    ledger::MerkleFrontier a = *loaded;
    ledger::MerkleFrontier b = incremental;
    for (size_t k = n; k < std::min<size_t>(n + 40, leaves.size()); ++k) {
      std::vector<std::tuple<uint32_t, uint64_t, Hash>> na, nb;
      a.append(leaves[k], [&](const auto& x) { na.emplace_back(x.level, x.index, x.hash); });
      b.append(leaves[k], [&](const auto& x) { nb.emplace_back(x.level, x.index, x.hash); });
      REQUIRE(na == nb);
      REQUIRE(a.root() == b.root());
      REQUIRE(a.root() == naive_root(leaves, k + 1));
    }
  }
  CHECK(ledger::MerkleFrontier::load(tree, 400).status().code() == base::Code::kNotFound);
}

TEST_CASE("the ledger's stored Merkle nodes give the same roots and proofs as a tree in memory",
          "[ledger][merkle]") {
  using namespace ledger_test;
  TestLedger l;
  ledger::MemoryMerkleTree memory;
  std::vector<uint64_t> sizes;
  int next_id = 0;
  // Blocks of varying size, with a rejected event mixed in (it is not a leaf).
  for (int b = 0; b < 12; ++b) {
    std::vector<v1::SignedEvent> events;
    for (int k = 0; k <= b % 5 + 2; ++k) {
      const int id = next_id++;
      events.push_back(sign(make_event("m-" + std::to_string(id), kSamr,
                                       enterprise(static_cast<uint64_t>(id % 7)),
                                       v1::COMMENDATION, v1::GENERAL, kT0 + id)));
    }
    events.push_back(sign(make_event("m-" + std::to_string(next_id - 1), kSamr, enterprise(1),
                                     v1::COMMENDATION, v1::GENERAL, kT0)));  // duplicate id
    const v1::Block block = l.apply(events, kT0 + b * 1000);
    for (const v1::Receipt& r : block.receipts()) {
      if (!r.accepted()) continue;
      REQUIRE(r.sequence() == memory.size());
      memory.append(*ledger::hash_from_bytes(r.event_hash()));
    }
    REQUIRE(block.header().tree_size() == memory.size());
    REQUIRE(block.header().merkle_root() == ledger::to_string(memory.root()));
    sizes.push_back(memory.size());
  }
  const ledger::MerkleNodeReader& stored = l->merkle();
  const uint64_t total = memory.size();
  REQUIRE(total > 40);
  for (uint64_t n = 1; n <= total; ++n) {
    REQUIRE(*ledger::merkle_root(stored, n) == *ledger::merkle_root(memory, n));
    for (uint64_t i = 0; i < n; i += (n < 20 ? 1 : 3)) {
      auto a = ledger::merkle_inclusion_proof(stored, i, n);
      auto b = ledger::merkle_inclusion_proof(memory, i, n);
      REQUIRE(a.is_ok());
      REQUIRE(*a == *b);
    }
  }
  for (uint64_t m : sizes) {
    for (uint64_t n : sizes) {
      if (m > n) continue;
      REQUIRE(*ledger::merkle_consistency_proof(stored, m, n) ==
              *ledger::merkle_consistency_proof(memory, m, n));
    }
  }
  // Every leaf is the event at its sequence.
  for (uint64_t s = 0; s < total; ++s) {
    auto e = l->event_at_sequence(s);
    REQUIRE(e.is_ok());
    REQUIRE(ledger::event_hash(*e) == *memory.node(0, s));
  }
  CHECK(l->event_at_sequence(total).status().code() == base::Code::kNotFound);
}
