// Checkpoints: a C2SP tlog-checkpoint signed note, cosigned by the agencies' nodes in the C2SP
// tlog-cosignature/v1 form, so that transparency-log witnesses and verifiers can read them.
//
// Note body (ledger/FORMAT.md, "Checkpoints"), seven lines, each ending in "\n":
//   credledger/<consortium_id>         origin
//   <tree size>                        decimal, no leading zeros
//   <root hash>                        standard base64 (with padding) of the 32-byte Merkle root
//   height <decimal>                   extension lines, exactly these four, in this order
//   block-hash <64 lowercase hex>
//   state-root <64 lowercase hex>
//   timestamp-ms <decimal Unix ms>     the block's timestamp
// Then one blank line and one or more signature lines:
//   "— " <key name> " " base64(key ID[4] || u64be timestamp_s || Ed25519 signature[64]) "\n"
// key name = the agency key_id from the genesis, key ID = SHA-256(name || "\n" || 0x04 ||
// public key)[:4], and the signature is over "cosignature/v1\ntime <timestamp_s>\n" || body.
//
// A checkpoint is trusted when distinct agencies holding at least floor(n/2)+1 of the n genesis
// agencies cosigned it validly. Signatures of unknown keys are ignored (as C2SP requires) but
// reported; a signature of a known key that fails makes the whole checkpoint invalid.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

class Ledger;

constexpr std::string_view kCheckpointOriginPrefix = "credledger/";
constexpr std::string_view kCosignatureHeader = "cosignature/v1";
constexpr uint8_t kCosignatureType = 0x04;  // C2SP signed-note type: timestamped Ed25519
constexpr size_t kNoteSignaturesMax = 100;  // C2SP requires at least 16
constexpr size_t kNoteBytesMax = 64 << 10;

// "credledger/" + consortium id.
std::string checkpoint_origin(std::string_view consortium_id);

// The checkpoint of the block at `height` of a ledger.
base::Result<v1::Checkpoint> checkpoint_at(const Ledger& ledger, uint64_t height);

// The note body above. REQUIRES: root_hash, block_hash and state_root are 32 bytes; origin is
// non-empty, without "\n".
std::string format_checkpoint_body(std::string_view origin, const v1::Checkpoint& checkpoint);

struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::string signature;  // the bytes after the key ID (cosignature: u64be time || sig[64])
};

struct SignedNote {
  std::string body;  // ends with "\n"; excludes the blank separator line
  std::vector<NoteSignature> signatures;
};

// Strict C2SP signed-note parsing: valid UTF-8, no control characters but "\n", a blank line
// before one or more well-formed signature lines, at most kNoteSignaturesMax of them.
// kInvalidArgument saying which line is wrong and why.
base::Result<SignedNote> parse_signed_note(std::string_view text);
std::string format_signed_note(const SignedNote& note);

struct ParsedCheckpoint {
  std::string origin;
  v1::Checkpoint checkpoint;
};
// Strict parse of the seven-line body. kInvalidArgument naming the line.
base::Result<ParsedCheckpoint> parse_checkpoint_body(std::string_view body);

// A checkpoint with its note: what cp.json files and GetCheckpoint carry.
struct CosignedCheckpoint {
  std::string origin;
  v1::Checkpoint checkpoint;
  SignedNote note;

  std::string text() const { return format_signed_note(note); }
};

// Parses a full signed checkpoint note (body and signatures). Cosignatures are not verified.
base::Result<CosignedCheckpoint> parse_checkpoint_note(std::string_view text);

// key ID = SHA-256(name || "\n" || 0x04 || public_key)[:4], big-endian.
uint32_t cosignature_key_id(std::string_view name, std::string_view public_key);
// "cosignature/v1\ntime <timestamp_s>\n" || body.
std::string cosignature_message(std::string_view body, uint64_t timestamp_s);
// Key names must be non-empty, without spaces, "+" or control characters.
bool valid_note_key_name(std::string_view name);

// A checkpoint with no signatures yet, ready for cosign().
CosignedCheckpoint make_checkpoint(std::string_view origin, const v1::Checkpoint& checkpoint);

// Adds (or replaces) the cosignature of `key` (name = key.key_id). kInvalidArgument if the key
// id cannot be a note key name or timestamp_s exceeds 2^63-1.
base::Status cosign(CosignedCheckpoint& checkpoint, const KeyFile& key, uint64_t timestamp_s);

struct CosignatureCheck {
  enum class Outcome { kValid, kInvalid, kUnknownKey };
  std::string name;
  uint32_t key_id = 0;
  uint64_t timestamp_s = 0;  // 0 if the signature is too short to hold one
  Outcome outcome = Outcome::kUnknownKey;
  std::string agency;  // known keys: the agency holding the key
  std::string detail;  // why it is invalid or unknown
};
std::string_view outcome_name(CosignatureCheck::Outcome outcome);

struct QuorumReport {
  std::string expected_origin;
  bool origin_ok = false;
  std::vector<CosignatureCheck> signatures;  // in note order
  std::vector<std::string> signer_agencies;  // distinct agencies with a valid cosignature, sorted
  size_t agency_count = 0;                   // n: agencies in the genesis
  size_t quorum = 0;                         // floor(n/2) + 1

  size_t invalid_count() const;
  size_t unknown_count() const;
  // Origin right, no invalid signature of a known key, and a quorum of distinct agencies.
  bool trusted() const;
  // Ok if trusted(); otherwise kCorruption saying exactly why.
  base::Status status() const;
};

// Checks every signature line against the consortium's keys.
QuorumReport verify_cosignatures(const Consortium& consortium, const CosignedCheckpoint& checkpoint);

// cp.json: {"note": "<signed note>", "origin", "tree_size", "root_hash" (hex), "height",
// "block_hash" (hex), "state_root" (hex), "timestamp_ms", "time" (UTC), "cosigners": [{"name",
// "key_id" (8 hex), "timestamp"}]}. Only "note" is authoritative; when read, every decoded field
// that is present must agree with the note (a human must not be misled), else kInvalidArgument.
std::string checkpoint_to_json(const CosignedCheckpoint& checkpoint);
base::Result<CosignedCheckpoint> checkpoint_from_json(std::string_view json);

}  // namespace ledger
