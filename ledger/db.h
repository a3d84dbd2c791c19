// One RocksDB per node (DESIGN.md decision 5), opened with every column family the node uses.
//
// The ledger owns "blocks", "events", "index", "merkle", "view" and "meta"; other components
// name theirs in Options::extra_column_families (the Raft log store uses "raft_log" and
// "raft_state"). Handles stay valid for the Database's lifetime.
#pragma once

#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace ledger {

// Translates a RocksDB status into ours, with context ("write block 12").
base::Status from_rocks(const rocksdb::Status& status, std::string_view context);

class Database {
 public:
  struct Options {
    bool create_if_missing = true;
    size_t block_cache_bytes = 64 << 20;
    std::vector<std::string> extra_column_families;
  };

  static base::Result<std::unique_ptr<Database>> open(const std::string& path,
                                                       const Options& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  // REQUIRES: name was opened (a ledger family or one of extra_column_families).
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;
  const std::string& path() const { return path_; }

 private:
  Database() = default;
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace ledger
