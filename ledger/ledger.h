// The ledger of one node: the block chain, the Merkle log of accepted events, the state machine
// that turns agreed block bodies into blocks, and the materialized view that answers queries.
//
// apply() is the state machine (DESIGN.md decision 4): given the same blocks in the same order
// every node computes the same receipts, roots and view. Each block is written as ONE atomic
// RocksDB WriteBatch (chain, events, index, Merkle nodes, view and applied head together), so a
// crash leaves the view neither ahead of nor behind the chain.
//
// Threads: apply() and apply_block() from one thread at a time. Queries may run concurrently
// with them from any thread; each sees the ledger before or after a whole block.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/db.h"
#include "ledger/merkle.h"
#include "ledger/validation.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

struct LedgerOptions {
  // fsync every block write. Off only for benchmarks of apply itself and for tests.
  bool sync_writes = true;
  // Skip RocksDB's write-ahead log: only for scratch ledgers that are thrown away on a crash
  // (the auditor's replay). REQUIRES: !sync_writes.
  bool disable_wal = false;
  // A scratch ledger that only replays blocks to check them (the auditor's): it keeps what the
  // rules read (the event index and the view) and the head, and skips what only queries and
  // proofs read (stored events and blocks, Merkle nodes, sequence and blacklist indexes).
  // Receipts, roots and headers come out exactly the same. Such a ledger answers no chain,
  // event or proof query and cannot be reopened. REQUIRES: disable_wal.
  bool replay_only = false;
};

// What a caller may hand apply() beyond the body, to save work it has already done.
struct ApplyInput {
  // Per event: the caller's signature verification result (a worker pool checked them).
  const std::vector<SignatureState>* signatures = nullptr;
  // Per event: event_hash() as the caller computed it. REQUIRES: exactly those hashes.
  const std::vector<Hash>* event_hashes = nullptr;
  // The owner's log position, recorded atomically with the block (see apply()).
  std::optional<uint64_t> log_index;
  // Copy the events into the returned Block (callers that keep the body need not).
  bool include_events = true;
};

struct EventRecord {
  v1::SignedEvent signed_event;
  v1::EventLocation location;          // height, index and receipt
  std::optional<v1::ViewEntry> entry;  // accepted events: as the view keeps it now
};

// A stored height whose bytes are wrong (ledger/integrity.cc).
struct Damage {
  uint64_t height = 0;
  // The block or its events are wrong: only a copy from another node can restore them. If
  // false, only Merkle nodes made by this block are wrong: they are recomputed from its events.
  bool block = false;
  std::string reason;  // what failed, naming the height (and the Merkle node)
};

struct ViewPage {
  std::vector<v1::ViewEntry> entries;
  std::string next_page_token;  // empty: no more
};

class Ledger {
 public:
  // Opens the ledger in `db`, writing block 0 if the database is new.
  // kInvalidArgument if the database was created for another genesis.
  static base::Result<std::unique_ptr<Ledger>> open(Database& db,
                                                    std::shared_ptr<const Consortium> consortium,
                                                    LedgerOptions options = {});
  ~Ledger();

  const Consortium& consortium() const { return *consortium_; }

  // The applied head (highest block) and its hash.
  v1::BlockHeader head() const;
  Hash head_hash() const;

  // ---- state machine ----

  // Validates and applies the next block body, returning the block it became (header, events,
  // receipts). `signatures`, if given, holds the caller's verification result per event (a
  // worker pool verified them); otherwise apply() verifies. The block timestamp is
  // max(body.timestamp_ms, head timestamp): it never decreases. Rejected events stay in the
  // block with their reason; they are not leaves of the Merkle log.
  // Errors are storage errors only (kIOError, kCorruption, kBusy for a full disk); on error
  // nothing was written and the ledger is unchanged.
  //
  // log_index, if given, is the owner's position in its replicated log (the Raft index of the
  // entry this block came from); it is recorded in the same atomic write as the block, so after
  // a crash cursor() says exactly which entries are already in the ledger.
  base::Result<v1::Block> apply(const v1::BlockBody& body,
                                const std::vector<SignatureState>* signatures = nullptr,
                                std::optional<uint64_t> log_index = std::nullopt);
  base::Result<v1::Block> apply(const v1::BlockBody& body, const ApplyInput& input);

  // The owner's log position recorded with the last block (or by set_cursor); 0 if none.
  uint64_t cursor() const;
  // Records a log position that produced no block (an empty or membership entry). Not synced:
  // losing it only means the owner skips that entry again after a restart.
  base::Status set_cursor(uint64_t log_index);

  // Applies a block made by another node (block sync, rebuild): re-runs the state machine on its
  // body and checks that every header field and receipt comes out the same. kCorruption naming
  // the first field that differs; kInvalidArgument if it is not the next height. On error
  // nothing is written.
  // log_index (0 = none) is recorded with the block and, as by apply(), in the same atomic
  // write as cursor(), which it advances (a lower log_index leaves the cursor where it is).
  base::Status apply_block(const v1::Block& block,
                           const std::vector<SignatureState>* signatures = nullptr,
                           uint64_t log_index = 0);

  // ---- chain ----

  base::Result<v1::BlockHeader> header(uint64_t height) const;
  // The whole block, checked on read: events must hash to the header's events root and the
  // header must link to its parent. kCorruption otherwise, naming the height.
  base::Result<v1::Block> block(uint64_t height) const;

  // ---- integrity (ledger/integrity.cc) ----

  // Re-checks what is stored for heights from..to (clamped to 1..head): every block as block()
  // reads it (events root, link to its parent, receipts against the state root), each receipt
  // against its event, the Merkle leaves of its accepted events and every Merkle node those
  // leaves complete, the Merkle root at the block's tree size, and the head record against the
  // head block. Returns the damaged heights in ascending order (at most `max_damages`); empty
  // means all is well. Errors are storage errors other than bad bytes (kIOError).
  // Any thread; sees each block before or after a concurrent apply.
  base::Result<std::vector<Damage>> verify_stored(uint64_t from, uint64_t to,
                                                  size_t max_damages = 100) const;

  // Restores damaged heights: `copies` holds, for each height whose block is damaged, the block
  // (header, events, receipts) as another node serves it. Each copy is accepted only if its
  // header hashes to what this node's own chain commits to at that height (the next block's
  // prev_hash, up to the head this node applied), its events give the header's events root,
  // and its receipts match its events; Merkle nodes of every damaged height are then recomputed
  // from the (restored) events. kCorruption naming the height if a copy does not verify or a
  // needed one is missing; nothing of that height is written then.
  // REQUIRES: the applying thread (nothing is applied concurrently).
  base::Status repair(const std::vector<Damage>& damages,
                      const std::map<uint64_t, v1::Block>& copies);

  // ---- events and proofs ----

  // kNotFound if no event with that id was ever in a block.
  base::Result<EventRecord> event(const std::string& event_id) const;
  // The accepted event that is leaf `sequence` of the Merkle log.
  base::Result<v1::SignedEvent> event_at_sequence(uint64_t sequence) const;
  const MerkleNodeReader& merkle() const;

  // ---- view ----

  // Every view answer is on two time axes (ledger/scoring.h): as_of_ms is the effective time
  // asked about, at_height the ledger height whose record answers (0 = the applied head; a
  // checkpoint's height is a ledger height). An answer at a height is what the view said once
  // that block was applied: later events, and what they did to earlier entries, do not count.
  // kUnavailable if at_height is above this ledger's head (not applied here yet).

  // Status of a subject at as_of_ms (Unix ms), with score, grade and explanation; its height()
  // is the height it reflects.
  base::Result<v1::SubjectStatus> status(const v1::Subject& subject, int64_t as_of_ms,
                                         uint64_t at_height = 0) const;
  // A subject's accepted events in sequence order.
  base::Result<ViewPage> history(const v1::Subject& subject, const std::string& page_token,
                                 size_t limit, uint64_t at_height = 0) const;
  // Blacklist entries of a sector active at as_of_ms, ordered by subject then sequence.
  base::Result<ViewPage> blacklist(v1::Sector sector, int64_t as_of_ms,
                                   const std::string& page_token, size_t limit,
                                   uint64_t at_height = 0) const;

 private:
  class MerkleReader;
  struct Overlay;

  Ledger(Database& db, std::shared_ptr<const Consortium> consortium, LedgerOptions options);
  base::Status load();
  base::Result<v1::Block> build_block(const v1::BlockBody& body, const ApplyInput& input,
                                      rocksdb::WriteBatch& batch,
                                      MerkleFrontier& frontier) const;
  base::Result<std::optional<v1::EventLocation>> find_location(const std::string& key) const;
  base::Result<std::optional<v1::ViewEntry>> read_view_entry(const std::string& key) const;
  // kUnavailable if at_height is above the applied head (0 = the head is always fine).
  base::Status check_height(uint64_t at_height) const;
  // entry_at_height (ledger/scoring.h), looking up the events that acted on it in the index.
  base::Result<std::optional<v1::ViewEntry>> entry_at_height_from_index(const v1::ViewEntry& entry,
                                                                        uint64_t at_height) const;
  base::Status write(rocksdb::WriteBatch& batch, const std::string& what);
  // The Merkle damage of a readable block at `height`, if any (integrity.cc).
  base::Result<std::optional<std::string>> check_merkle(const v1::Block& block) const;

  Database& db_;
  std::shared_ptr<const Consortium> consortium_;
  LedgerOptions options_;
  rocksdb::ColumnFamilyHandle* blocks_cf_;
  rocksdb::ColumnFamilyHandle* events_cf_;
  rocksdb::ColumnFamilyHandle* index_cf_;
  rocksdb::ColumnFamilyHandle* merkle_cf_;
  rocksdb::ColumnFamilyHandle* view_cf_;
  rocksdb::ColumnFamilyHandle* meta_cf_;
  std::unique_ptr<MerkleReader> merkle_reader_;

  // Owned by the applying thread; read by queries under head_mutex_.
  MerkleFrontier frontier_;
  mutable std::mutex head_mutex_;
  v1::BlockHeader head_;  // GUARDED_BY(head_mutex_)
  Hash head_hash_{};      // GUARDED_BY(head_mutex_)
  uint64_t cursor_ = 0;   // GUARDED_BY(head_mutex_)
};

}  // namespace ledger
