// Integrity of what a ledger has stored: finding damaged heights and restoring them.
//
// What is checked is what is not re-derived on every read: block() already checks a block's
// events against its events root, its link to its parent and its receipts against the state
// root. On top of that, verify_stored() checks each receipt against its event, the head record
// against the head block, and the Merkle nodes each block wrote: its leaves, every perfect
// subtree its leaves completed (against the hashes of their children), and the root at the
// block's tree size. RocksDB's block checksums surface as kCorruption from the same reads.
//
// Trust for a repair comes from this node's own head: the head record was written in the same
// atomic batch as the head block, and each header commits to its parent's hash, so walking down
// from the head gives the hash every height must have. A copy from a peer is taken only if it
// has that hash, and its events and receipts only if they match that header.
#include <rocksdb/write_batch.h>

#include <set>

#include "ledger/block.h"
#include "ledger/event.h"
#include "ledger/internal/keys.h"
#include "ledger/ledger.h"

namespace ledger {

using internal::block_key;
using internal::event_key;
using internal::merkle_key;

namespace {

bool is_damage(const base::Status& s) {
  return s.code() == base::Code::kCorruption || s.code() == base::Code::kNotFound;
}

std::string at(uint64_t height) { return "block " + std::to_string(height); }

std::string node_name(uint32_t level, uint64_t index) {
  return "merkle node (" + std::to_string(level) + ", " + std::to_string(index) + ")";
}

// The receipts of `block` against its events. Empty if they match.
std::string check_receipts(const v1::Block& block) {
  if (block.receipts_size() != block.events_size()) {
    return at(block.header().height()) + " has " + std::to_string(block.receipts_size()) +
           " receipts for " + std::to_string(block.events_size()) + " events";
  }
  for (int i = 0; i < block.events_size(); ++i) {
    if (as_view(event_hash(block.events(i))) != block.receipts(i).event_hash()) {
      return at(block.header().height()) + ": receipt " + std::to_string(i) +
             " does not name the hash of event " + std::to_string(i);
    }
  }
  return "";
}

}  // namespace

base::Result<std::optional<std::string>> Ledger::check_merkle(const v1::Block& block) const {
  const std::string where = at(block.header().height()) + ": ";
  // A node read from storage: kNotFound or kCorruption are damage, other errors pass up.
  std::optional<std::string> damage;
  base::Status error;
  auto node = [&](uint32_t level, uint64_t index) -> std::optional<Hash> {
    auto h = merkle().node(level, index);
    if (h.is_ok()) return *h;
    if (is_damage(h.status())) {
      damage = where + h.status().message();
    } else {
      error = h.status();
    }
    return std::nullopt;
  };
  for (const v1::Receipt& r : block.receipts()) {
    if (!r.accepted()) continue;
    const uint64_t s = r.sequence();
    auto leaf = node(0, s);
    if (!leaf) break;
    if (as_view(*leaf) != r.event_hash()) {
      damage = where + node_name(0, s) + " is not the hash of event '" + r.event_id() + "'";
      break;
    }
    // Every perfect subtree whose last leaf is s was completed by this block.
    for (uint32_t level = 1; level < 64 && ((s + 1) & ((uint64_t{1} << level) - 1)) == 0;
         ++level) {
      const uint64_t index = ((s + 1) >> level) - 1;
      auto left = node(level - 1, 2 * index);
      auto right = left ? node(level - 1, 2 * index + 1) : std::nullopt;
      auto parent = right ? node(level, index) : std::nullopt;
      if (!parent) break;
      if (*parent != merkle_node_hash(*left, *right)) {
        damage = where + node_name(level, index) + " is not the hash of its children";
        break;
      }
    }
    if (damage || !error.is_ok()) break;
  }
  RETURN_IF_ERROR(error);
  if (damage) return damage;
  auto root = merkle_root(merkle(), block.header().tree_size());
  if (!root.is_ok()) {
    if (!is_damage(root.status())) return root.status();
    return std::optional<std::string>(where + root.status().message());
  }
  if (as_view(*root) != block.header().merkle_root()) {
    return std::optional<std::string>(where + "stored merkle nodes do not give its merkle root");
  }
  return std::optional<std::string>();
}

base::Result<std::vector<Damage>> Ledger::verify_stored(uint64_t from, uint64_t to,
                                                        size_t max_damages) const {
  const v1::BlockHeader head = this->head();
  from = std::max<uint64_t>(from, 1);
  to = std::min<uint64_t>(to, head.height());
  std::vector<Damage> damages;
  for (uint64_t h = from; h <= to && damages.size() < max_damages; ++h) {
    auto block = this->block(h);
    if (!block.is_ok()) {
      if (!is_damage(block.status())) return block.status();
      damages.push_back({h, true, block.status().message()});
      continue;
    }
    std::string bad = check_receipts(*block);
    if (bad.empty() && h == head.height() &&
        block->header().SerializeAsString() != head.SerializeAsString()) {
      bad = at(h) + " differs from the applied head record";
    }
    if (!bad.empty()) {
      damages.push_back({h, true, bad});
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<std::string> merkle, check_merkle(*block));
    if (merkle) damages.push_back({h, false, *merkle});
  }
  return damages;
}

base::Status Ledger::repair(const std::vector<Damage>& damages,
                            const std::map<uint64_t, v1::Block>& copies) {
  if (damages.empty()) return base::Status::ok();
  const v1::BlockHeader head = this->head();
  const Hash head_hash = this->head_hash();
  std::set<uint64_t> heights;
  std::set<uint64_t> blocks;
  for (const Damage& d : damages) {
    LEDGER_ASSERT(d.height >= 1);
    LEDGER_ASSERT(d.height <= head.height());
    heights.insert(d.height);
    if (d.block) blocks.insert(d.height);
  }
  // 1. Blocks, from the head down: each height must hash to what the height above names.
  std::string expected(as_view(head_hash));
  std::map<uint64_t, v1::Block> restored;  // height -> header, events and receipts now stored
  for (uint64_t h = head.height(); h >= *heights.begin(); --h) {
    v1::BlockHeader header;
    if (blocks.count(h)) {
      auto copy = copies.find(h);
      if (copy == copies.end()) return base::Status::corruption(at(h) + ": no copy to repair it");
      const v1::Block& block = copy->second;
      header = block.header();
      auto hash = block_hash(header);
      if (header.height() != h || !hash.is_ok() || as_view(*hash) != expected) {
        return base::Status::corruption(at(h) + ": the copy's header is not the one this chain "
                                                "commits to");
      }
      std::vector<Hash> hashes;
      for (const v1::SignedEvent& e : block.events()) hashes.push_back(event_hash(e));
      if (hashes.size() != header.event_count() ||
          as_view(merkle_root_of(hashes)) != header.events_root()) {
        return base::Status::corruption(at(h) + ": the copy's events do not give its events root");
      }
      if (std::string bad = check_receipts(block); !bad.empty()) {
        return base::Status::corruption("copy of " + bad);
      }
      rocksdb::WriteBatch batch;
      v1::Block stored;
      *stored.mutable_header() = header;
      *stored.mutable_receipts() = block.receipts();
      stored.set_log_index(block.log_index());
      batch.Put(blocks_cf_, block_key(h), stored.SerializeAsString());
      batch.DeleteRange(events_cf_, event_key(h, 0), event_key(h + 1, 0));
      for (int i = 0; i < block.events_size(); ++i) {
        batch.Put(events_cf_, event_key(h, static_cast<uint32_t>(i)),
                  block.events(i).SerializeAsString());
      }
      RETURN_IF_ERROR(write(batch, "repair " + at(h)));
      restored[h] = block;
    } else {
      auto stored = this->header(h);
      if (!stored.is_ok()) return stored.status().with_context("repair");
      header = *stored;
      auto hash = block_hash(header);
      if (!hash.is_ok() || as_view(*hash) != expected) {
        return base::Status::corruption(at(h) + " does not match the chain above it; verify "
                                                 "again");
      }
      if (heights.count(h)) {
        ASSIGN_OR_RETURN(restored[h], this->block(h));
      }
    }
    expected = header.prev_hash();
    if (h == 1) break;
  }
  // 2. Merkle nodes of every damaged height, from the lowest up: a subtree completed by a
  // height needs only leaves at or below it, restored first.
  for (const auto& [h, block] : restored) {
    std::map<std::pair<uint32_t, uint64_t>, Hash> made;
    auto node = [&](uint32_t level, uint64_t index) -> base::Result<Hash> {
      auto it = made.find({level, index});
      if (it != made.end()) return it->second;
      return merkle().node(level, index);
    };
    rocksdb::WriteBatch batch;
    for (const v1::Receipt& r : block.receipts()) {
      if (!r.accepted()) continue;
      const uint64_t s = r.sequence();
      ASSIGN_OR_RETURN(Hash leaf, hash_from_bytes(r.event_hash()));
      made[{0, s}] = leaf;
      batch.Put(merkle_cf_, merkle_key(0, s), as_view(leaf));
      for (uint32_t level = 1; level < 64 && ((s + 1) & ((uint64_t{1} << level) - 1)) == 0;
           ++level) {
        const uint64_t index = ((s + 1) >> level) - 1;
        ASSIGN_OR_RETURN(Hash left, node(level - 1, 2 * index));
        ASSIGN_OR_RETURN(Hash right, node(level - 1, 2 * index + 1));
        const Hash parent = merkle_node_hash(left, right);
        made[{level, index}] = parent;
        batch.Put(merkle_cf_, merkle_key(level, index), as_view(parent));
      }
    }
    RETURN_IF_ERROR(write(batch, "repair merkle nodes of " + at(h)));
  }
  // 3. The restored heights must now pass every check (receipts against the state roots too).
  ASSIGN_OR_RETURN(std::vector<Damage> left, verify_stored(*heights.begin(), *heights.rbegin()));
  if (!left.empty()) {
    return base::Status::corruption("after repair: " + left.front().reason);
  }
  return base::Status::ok();
}

}  // namespace ledger
