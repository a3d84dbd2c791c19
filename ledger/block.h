// Blocks and the hash chain: canonical header bytes, block hash, receipts hash, state root.
//
// Header bytes (hashed to make the block hash; ledger/FORMAT.md):
//   "credledger/block/v1" 0x00 || u64 height || prev_hash[32] || merkle_root[32]
//   || u64 tree_size || events_root[32] || state_root[32] || i64 timestamp_ms
//   || u64 first_sequence || u32 accepted_count || u32 event_count
// All integers big-endian. The state root chains every block's receipts:
//   state_root(0) = SHA-256("credledger/genesis/v1" 0x00 || genesis file bytes)
//   state_root(h) = SHA-256("credledger/state/v1" 0x00 || state_root(h-1) || u64 h
//                           || receipts_hash(h))
//   receipts_hash = SHA-256("credledger/receipts/v1" 0x00 || for each event in block order:
//                           event_hash[32] || u8 accepted || u64 sequence || u32 reason)
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "ledger/crypto.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

constexpr std::string_view kBlockDomain = "credledger/block/v1";
constexpr std::string_view kStateDomain = "credledger/state/v1";
constexpr std::string_view kReceiptsDomain = "credledger/receipts/v1";
constexpr std::string_view kGenesisDomain = "credledger/genesis/v1";

// kCorruption if a hash field is not 32 bytes (a header read from disk or a peer).
base::Result<std::string> header_bytes(const v1::BlockHeader& header);
base::Result<Hash> block_hash(const v1::BlockHeader& header);

// REQUIRES: every receipt's event_hash is 32 bytes (check receipts read from disk or a peer).
Hash receipts_hash(const google::protobuf::RepeatedPtrField<v1::Receipt>& receipts);
Hash next_state_root(const Hash& prev_state_root, uint64_t height, const Hash& receipts_hash);
Hash genesis_state_root(std::string_view genesis_bytes);

// Block 0: it commits to the genesis file through its state root and has no events.
v1::BlockHeader genesis_header(std::string_view genesis_bytes);

}  // namespace ledger
