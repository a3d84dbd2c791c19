// RocksLogStorage: the durable Raft log on RocksDB, in two column families of the node's one
// database (DESIGN.md, decision 5).
//
// Two ways to get one:
//  - attach(): on a database the caller owns (node/ opens one RocksDB with every column
//    family). The caller keeps the DB and both handles alive for the store's whole life and
//    destroys the store first.
//  - open(path): opens (or creates) a database of its own holding the two column families;
//    for tests and standalone tools. The store owns it and closes it when destroyed.
//
// Every write is one synced WriteBatch (WriteOptions::sync): when a write returns ok it is on
// disk, and a crash leaves either all of it or none of it. Hard state, membership, first and
// last index and the compaction point are cached in memory and loaded (and checked) when the
// store is created; entries are read from RocksDB.
//
// Errors: kCorruption when stored bytes fail their checksum or do not fit together (a missing
// entry, an entry under the wrong key, a gap at either end of the log); kIOError (or the
// translated RocksDB code) when RocksDB fails. After a failed write the cached state is the
// state of the last write that succeeded, but the disk may hold either; the owner should treat
// a failed write as fatal for the node and re-create the store from disk. Violated REQUIRES
// clauses and broken Raft invariants stop the process (LEDGER_ASSERT), as in MemoryLogStorage.
//
// On-disk format (all integers in values little-endian, version byte currently 1):
//   raft log column family, nothing else in it:
//     key   = index as 8 bytes big-endian (iteration order is index order)
//     value = crc32c:4 | version:1 | term:8 | type:1 | data
//   raft state column family (may be shared; our keys start with "raft/"):
//     "raft/hard_state"       value = crc32c:4 | version:1 | term:8 | vote:8 | commit:8
//     "raft/membership"       value = crc32c:4 | version:1 | membership
//     "raft/compaction_point" value = crc32c:4 | version:1 | index:8 | term:8 | membership
//   membership = voter_count:4 | voter:8 * voter_count | learner_count:4 | learner:8 * ...
//   crc32c covers the key bytes followed by the value after the crc field, so a record copied
//   under another key also fails its check.
//
// Thread: one thread at a time, like every LogStorage.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "consensus/log_storage.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
struct DBOptions;
}  // namespace rocksdb

namespace consensus {

class RocksLogStorage final : public LogStorage {
 public:
  // Column family names open() uses, and that node/ should use for its own database.
  static constexpr std::string_view kLogColumnFamily = "raft_log";
  static constexpr std::string_view kStateColumnFamily = "raft_state";

  // Loads the store kept in log_cf/state_cf of db, or, if both hold none of it, creates a fresh
  // one (hard state zero, compaction point {0, 0, initial_membership}) with one synced write.
  // initial_membership is ignored when a store exists. kCorruption if what is stored is
  // inconsistent; a RocksDB error is translated.
  // kInvalidArgument if db would drop damaged WAL records quietly on recovery (see
  // set_db_options()).
  // REQUIRES: db, log_cf and state_cf are not null, log_cf != state_cf, initial_membership is
  // well formed. db and both handles outlive the returned store.
  static base::Result<std::unique_ptr<RocksLogStorage>> attach(
      rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf, rocksdb::ColumnFamilyHandle* state_cf,
      const Membership& initial_membership);

  // Sets what the store needs of a database: on recovery only a torn last WAL record may be
  // dropped (kTolerateCorruptedTailRecords). RocksDB's default, kPointInTimeRecovery, stops
  // replay quietly at a damaged record and would lose synced, acknowledged writes after it.
  // node/ calls this on the options of its one database.
  static void set_db_options(rocksdb::DBOptions* options);

  // Opens the database at `path` (creating it and the two column families if missing) and
  // attaches to it. kIOError (or the translated RocksDB code) if it cannot be opened, e.g. it
  // is already open in this or another process.
  static base::Result<std::unique_ptr<RocksLogStorage>> open(const std::string& path,
                                                             const Membership& initial_membership);

  ~RocksLogStorage() override;
  RocksLogStorage(const RocksLogStorage&) = delete;
  RocksLogStorage& operator=(const RocksLogStorage&) = delete;

  HardState hard_state() const override;
  CompactionPoint compaction_point() const override;
  Membership membership() const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  // Reads one entry, except at the compaction point and the last index (cached).
  base::Result<uint64_t> term(uint64_t index) const override;
  base::Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi,
                                           uint64_t max_bytes) const override;

  base::Status append(const std::vector<Entry>& entries) override;
  base::Status set_hard_state(const HardState& state) override;
  base::Status set_membership(const Membership& membership) override;
  base::Status compact(uint64_t index, const Membership& membership) override;
  base::Status reset(const CompactionPoint& point) override;

 private:
  RocksLogStorage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf,
                  rocksdb::ColumnFamilyHandle* state_cf);

  // Reads the stored state into the caches, or writes a fresh store.
  base::Status load(const Membership& initial_membership);
  // Reads and checks the entry at index; kCorruption if it is missing or bad.
  base::Result<Entry> read_entry(uint64_t index) const;

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* log_cf_;
  rocksdb::ColumnFamilyHandle* state_cf_;

  // Set only by open(): what the destructor closes (handles first, then the database).
  std::unique_ptr<rocksdb::DB> owned_db_;
  std::vector<rocksdb::ColumnFamilyHandle*> owned_handles_;

  // Caches of what is on disk. Invariants: last_index_ >= point_.index; the log column family
  // holds exactly the keys point_.index + 1 ..= last_index_; last_term_ is the term at
  // last_index_ (point_.term when the log is empty).
  HardState hard_state_;
  Membership membership_;
  CompactionPoint point_;
  uint64_t last_index_ = 0;
  uint64_t last_term_ = 0;
};

}  // namespace consensus
