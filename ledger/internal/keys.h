// Key layout of the ledger's column families (ledger/FORMAT.md, "Storage").
// Integers are big-endian so that RocksDB's byte order is numeric order.
#pragma once

#include <string>
#include <string_view>

#include "ledger/event.h"
#include "proto/ledger.pb.h"

namespace ledger::internal {

namespace v1 = credledger::v1;

// blocks: u64 height -> Block without events (header and receipts)
inline std::string block_key(uint64_t height) {
  std::string k;
  put_u64(k, height);
  return k;
}

// events: u64 height || u32 index -> SignedEvent
inline std::string event_key(uint64_t height, uint32_t index) {
  std::string k;
  put_u64(k, height);
  put_u32(k, index);
  return k;
}

// index: 'i' event_id -> EventLocation of the accepted event
//        'r' event_id -> EventLocation of the latest rejected event with that id
//        'q' u64 sequence -> u64 height || u32 index
inline std::string accepted_id_key(std::string_view event_id) {
  return "i" + std::string(event_id);
}
inline std::string rejected_id_key(std::string_view event_id) {
  return "r" + std::string(event_id);
}
inline std::string sequence_key(uint64_t sequence) {
  std::string k = "q";
  put_u64(k, sequence);
  return k;
}

// merkle: u8 level || u64 index -> 32-byte hash of a perfect subtree
inline std::string merkle_key(uint32_t level, uint64_t index) {
  std::string k;
  put_u8(k, static_cast<uint8_t>(level));
  put_u64(k, index);
  return k;
}

// A subject's bytes in view keys: u8 kind || id. Ids have a fixed length per kind (18 or 64),
// so one subject's prefix never covers another subject.
inline std::string subject_bytes(const v1::Subject& subject) {
  std::string k;
  put_u8(k, static_cast<uint8_t>(subject.kind()));
  k += subject.id();
  return k;
}

// view: 's' subject || u64 sequence -> ViewEntry
//       'b' u8 sector || subject || u64 sequence -> "" (blacklist index of a sector)
inline std::string subject_prefix(const v1::Subject& subject) {
  return "s" + subject_bytes(subject);
}
inline std::string view_key(const v1::Subject& subject, uint64_t sequence) {
  std::string k = subject_prefix(subject);
  put_u64(k, sequence);
  return k;
}
inline std::string blacklist_prefix(v1::Sector sector) {
  std::string k = "b";
  put_u8(k, static_cast<uint8_t>(sector));
  return k;
}

// meta: "genesis" -> genesis state root; "head" -> BlockHeader of the applied head
constexpr std::string_view kMetaGenesis = "genesis";
constexpr std::string_view kMetaHead = "head";
// meta: "cursor" -> u64 log index of the owner's replicated log (node/: the Raft index)
constexpr std::string_view kMetaCursor = "cursor";

}  // namespace ledger::internal
