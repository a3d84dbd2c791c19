// The Merkle log: RFC 6962 / RFC 9162 hashing, proofs and their verification.
//
// leaf hash = SHA-256(0x00 || leaf data), node hash = SHA-256(0x01 || left || right), and the
// root of an empty tree is SHA-256(""). Any Certificate-Transparency verifier can check the
// proofs made here.
//
// A tree is stored as its perfect subtrees: node(level, index) is the hash of the 2^level leaves
// [index * 2^level, (index + 1) * 2^level). Only complete subtrees are ever stored, so a node,
// once written, never changes; roots and proofs for any size combine O(log n) stored nodes.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ledger/crypto.h"

namespace ledger {

Hash merkle_leaf_hash(std::string_view leaf_data);
Hash merkle_node_hash(const Hash& left, const Hash& right);
Hash merkle_empty_root();

// Reads stored perfect-subtree hashes. kNotFound if the node was never written; kCorruption or
// kIOError from storage pass through.
class MerkleNodeReader {
 public:
  virtual ~MerkleNodeReader() = default;
  virtual base::Result<Hash> node(uint32_t level, uint64_t index) const = 0;
};

// Root of the first `size` leaves.
base::Result<Hash> merkle_root(const MerkleNodeReader& reader, uint64_t size);
// RFC 6962 audit path for leaf `index` in the tree of `size` leaves, leaf-side first.
// kInvalidArgument unless index < size.
base::Result<std::vector<Hash>> merkle_inclusion_proof(const MerkleNodeReader& reader,
                                                       uint64_t index, uint64_t size);
// RFC 6962 consistency proof between sizes old_size and new_size.
// kInvalidArgument unless 0 < old_size <= new_size.
base::Result<std::vector<Hash>> merkle_consistency_proof(const MerkleNodeReader& reader,
                                                         uint64_t old_size, uint64_t new_size);

// RFC 9162 2.1.3.2. True only if proof shows leaf_hash at index in the tree with this root.
bool verify_inclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                      const std::vector<Hash>& proof, const Hash& root);
// RFC 9162 2.1.4.2. True only if the tree of new_size with new_root extends the tree of
// old_size with old_root. Requires 0 < old_size <= new_size; an equal size needs an empty proof
// and equal roots.
bool verify_consistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                        const Hash& new_root, const std::vector<Hash>& proof);

// The right edge of a growing tree: one perfect-subtree hash per set bit of size(). Appending a
// leaf reports every newly completed node, which the owner stores.
class MerkleFrontier {
 public:
  struct NewNode {
    uint32_t level;
    uint64_t index;
    Hash hash;
  };

  MerkleFrontier() = default;
  // Rebuilds the frontier of a stored tree of `size` leaves.
  static base::Result<MerkleFrontier> load(const MerkleNodeReader& reader, uint64_t size);

  uint64_t size() const { return size_; }
  Hash root() const;
  // Adds a leaf; calls on_node for the leaf itself (level 0) and each completed parent.
  void append(const Hash& leaf_hash, const std::function<void(const NewNode&)>& on_node);

 private:
  uint64_t size_ = 0;
  // by_level_[l] is meaningful only where bit l of size_ is set.
  std::vector<Hash> by_level_;
};

// A whole tree in memory: tests, credaudit, and building the events root of one block.
class MemoryMerkleTree : public MerkleNodeReader {
 public:
  void append(const Hash& leaf_hash);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Hash root() const { return frontier_.root(); }
  base::Result<Hash> node(uint32_t level, uint64_t index) const override;

 private:
  std::vector<std::vector<Hash>> levels_;
  MerkleFrontier frontier_;
};

// Root over a list of leaf hashes (a block's events root).
Hash merkle_root_of(const std::vector<Hash>& leaf_hashes);

}  // namespace ledger
