// The auditor's verifier core (credaudit): replays an exported chain from genesis and checks
// every byte of it; inclusion and consistency proof files; fork evidence between checkpoints.
//
// verify_chain() trusts nothing in the export. For each block, in order, it checks:
//   height       the next height (the export starts at block 0, the genesis header);
//   prev_hash    the hash of the previous header (the hash link);
//   event_count, receipt count, and per event: receipt.event_hash / height / index;
//   signature    an event the block says was accepted must carry a valid signature of a
//                genesis key (all signatures are verified on a worker pool, ahead of apply);
//   events_root  over the events' leaf hashes;
//   then it re-runs the state machine (Ledger::apply in a fresh temporary RocksDB, with the
//   pool's signature results) and compares every receipt (accepted, sequence, reason, event_id,
//   message) and header field (timestamp_ms, first_sequence, accepted_count, tree_size,
//   merkle_root, state_root) with what the block says;
//   checkpoint   at the checkpoint's height: tree size, root, block hash, state root, time.
// It stops at the first failure and says where (height, event index, export byte offset),
// which check, what the export says (expected) and what replay or hashing gives (found).
//
// Threads: verify_chain() runs a reader thread, `verify_threads` signature workers and applies
// on the calling thread; the pipeline between them holds at most events_in_flight_max events.
// Every other function here is pure and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "ledger/checkpoint.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

class Ledger;

struct AuditFailure {
  std::string check;                     // "prev_hash", "signature", "receipt", "state_root", ...
  std::optional<uint64_t> height;        // block where it failed
  std::optional<uint32_t> event_index;   // event within the block, when the check is per event
  std::optional<uint64_t> byte_offset;   // export offset of the block's record
  std::string expected;                  // what the export (or checkpoint) says
  std::string found;                     // what hashing or replay gives
  std::string detail;                    // one sentence for humans

  std::string to_string() const;
};

struct AgencyCounts {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
};

struct AuditSummary {
  uint64_t blocks = 0;  // verified blocks, block 0 included
  uint64_t events = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  // By the agency of the signing key; "(unknown key)" for keys outside the genesis.
  std::map<std::string, AgencyCounts> agencies;
  std::map<std::string, uint64_t> rejection_reasons;  // RejectReason name -> count
  int64_t first_timestamp_ms = 0;                      // of block 1 (0 if none)
  int64_t last_timestamp_ms = 0;
  v1::Checkpoint head;       // of the last verified block
  uint64_t export_bytes = 0;
  double elapsed_s = 0;
  unsigned verify_threads = 0;
  bool checkpoint_checked = false;  // a checkpoint was given and matched the replayed chain
  std::optional<QuorumReport> checkpoint_quorum;
};

struct AuditProgress {
  uint64_t height = 0;
  uint64_t events = 0;
  uint64_t bytes = 0;
  double elapsed_s = 0;
};

struct AuditOptions {
  unsigned verify_threads = 0;            // 0: std::thread::hardware_concurrency()
  size_t events_in_flight_max = 1 << 16;  // read and verified ahead of apply
  size_t blocks_in_flight_max = 1 << 12;
  size_t verify_chunk_events = 64;        // events per worker task
  // The replay database lives (and is removed) here; the directory is made if missing.
  std::string work_dir = "/tmp";
  const CosignedCheckpoint* checkpoint = nullptr;  // also check this one; must outlive the call
  // Called on the calling thread about every progress_interval_s.
  std::function<void(const AuditProgress&)> on_progress;
  double progress_interval_s = 1.0;
};

struct AuditResult {
  base::Status status;                  // not ok: the audit could not run (I/O, temp database)
  std::optional<AuditFailure> failure;  // set: the chain does not verify
  AuditSummary summary;

  bool ok() const { return status.is_ok() && !failure.has_value(); }
};

AuditResult verify_chain(std::shared_ptr<const Consortium> consortium, std::istream& chain,
                         const AuditOptions& options = {});

// ---- proofs (RFC 6962 / 9162; leaf data is event_leaf_data(), ledger/FORMAT.md) ----

struct InclusionProof {
  uint64_t leaf_index = 0;
  uint64_t tree_size = 0;
  std::string leaf_data;    // the leaf bytes; leaf hash = SHA-256(0x00 || leaf_data)
  std::vector<Hash> path;   // RFC 6962 PATH, leaf side first
  CosignedCheckpoint checkpoint;
};

struct ConsistencyProof {
  uint64_t old_size = 0;
  uint64_t new_size = 0;
  std::vector<Hash> path;   // RFC 6962 PROOF
  CosignedCheckpoint old_checkpoint;
  CosignedCheckpoint new_checkpoint;
};

// Proof that Merkle leaf `sequence` is in the tree of `checkpoint` (whose tree size the ledger
// must have reached). kInvalidArgument if sequence >= the checkpoint's tree size.
base::Result<InclusionProof> make_inclusion_proof(const Ledger& ledger, uint64_t sequence,
                                                  const CosignedCheckpoint& checkpoint);
base::Result<ConsistencyProof> make_consistency_proof(const Ledger& ledger,
                                                      const CosignedCheckpoint& old_checkpoint,
                                                      const CosignedCheckpoint& new_checkpoint);

// proof.json files:
//   {"format": "credledger-inclusion-proof/v1", "leaf_index", "tree_size", "root" (hex),
//    "leaf_data" (base64), "leaf_hash" (hex), "event_id", "key_id", "path": [hex...],
//    "checkpoint": {cp.json}}
//   {"format": "credledger-consistency-proof/v1", "old_size", "new_size", "old_root" (hex),
//    "new_root" (hex), "path": [hex...], "old_checkpoint": {cp.json}, "new_checkpoint": {cp.json}}
// The top-level sizes and roots are for generic RFC 6962 verifiers; the checkpoint notes are
// the authority. Reading is strict: kInvalidArgument naming the field. Sizes must equal the
// notes' tree sizes and roots (optional when reading) their roots; informational fields
// (leaf_hash, event_id, key_id) must agree with the leaf data when present; hex is read in
// either case; an old checkpoint of size 0 must have the empty tree's root, SHA-256("").
std::string inclusion_proof_to_json(const InclusionProof& proof);
base::Result<InclusionProof> inclusion_proof_from_json(std::string_view json);
std::string consistency_proof_to_json(const ConsistencyProof& proof);
base::Result<ConsistencyProof> consistency_proof_from_json(std::string_view json);

// Splits event leaf data back into the signed event. kInvalidArgument if malformed.
base::Result<v1::SignedEvent> parse_event_leaf_data(std::string_view leaf_data);

// Verifies an inclusion proof against a checkpoint (the proof's own unless the caller passes
// one it trusts): the checkpoint's cosignatures reach a quorum, sizes agree, the leaf hashes to
// the path's root, and the leaf is an event signed by a genesis key. kCorruption saying which.
base::Status verify_inclusion_proof(const Consortium& consortium, const InclusionProof& proof,
                                    const CosignedCheckpoint& checkpoint);
// Verifies that `newer` extends `older`: both trusted, sizes match the proof, proof verifies
// (from size 0: the old root is SHA-256(""), the proof empty).
base::Status verify_consistency_proof(const Consortium& consortium, const ConsistencyProof& proof,
                                      const CosignedCheckpoint& older,
                                      const CosignedCheckpoint& newer);

// ---- fork and rewrite detection ----

struct ForkEvidence {
  // "same-size-different-root", "same-height-different-block", "shrinking-tree" (a higher
  // block with a smaller tree), or "inconsistent" (the consistency proof between them fails).
  std::string kind;
  std::string description;
  CosignedCheckpoint first;
  CosignedCheckpoint second;
  std::vector<std::string> first_signers;   // agencies with valid cosignatures
  std::vector<std::string> second_signers;
  std::vector<std::string> signed_both;     // agencies that signed both: they equivocated
};

// Compares two checkpoints of one consortium (in either order). `proof`, if given, is a
// consistency proof from the smaller to the larger tree. nullopt: no evidence of a fork.
std::optional<ForkEvidence> detect_fork(const Consortium& consortium, const CosignedCheckpoint& a,
                                        const CosignedCheckpoint& b,
                                        const ConsistencyProof* proof = nullptr);
std::string fork_evidence_to_json(const ForkEvidence& evidence);

}  // namespace ledger
