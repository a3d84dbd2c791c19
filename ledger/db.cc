#include "ledger/db.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

namespace ledger {

namespace {
const char* const kLedgerFamilies[] = {"blocks", "events", "index", "merkle", "view", "meta"};
}

base::Status from_rocks(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return base::Status::ok();
  std::string msg = std::string(context) + ": " + status.ToString();
  if (status.IsNotFound()) return base::Status::not_found(std::move(msg));
  if (status.IsCorruption()) return base::Status::corruption(std::move(msg));
  if (status.IsInvalidArgument()) return base::Status::invalid_argument(std::move(msg));
  if (status.IsBusy() || status.IsTryAgain()) return base::Status::busy(std::move(msg));
  if (status.IsNoSpace()) return base::Status::busy(std::move(msg));
  return base::Status::io_error(std::move(msg));
}

base::Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                       const Options& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // A torn record at the end of the WAL is a crash mid-write: drop it. Damage anywhere else
  // fails the open instead of quietly dropping synced, acknowledged writes after it.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Bounds what an open must replay after a crash: past this much live WAL, RocksDB flushes the
  // column families that pin the oldest log. (A node with a million events restarted in 4 s,
  // nearly all of it replaying ~1 GB of WAL into memtables.)
  db_options.max_total_wal_size = 256ull << 20;
  // After a write fails for lack of space the owner decides when to Resume() (node/ does once
  // space returns); RocksDB's own retry loop would try every second while the disk is still
  // full, through a log writer that has already failed.
  db_options.max_bgerror_resume_count = 0;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const char* name : kLedgerFamilies) descriptors.emplace_back(name, cf_options);
  for (const std::string& name : options.extra_column_families) {
    descriptors.emplace_back(name, cf_options);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return from_rocks(s, "open database " + path);

  std::unique_ptr<Database> out(new Database());
  out->path_ = path;
  out->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    out->handles_[descriptors[i].name] = handles[i];
  }
  return out;
}

Database::~Database() {
  if (!db_) return;
  // A clean close leaves nothing in the WAL to replay, so the next open is quick. Failure only
  // costs that replay.
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (auto& [name, handle] : handles_) all.push_back(handle);
  rocksdb::FlushOptions flush;
  flush.wait = true;
  (void)db_->Flush(flush, all);
  for (auto& [name, handle] : handles_) {
    (void)db_->DestroyColumnFamilyHandle(handle);
  }
  (void)db_->Close();
}

rocksdb::ColumnFamilyHandle* Database::cf(const std::string& name) const {
  auto it = handles_.find(name);
  LEDGER_ASSERT(it != handles_.end());
  return it->second;
}

}  // namespace ledger
