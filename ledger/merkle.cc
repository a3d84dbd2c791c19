#include "ledger/merkle.h"

#include <bit>

namespace ledger {
namespace {

// Largest power of two strictly below n. REQUIRES: n > 1.
uint64_t split_point(uint64_t n) {
  LEDGER_ASSERT(n > 1);
  return std::bit_floor(n - 1);
}

bool is_power_of_two(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

// MTH(D[begin:end]) from stored perfect subtrees. The ranges the RFC algorithms ask for are
// always aligned: a perfect range starts at a multiple of its size.
base::Result<Hash> subtree_hash(const MerkleNodeReader& reader, uint64_t begin, uint64_t end) {
  LEDGER_ASSERT(begin < end);
  const uint64_t n = end - begin;
  if (is_power_of_two(n)) {
    LEDGER_ASSERT(begin % n == 0);
    return reader.node(static_cast<uint32_t>(std::countr_zero(n)), begin / n);
  }
  const uint64_t k = split_point(n);
  ASSIGN_OR_RETURN(Hash left, subtree_hash(reader, begin, begin + k));
  ASSIGN_OR_RETURN(Hash right, subtree_hash(reader, begin + k, end));
  return merkle_node_hash(left, right);
}

// PATH(m, D[begin:end]) of RFC 6962 2.1.1, appended leaf-side first.
base::Status path(const MerkleNodeReader& reader, uint64_t m, uint64_t begin, uint64_t end,
                  std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (n <= 1) return base::Status::ok();
  const uint64_t k = split_point(n);
  if (m < k) {
    RETURN_IF_ERROR(path(reader, m, begin, begin + k, out));
    ASSIGN_OR_RETURN(Hash sibling, subtree_hash(reader, begin + k, end));
    out.push_back(sibling);
  } else {
    RETURN_IF_ERROR(path(reader, m - k, begin + k, end, out));
    ASSIGN_OR_RETURN(Hash sibling, subtree_hash(reader, begin, begin + k));
    out.push_back(sibling);
  }
  return base::Status::ok();
}

// SUBPROOF(m, D[begin:end], b) of RFC 6962 2.1.2.
base::Status subproof(const MerkleNodeReader& reader, uint64_t m, uint64_t begin, uint64_t end,
                      bool whole, std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) {
      ASSIGN_OR_RETURN(Hash h, subtree_hash(reader, begin, end));
      out.push_back(h);
    }
    return base::Status::ok();
  }
  const uint64_t k = split_point(n);
  if (m <= k) {
    RETURN_IF_ERROR(subproof(reader, m, begin, begin + k, whole, out));
    ASSIGN_OR_RETURN(Hash right, subtree_hash(reader, begin + k, end));
    out.push_back(right);
  } else {
    RETURN_IF_ERROR(subproof(reader, m - k, begin + k, end, false, out));
    ASSIGN_OR_RETURN(Hash left, subtree_hash(reader, begin, begin + k));
    out.push_back(left);
  }
  return base::Status::ok();
}

}  // namespace

Hash merkle_leaf_hash(std::string_view leaf_data) {
  static constexpr char kPrefix = 0x00;
  return sha256_parts({std::string_view(&kPrefix, 1), leaf_data});
}

Hash merkle_node_hash(const Hash& left, const Hash& right) {
  static constexpr char kPrefix = 0x01;
  return sha256_parts({std::string_view(&kPrefix, 1), as_view(left), as_view(right)});
}

Hash merkle_empty_root() { return sha256(""); }

base::Result<Hash> merkle_root(const MerkleNodeReader& reader, uint64_t size) {
  if (size == 0) return merkle_empty_root();
  return subtree_hash(reader, 0, size);
}

base::Result<std::vector<Hash>> merkle_inclusion_proof(const MerkleNodeReader& reader,
                                                       uint64_t index, uint64_t size) {
  if (index >= size) {
    return base::Status::invalid_argument("leaf index " + std::to_string(index) +
                                          " is not below tree size " + std::to_string(size));
  }
  std::vector<Hash> proof;
  RETURN_IF_ERROR(path(reader, index, 0, size, proof));
  return proof;
}

base::Result<std::vector<Hash>> merkle_consistency_proof(const MerkleNodeReader& reader,
                                                         uint64_t old_size, uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return base::Status::invalid_argument("consistency proof needs 0 < old size <= new size, got " +
                                          std::to_string(old_size) + " and " +
                                          std::to_string(new_size));
  }
  std::vector<Hash> proof;
  RETURN_IF_ERROR(subproof(reader, old_size, 0, new_size, true, proof));
  return proof;
}

bool verify_inclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                      const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) return false;
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = merkle_node_hash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = merkle_node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                        const Hash& new_root, const std::vector<Hash>& proof) {
  if (old_size == 0 || old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  std::vector<Hash> path = proof;
  if (is_power_of_two(old_size)) path.insert(path.begin(), old_root);
  if (path.empty()) return false;
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      fr = merkle_node_hash(c, fr);
      sr = merkle_node_hash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = merkle_node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

base::Result<MerkleFrontier> MerkleFrontier::load(const MerkleNodeReader& reader, uint64_t size) {
  MerkleFrontier f;
  f.size_ = size;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((size & width) == 0) continue;
    if (f.by_level_.size() <= static_cast<size_t>(level)) f.by_level_.resize(level + 1);
    ASSIGN_OR_RETURN(f.by_level_[level], reader.node(static_cast<uint32_t>(level), begin / width));
    begin += width;
  }
  return f;
}

Hash MerkleFrontier::root() const {
  if (size_ == 0) return merkle_empty_root();
  // Fold from the smallest (rightmost) perfect subtree leftwards.
  bool have = false;
  Hash acc;
  for (size_t level = 0; level < by_level_.size(); ++level) {
    if ((size_ >> level & 1) == 0) continue;
    acc = have ? merkle_node_hash(by_level_[level], acc) : by_level_[level];
    have = true;
  }
  LEDGER_ASSERT(have);
  return acc;
}

void MerkleFrontier::append(const Hash& leaf_hash,
                            const std::function<void(const NewNode&)>& on_node) {
  uint64_t index = size_;
  Hash current = leaf_hash;
  uint32_t level = 0;
  on_node({level, index, current});
  // Each trailing one bit of the old size is a left sibling that the new leaf completes.
  while ((index & 1) == 1) {
    LEDGER_ASSERT(level < by_level_.size());
    current = merkle_node_hash(by_level_[level], current);
    index >>= 1;
    ++level;
    on_node({level, index, current});
  }
  if (by_level_.size() <= level) by_level_.resize(level + 1);
  by_level_[level] = current;
  ++size_;
}

void MemoryMerkleTree::append(const Hash& leaf_hash) {
  frontier_.append(leaf_hash, [this](const MerkleFrontier::NewNode& n) {
    if (levels_.size() <= n.level) levels_.resize(n.level + 1);
    LEDGER_ASSERT(levels_[n.level].size() == n.index);
    levels_[n.level].push_back(n.hash);
  });
}

base::Result<Hash> MemoryMerkleTree::node(uint32_t level, uint64_t index) const {
  if (level >= levels_.size() || index >= levels_[level].size()) {
    return base::Status::not_found("merkle node (" + std::to_string(level) + ", " +
                                   std::to_string(index) + ") not stored");
  }
  return levels_[level][index];
}

Hash merkle_root_of(const std::vector<Hash>& leaf_hashes) {
  MerkleFrontier f;
  for (const Hash& h : leaf_hashes) f.append(h, [](const MerkleFrontier::NewNode&) {});
  return f.root();
}

}  // namespace ledger

