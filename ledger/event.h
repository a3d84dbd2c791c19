// Signed credit events: signing, the canonical leaf bytes and the event hash.
//
// An event is serialized once by its issuer; those payload bytes are what is signed, hashed,
// stored and sent, verbatim, forever (ledger/FORMAT.md). Nothing is re-serialized to be verified.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "ledger/crypto.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

// Domain prefix of the Merkle leaf data of an event.
constexpr std::string_view kEventLeafDomain = "credledger/event-leaf/v1";

// Serializes `event` and signs the bytes with the key. The returned SignedEvent holds the exact
// payload that was signed.
v1::SignedEvent sign_event(const v1::CreditEvent& event, std::string_view key_id,
                           std::string_view secret_key);

// Leaf data of an event in the Merkle log:
//   "credledger/event-leaf/v1" 0x00 || u32be(len key_id) || key_id
//   || u32be(len payload) || payload || u32be(len signature) || signature
std::string event_leaf_data(const v1::SignedEvent& event);
// merkle_leaf_hash(event_leaf_data(event)): the event's identity on the chain.
Hash event_hash(const v1::SignedEvent& event);

// Parses payload bytes. kInvalidArgument if they are not a CreditEvent.
base::Result<v1::CreditEvent> parse_event_payload(std::string_view payload);

// Appends fixed-width big-endian integers (the canonical encodings use only these).
void put_u8(std::string& out, uint8_t v);
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
uint64_t get_u64(std::string_view in);  // REQUIRES: in.size() >= 8
uint32_t get_u32(std::string_view in);  // REQUIRES: in.size() >= 4

}  // namespace ledger
