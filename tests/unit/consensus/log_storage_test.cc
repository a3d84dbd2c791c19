// The LogStorage contract, checked on both implementations: every behaviour test is a
// TEMPLATE_TEST_CASE over a small fixture for MemoryLogStorage and one for RocksLogStorage
// (which reopens the database where the test asks). RocksDB-only cases reopen after every kind
// of write, flip stored bytes and remove records and expect kCorruption, and replay seeded
// random operation sequences against MemoryLogStorage as the model, reopening in between.
#include "consensus/log_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "consensus/internal/crc32c.h"
#include "consensus/memory_log_storage.h"
#include "consensus/rocks_log_storage.h"

namespace consensus {
namespace {

namespace fs = std::filesystem;

// A fresh directory under /tmp, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "credledger-storage-XXXXXX").string();
    const char* made = ::mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Membership three_voters() { return Membership{{1, 2, 3}, {}}; }

Entry make_entry(uint64_t index, uint64_t term, std::string data = "",
                 EntryType type = EntryType::kNormal) {
  return Entry{index, term, type, std::move(data)};
}

// Entries lo..hi (inclusive), all of `term`, data "e<index>".
std::vector<Entry> make_entries(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t index = lo; index <= hi; ++index) {
    out.push_back(make_entry(index, term, "e" + std::to_string(index)));
  }
  return out;
}

struct MemoryFixture {
  static constexpr bool kDurable = false;
  explicit MemoryFixture(Membership initial = three_voters())
      : storage_(std::make_unique<MemoryLogStorage>(std::move(initial))) {}
  LogStorage& storage() { return *storage_; }
  void reopen() {}

  std::unique_ptr<MemoryLogStorage> storage_;
};

struct RocksFixture {
  static constexpr bool kDurable = true;
  explicit RocksFixture(Membership initial = three_voters()) : initial_(std::move(initial)) {
    reopen();
  }
  LogStorage& storage() { return *storage_; }
  // Closes the database and loads the store again from disk.
  void reopen() {
    storage_.reset();
    auto opened = RocksLogStorage::open(dir_.path(), initial_);
    INFO(opened.status().to_string());
    REQUIRE(opened.is_ok());
    storage_ = std::move(opened).value();
  }

  TempDir dir_;
  Membership initial_;
  std::unique_ptr<RocksLogStorage> storage_;
};

// Everything a reader can see of a store, to compare two stores or a store with itself.
struct Observed {
  HardState hard_state;
  CompactionPoint point;
  Membership membership;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  std::vector<Entry> log;  // first_index..last_index

  bool operator==(const Observed&) const = default;
};

Observed observe(const LogStorage& storage) {
  Observed out;
  out.hard_state = storage.hard_state();
  out.point = storage.compaction_point();
  out.membership = storage.membership();
  out.first_index = storage.first_index();
  out.last_index = storage.last_index();
  auto log = storage.entries(out.first_index, out.last_index + 1, UINT64_MAX);
  INFO(log.status().to_string());
  REQUIRE(log.is_ok());
  out.log = std::move(log).value();
  for (const Entry& entry : out.log) {
    auto term = storage.term(entry.index);
    REQUIRE(term.is_ok());
    REQUIRE(*term == entry.term);
  }
  return out;
}

// ---- behaviour, both implementations ----

TEMPLATE_TEST_CASE("a fresh store is empty at zero with the initial membership",
                   "[consensus][storage]", MemoryFixture, RocksFixture) {
  TestType fixture(Membership{{1, 2}, {5}});
  for (int round = 0; round < 2; ++round) {
    LogStorage& storage = fixture.storage();
    CHECK(storage.hard_state() == HardState{});
    CHECK(storage.compaction_point() == CompactionPoint{0, 0, Membership{{1, 2}, {5}}});
    CHECK(storage.membership() == Membership{{1, 2}, {5}});
    CHECK(storage.first_index() == 1);
    CHECK(storage.last_index() == 0);
    auto term0 = storage.term(0);
    REQUIRE(term0.is_ok());
    CHECK(*term0 == 0);
    CHECK(storage.term(1).status().code() == base::Code::kNotFound);
    auto none = storage.entries(1, 1, 100);
    REQUIRE(none.is_ok());
    CHECK(none->empty());
    fixture.reopen();
  }
}

TEMPLATE_TEST_CASE("appended entries read back exactly", "[consensus][storage]", MemoryFixture,
                   RocksFixture) {
  TestType fixture;
  std::vector<Entry> written = {
      make_entry(1, 1, ""),
      make_entry(2, 1, std::string("a\0b\xff", 4)),
      make_entry(3, 2, "conf", EntryType::kConfChange),
  };
  REQUIRE(fixture.storage().append(written).is_ok());
  REQUIRE(fixture.storage().append({make_entry(4, 3, "x")}).is_ok());
  written.push_back(make_entry(4, 3, "x"));
  fixture.reopen();
  LogStorage& storage = fixture.storage();
  CHECK(storage.first_index() == 1);
  CHECK(storage.last_index() == 4);
  auto read = storage.entries(1, 5, UINT64_MAX);
  REQUIRE(read.is_ok());
  CHECK(*read == written);
  for (const Entry& entry : written) CHECK(*storage.term(entry.index) == entry.term);
  auto middle = storage.entries(2, 4, UINT64_MAX);
  REQUIRE(middle.is_ok());
  CHECK(*middle == std::vector<Entry>(written.begin() + 1, written.begin() + 3));
}

TEMPLATE_TEST_CASE("an empty append changes nothing", "[consensus][storage]", MemoryFixture,
                   RocksFixture) {
  TestType fixture;
  REQUIRE(fixture.storage().append(make_entries(1, 3, 1)).is_ok());
  const Observed before = observe(fixture.storage());
  REQUIRE(fixture.storage().append({}).is_ok());
  fixture.reopen();
  CHECK(observe(fixture.storage()) == before);
}

TEMPLATE_TEST_CASE("append truncates the conflicting suffix", "[consensus][storage]", MemoryFixture,
                   RocksFixture) {
  TestType fixture;
  REQUIRE(fixture.storage().append(make_entries(1, 6, 1)).is_ok());

  SECTION("shorter replacement drops the rest") {
    REQUIRE(fixture.storage().append(make_entries(3, 4, 2)).is_ok());
    fixture.reopen();
    LogStorage& storage = fixture.storage();
    CHECK(storage.last_index() == 4);
    CHECK(*storage.term(2) == 1);
    CHECK(*storage.term(3) == 2);
    CHECK(*storage.term(4) == 2);
    CHECK(storage.term(5).status().code() == base::Code::kNotFound);
    auto read = storage.entries(1, 5, UINT64_MAX);
    REQUIRE(read.is_ok());
    std::vector<Entry> expected = make_entries(1, 2, 1);
    for (const Entry& entry : make_entries(3, 4, 2)) expected.push_back(entry);
    CHECK(*read == expected);
  }
  SECTION("longer replacement overwrites and extends") {
    REQUIRE(fixture.storage().append(make_entries(5, 9, 3)).is_ok());
    fixture.reopen();
    CHECK(fixture.storage().last_index() == 9);
    CHECK(*fixture.storage().term(4) == 1);
    CHECK(*fixture.storage().term(5) == 3);
    CHECK(*fixture.storage().term(9) == 3);
  }
  SECTION("replacing from the first index replaces everything") {
    REQUIRE(fixture.storage().append(make_entries(1, 2, 4)).is_ok());
    fixture.reopen();
    CHECK(fixture.storage().last_index() == 2);
    auto read = fixture.storage().entries(1, 3, UINT64_MAX);
    REQUIRE(read.is_ok());
    CHECK(*read == make_entries(1, 2, 4));
  }
}

TEMPLATE_TEST_CASE("entries honours the byte limit and returns at least one entry",
                   "[consensus][storage]", MemoryFixture, RocksFixture) {
  TestType fixture;
  // Data sizes 10, 20, 30, 40, 0, 0.
  std::vector<Entry> written;
  for (uint64_t index = 1; index <= 4; ++index) {
    written.push_back(make_entry(index, 1, std::string(10 * index, 'a')));
  }
  written.push_back(make_entry(5, 1, ""));
  written.push_back(make_entry(6, 1, ""));
  REQUIRE(fixture.storage().append(written).is_ok());
  fixture.reopen();
  LogStorage& storage = fixture.storage();
  auto count = [&](uint64_t lo, uint64_t hi, uint64_t max_bytes) {
    auto read = storage.entries(lo, hi, max_bytes);
    REQUIRE(read.is_ok());
    for (size_t i = 0; i < read->size(); ++i) REQUIRE((*read)[i] == written[lo - 1 + i]);
    return read->size();
  };
  CHECK(count(1, 7, 0) == 1);  // one entry even when it alone is too big
  CHECK(count(4, 7, 0) == 1);
  CHECK(count(5, 7, 0) == 2);  // empty entries cost nothing
  CHECK(count(1, 7, 9) == 1);
  CHECK(count(1, 7, 10) == 1);
  CHECK(count(1, 7, 29) == 1);
  CHECK(count(1, 7, 30) == 2);  // exactly fits
  CHECK(count(1, 7, 59) == 2);
  CHECK(count(1, 7, 60) == 3);
  CHECK(count(1, 7, 100) == 6);   // then the two empty ones
  CHECK(count(2, 4, 1000) == 2);  // hi bounds it
  CHECK(count(3, 3, 1000) == 0);
  CHECK(count(7, 7, 1000) == 0);
}

TEMPLATE_TEST_CASE("compact drops the prefix and answers the term at the compaction point",
                   "[consensus][storage]", MemoryFixture, RocksFixture) {
  TestType fixture;
  std::vector<Entry> written = make_entries(1, 3, 1);
  for (const Entry& entry : make_entries(4, 8, 2)) written.push_back(entry);
  REQUIRE(fixture.storage().append(written).is_ok());
  REQUIRE(fixture.storage().set_membership(Membership{{1, 2, 3, 4}, {}}).is_ok());
  REQUIRE(fixture.storage().compact(4, Membership{{1, 2, 3}, {4}}).is_ok());
  fixture.reopen();
  LogStorage& storage = fixture.storage();
  CHECK(storage.compaction_point() == CompactionPoint{4, 2, Membership{{1, 2, 3}, {4}}});
  CHECK(storage.membership() == Membership{{1, 2, 3, 4}, {}});  // the latest, not the point's
  CHECK(storage.first_index() == 5);
  CHECK(storage.last_index() == 8);
  CHECK(*storage.term(4) == 2);
  CHECK(storage.term(3).status().code() == base::Code::kNotFound);
  CHECK(storage.term(0).status().code() == base::Code::kNotFound);
  CHECK(storage.term(9).status().code() == base::Code::kNotFound);
  CHECK(storage.entries(4, 6, UINT64_MAX).status().code() == base::Code::kNotFound);
  CHECK(storage.entries(1, 9, UINT64_MAX).status().code() == base::Code::kNotFound);
  auto rest = storage.entries(5, 9, UINT64_MAX);
  REQUIRE(rest.is_ok());
  CHECK(*rest == std::vector<Entry>(written.begin() + 4, written.end()));

  // Compacting everything leaves an empty log that continues after the point.
  REQUIRE(storage.compact(8, Membership{{1, 2, 3}, {4}}).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().first_index() == 9);
  CHECK(fixture.storage().last_index() == 8);
  CHECK(*fixture.storage().term(8) == 2);
  CHECK(fixture.storage().term(7).status().code() == base::Code::kNotFound);
  REQUIRE(fixture.storage().append({make_entry(9, 3, "after")}).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().last_index() == 9);
  CHECK(*fixture.storage().entries(9, 10, 0) == std::vector<Entry>{make_entry(9, 3, "after")});
}

TEMPLATE_TEST_CASE("append after compaction may truncate down to the first index",
                   "[consensus][storage]", MemoryFixture, RocksFixture) {
  TestType fixture;
  REQUIRE(fixture.storage().append(make_entries(1, 10, 1)).is_ok());
  REQUIRE(fixture.storage().compact(5, three_voters()).is_ok());
  REQUIRE(fixture.storage().append(make_entries(6, 7, 2)).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().first_index() == 6);
  CHECK(fixture.storage().last_index() == 7);
  CHECK(*fixture.storage().entries(6, 8, UINT64_MAX) == make_entries(6, 7, 2));
}

TEMPLATE_TEST_CASE("hard state and membership are kept", "[consensus][storage]", MemoryFixture,
                   RocksFixture) {
  TestType fixture;
  REQUIRE(fixture.storage().set_hard_state(HardState{3, 2, 0}).is_ok());
  REQUIRE(fixture.storage().append(make_entries(1, 2, 3)).is_ok());
  REQUIRE(fixture.storage().set_hard_state(HardState{3, 2, 2}).is_ok());
  REQUIRE(fixture.storage().set_membership(Membership{{1, 2, 3}, {7, 9}}).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().hard_state() == HardState{3, 2, 2});
  CHECK(fixture.storage().membership() == Membership{{1, 2, 3}, {7, 9}});
  CHECK(fixture.storage().compaction_point().membership == three_voters());
  REQUIRE(fixture.storage().set_hard_state(HardState{5, kNoNode, 2}).is_ok());
  REQUIRE(fixture.storage().set_membership(Membership{{2}, {}}).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().hard_state() == HardState{5, kNoNode, 2});
  CHECK(fixture.storage().membership() == Membership{{2}, {}});
}

TEMPLATE_TEST_CASE("reset forgets the log, keeps the hard state and starts after the point",
                   "[consensus][storage]", MemoryFixture, RocksFixture) {
  TestType fixture;
  REQUIRE(fixture.storage().append(make_entries(1, 6, 1)).is_ok());
  REQUIRE(fixture.storage().compact(2, three_voters()).is_ok());
  REQUIRE(fixture.storage().set_hard_state(HardState{4, 1, 5}).is_ok());
  const CompactionPoint point{100, 4, Membership{{1, 2, 3, 4, 5}, {}}};
  REQUIRE(fixture.storage().reset(point).is_ok());
  fixture.reopen();
  LogStorage& storage = fixture.storage();
  CHECK(storage.compaction_point() == point);
  CHECK(storage.membership() == point.membership);
  CHECK(storage.hard_state() == HardState{4, 1, 5});
  CHECK(storage.first_index() == 101);
  CHECK(storage.last_index() == 100);
  CHECK(*storage.term(100) == 4);
  CHECK(storage.term(6).status().code() == base::Code::kNotFound);
  CHECK(storage.term(101).status().code() == base::Code::kNotFound);
  REQUIRE(storage.append(make_entries(101, 103, 4)).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().last_index() == 103);
  CHECK(*fixture.storage().entries(101, 104, UINT64_MAX) == make_entries(101, 103, 4));

  // Reset to a point below the old log also works: the old entries are all gone.
  REQUIRE(fixture.storage().reset(CompactionPoint{50, 4, three_voters()}).is_ok());
  fixture.reopen();
  CHECK(fixture.storage().last_index() == 50);
  CHECK(fixture.storage().term(101).status().code() == base::Code::kNotFound);
  CHECK(observe(fixture.storage()).log.empty());
}

// ---- RocksDB only ----

using Operation = std::function<base::Status(LogStorage&)>;

TEST_CASE("rocks: every write survives a reopen right after it", "[consensus][storage]") {
  const std::vector<std::pair<std::string, Operation>> script = {
      {"append", [](LogStorage& s) { return s.append(make_entries(1, 5, 1)); }},
      {"set_hard_state",
       [](LogStorage& s) {
         return s.set_hard_state(HardState{2, 3, 4});
       }},
      {"append more", [](LogStorage& s) { return s.append(make_entries(6, 9, 2)); }},
      {"truncate", [](LogStorage& s) { return s.append(make_entries(4, 5, 3)); }},
      {"set_membership",
       [](LogStorage& s) {
         return s.set_membership(Membership{{1, 2, 3}, {4}});
       }},
      {"compact",
       [](LogStorage& s) {
         return s.compact(3, Membership{{1, 2, 3}, {}});
       }},
      {"set_hard_state again",
       [](LogStorage& s) {
         return s.set_hard_state(HardState{3, 0, 5});
       }},
      {"append after compact", [](LogStorage& s) { return s.append(make_entries(6, 20, 3)); }},
      {"compact all",
       [](LogStorage& s) {
         return s.compact(20, Membership{{1, 2, 3}, {4}});
       }},
      {"reset",
       [](LogStorage& s) {
         return s.reset(CompactionPoint{40, 5, Membership{{9}, {}}});
       }},
      {"append after reset", [](LogStorage& s) { return s.append(make_entries(41, 42, 5)); }},
      {"truncate to first", [](LogStorage& s) { return s.append(make_entries(41, 41, 6)); }},
  };
  RocksFixture rocks;
  MemoryFixture model;
  for (const auto& [name, operation] : script) {
    INFO("after " << name);
    REQUIRE(operation(rocks.storage()).is_ok());
    REQUIRE(operation(model.storage()).is_ok());
    const Observed before = observe(rocks.storage());
    CHECK(before == observe(model.storage()));
    rocks.reopen();
    CHECK(observe(rocks.storage()) == before);
  }
}

// A database with the store's column families plus one of someone else's, as node/ keeps it.
class OwnDatabase {
 public:
  explicit OwnDatabase(const std::string& path) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    RocksLogStorage::set_db_options(&options);
    const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {std::string(RocksLogStorage::kLogColumnFamily), {}},
        {std::string(RocksLogStorage::kStateColumnFamily), {}},
        {"view", {}},
    };
    rocksdb::DB* db = nullptr;
    const rocksdb::Status status = rocksdb::DB::Open(options, path, families, &handles_, &db);
    INFO(status.ToString());
    REQUIRE(status.ok());
    db_.reset(db);
  }
  ~OwnDatabase() {
    for (auto* handle : handles_) (void)db_->DestroyColumnFamilyHandle(handle);
    (void)db_->Close();
  }

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* log_cf() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* state_cf() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* view_cf() { return handles_[3]; }

  std::unique_ptr<RocksLogStorage> attach() {
    auto attached = RocksLogStorage::attach(db(), log_cf(), state_cf(), three_voters());
    INFO(attached.status().to_string());
    REQUIRE(attached.is_ok());
    return std::move(attached).value();
  }
  base::Status try_attach() {
    return RocksLogStorage::attach(db(), log_cf(), state_cf(), three_voters()).status();
  }

  std::string key(uint64_t index) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(index >> (8 * (7 - i)));
    return out;
  }
  std::string get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    std::string value;
    REQUIRE(db_->Get(rocksdb::ReadOptions(), cf, key, &value).ok());
    return value;
  }
  void put(rocksdb::ColumnFamilyHandle* cf, const std::string& key, const std::string& value) {
    REQUIRE(db_->Put(rocksdb::WriteOptions(), cf, key, value).ok());
  }
  void remove(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    REQUIRE(db_->Delete(rocksdb::WriteOptions(), cf, key).ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

TEST_CASE("rocks: attach works on a caller-owned database and keeps to its column families",
          "[consensus][storage]") {
  TempDir dir;
  {
    OwnDatabase own(dir.path());
    own.put(own.view_cf(), "subject", "status");
    {
      auto storage = own.attach();
      REQUIRE(storage->append(make_entries(1, 4, 1)).is_ok());
      REQUIRE(storage->set_hard_state(HardState{1, 1, 4}).is_ok());
      REQUIRE(storage->compact(2, three_voters()).is_ok());
    }
    // The database outlives the store and stays usable.
    own.put(own.view_cf(), "subject2", "status2");
    std::unique_ptr<rocksdb::Iterator> it(
        own.db()->NewIterator(rocksdb::ReadOptions(), own.db()->DefaultColumnFamily()));
    it->SeekToFirst();
    CHECK_FALSE(it->Valid());  // nothing went to the default column family
    CHECK(own.get(own.view_cf(), "subject") == "status");
  }
  OwnDatabase again(dir.path());
  auto storage = again.attach();
  CHECK(storage->hard_state() == HardState{1, 1, 4});
  CHECK(storage->first_index() == 3);
  CHECK(storage->last_index() == 4);
  CHECK(*storage->entries(3, 5, UINT64_MAX) == make_entries(3, 4, 1));
}

TEST_CASE("rocks: attach refuses a database that may drop synced writes on recovery",
          "[consensus][storage]") {
  TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  REQUIRE(options.wal_recovery_mode == rocksdb::WALRecoveryMode::kPointInTimeRecovery);
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* log_cf = nullptr;
  rocksdb::ColumnFamilyHandle* state_cf = nullptr;
  REQUIRE(db->CreateColumnFamily({}, std::string(RocksLogStorage::kLogColumnFamily), &log_cf).ok());
  REQUIRE(
      db->CreateColumnFamily({}, std::string(RocksLogStorage::kStateColumnFamily), &state_cf).ok());
  auto attached = RocksLogStorage::attach(db.get(), log_cf, state_cf, three_voters());
  CHECK(attached.status().code() == base::Code::kInvalidArgument);
  REQUIRE(db->DestroyColumnFamilyHandle(log_cf).ok());
  REQUIRE(db->DestroyColumnFamilyHandle(state_cf).ok());
  REQUIRE(db->Close().ok());
}

TEST_CASE("rocks: a second open of the same directory fails cleanly", "[consensus][storage]") {
  RocksFixture fixture;
  auto second = RocksLogStorage::open(fixture.dir_.path(), three_voters());
  CHECK_FALSE(second.is_ok());
}

TEST_CASE("rocks: a flipped byte in a stored entry reads as corruption", "[consensus][storage]") {
  TempDir dir;
  OwnDatabase own(dir.path());
  {
    auto storage = own.attach();
    REQUIRE(storage->append(make_entries(1, 5, 1)).is_ok());
  }
  const std::string key = own.key(3);
  const std::string good = own.get(own.log_cf(), key);
  // Every byte of the record: crc, version, term, type and data.
  for (size_t position = 0; position < good.size(); ++position) {
    INFO("byte " << position << " of " << good.size());
    std::string bad = good;
    bad[position] = static_cast<char>(bad[position] ^ 0x01);
    own.put(own.log_cf(), key, bad);
    auto storage = own.attach();  // the middle entry is not read on load
    CHECK(storage->term(3).status().code() == base::Code::kCorruption);
    CHECK(storage->entries(1, 6, UINT64_MAX).status().code() == base::Code::kCorruption);
    CHECK(storage->entries(3, 4, 0).status().code() == base::Code::kCorruption);
    CHECK(storage->entries(4, 6, UINT64_MAX).is_ok());  // others still read
  }
  SECTION("truncated record") {
    own.put(own.log_cf(), key, good.substr(0, 7));
    CHECK(own.attach()->term(3).status().code() == base::Code::kCorruption);
  }
  SECTION("record moved under another key") {
    own.put(own.log_cf(), key, own.get(own.log_cf(), own.key(2)));
    CHECK(own.attach()->term(3).status().code() == base::Code::kCorruption);
  }
  SECTION("first or last entry corrupt fails the load") {
    const uint64_t index = GENERATE(1, 5);
    std::string bad = own.get(own.log_cf(), own.key(index));
    bad.back() = static_cast<char>(bad.back() ^ 0x40);
    own.put(own.log_cf(), own.key(index), bad);
    CHECK(own.try_attach().code() == base::Code::kCorruption);
  }
}

TEST_CASE("rocks: damaged raft state fails the load with corruption", "[consensus][storage]") {
  TempDir dir;
  OwnDatabase own(dir.path());
  {
    auto storage = own.attach();
    REQUIRE(storage->append(make_entries(1, 5, 1)).is_ok());
    REQUIRE(storage->set_hard_state(HardState{1, 2, 3}).is_ok());
    REQUIRE(storage->compact(1, three_voters()).is_ok());
  }
  const std::string key =
      GENERATE(as<std::string>{}, "raft/hard_state", "raft/membership", "raft/compaction_point");
  INFO(key);
  const std::string good = own.get(own.state_cf(), key);
  SECTION("flipped byte") {
    for (size_t position = 0; position < good.size(); ++position) {
      INFO("byte " << position);
      std::string bad = good;
      bad[position] = static_cast<char>(bad[position] ^ 0x80);
      own.put(own.state_cf(), key, bad);
      CHECK(own.try_attach().code() == base::Code::kCorruption);
    }
  }
  SECTION("record missing") {
    own.remove(own.state_cf(), key);
    CHECK(own.try_attach().code() == base::Code::kCorruption);
  }
}

TEST_CASE("rocks: gaps and leftovers in the log are corruption", "[consensus][storage]") {
  TempDir dir;
  OwnDatabase own(dir.path());
  {
    auto storage = own.attach();
    REQUIRE(storage->append(make_entries(1, 6, 1)).is_ok());
    REQUIRE(storage->compact(2, three_voters()).is_ok());
  }
  SECTION("first entry missing") {
    own.remove(own.log_cf(), own.key(3));
    CHECK(own.try_attach().code() == base::Code::kCorruption);
  }
  SECTION("entry before the last missing") {
    own.remove(own.log_cf(), own.key(5));
    CHECK(own.try_attach().code() == base::Code::kCorruption);
  }
  SECTION("a compacted entry left behind") {
    own.put(own.log_cf(), own.key(2), "whatever");
    CHECK(own.try_attach().code() == base::Code::kCorruption);
  }
  SECTION("a middle entry missing") {
    own.remove(own.log_cf(), own.key(4));
    auto storage = own.attach();
    CHECK(storage->term(4).status().code() == base::Code::kCorruption);
    CHECK(storage->entries(3, 7, UINT64_MAX).status().code() == base::Code::kCorruption);
    CHECK(storage->entries(3, 4, UINT64_MAX).is_ok());
  }
  SECTION("log without state") {
    own.remove(own.state_cf(), "raft/hard_state");
    own.remove(own.state_cf(), "raft/membership");
    own.remove(own.state_cf(), "raft/compaction_point");
    CHECK(own.try_attach().code() == base::Code::kCorruption);
  }
}

TEST_CASE("rocks: a flipped byte in a table file reads as corruption", "[consensus][storage]") {
  TempDir dir;
  {
    OwnDatabase own(dir.path());
    {
      auto storage = own.attach();
      std::vector<Entry> written;
      for (uint64_t index = 1; index <= 200; ++index) {
        written.push_back(make_entry(index, 1, std::string(100, static_cast<char>(index))));
      }
      REQUIRE(storage->append(written).is_ok());
    }
    rocksdb::FlushOptions flush;
    REQUIRE(own.db()->Flush(flush, own.log_cf()).ok());
  }
  // The log column family's table file: the largest one.
  fs::path table;
  for (const auto& file : fs::directory_iterator(dir.path())) {
    if (file.path().extension() != ".sst") continue;
    if (table.empty() || fs::file_size(file.path()) > fs::file_size(table)) table = file.path();
  }
  REQUIRE_FALSE(table.empty());
  {
    std::fstream stream(table, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekg(100);
    char byte = 0;
    stream.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    stream.seekp(100);
    stream.write(&byte, 1);
  }
  OwnDatabase own(dir.path());
  auto attached = RocksLogStorage::attach(own.db(), own.log_cf(), own.state_cf(), three_voters());
  if (attached.is_ok()) {
    auto read = (*attached)->entries(1, 201, UINT64_MAX);
    CHECK(read.status().code() == base::Code::kCorruption);
  } else {
    CHECK(attached.status().code() == base::Code::kCorruption);
  }
}

TEST_CASE("rocks: a flipped byte inside the write-ahead log fails the open",
          "[consensus][storage]") {
  // Every write is synced, so damage before the WAL's last record is corruption, never a torn
  // write to drop quietly (open() sets kTolerateCorruptedTailRecords).
  RocksFixture fixture;
  for (uint64_t index = 1; index <= 20; ++index) {
    REQUIRE(fixture.storage().append({make_entry(index, 1, std::string(50, 'w'))}).is_ok());
  }
  fixture.storage_.reset();
  fs::path wal;
  for (const auto& file : fs::directory_iterator(fixture.dir_.path())) {
    if (file.path().extension() == ".log" && fs::file_size(file.path()) > 0) wal = file.path();
  }
  REQUIRE_FALSE(wal.empty());
  {
    std::fstream stream(wal, std::ios::in | std::ios::out | std::ios::binary);
    const auto middle = static_cast<std::streamoff>(fs::file_size(wal) / 2);
    stream.seekg(middle);
    char byte = 0;
    stream.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x04);
    stream.seekp(middle);
    stream.write(&byte, 1);
  }
  auto reopened = RocksLogStorage::open(fixture.dir_.path(), three_voters());
  INFO(reopened.status().to_string());
  CHECK(reopened.status().code() == base::Code::kCorruption);
}

TEST_CASE("crc32c matches the published check value", "[consensus][storage]") {
  CHECK(internal::crc32c("123456789") == 0xE3069283u);
  CHECK(internal::crc32c("") == 0u);
  CHECK(internal::crc32c_extend(internal::crc32c("1234"), "56789") == 0xE3069283u);
  CHECK(internal::crc32c(std::string(32, '\0')) == 0x8A9136AAu);
}

// ---- random operations against the model ----

// Picks operations that meet every REQUIRES clause and Raft invariant of the current state.
class RandomOperations {
 public:
  explicit RandomOperations(uint64_t seed) : rng_(seed) {}

  uint64_t below(uint64_t bound) { return rng_() % bound; }

  Membership membership() {
    Membership out;
    for (NodeId id = 1; id <= 7; ++id) {
      switch (below(3)) {
        case 0:
          out.voters.push_back(id);
          break;
        case 1:
          out.learners.push_back(id);
          break;
        default:
          break;
      }
    }
    return out;
  }

  // One operation applied to both stores; returns its name for the failure message.
  std::string step(LogStorage& model, LogStorage& subject) {
    const uint64_t point_index = model.compaction_point().index;
    const uint64_t last = model.last_index();
    const uint64_t kind = below(100);
    if (kind < 45) {
      const uint64_t front = point_index + 1 + below(last - point_index + 1);
      uint64_t term = *model.term(front - 1);
      std::vector<Entry> entries;
      const uint64_t count = 1 + below(6);
      for (uint64_t i = 0; i < count; ++i) {
        if (below(4) == 0) term += 1 + below(2);
        std::string data(below(3) == 0 ? 0 : below(200), '\0');
        for (char& c : data) c = static_cast<char>(below(256));
        entries.push_back(Entry{front + i, term,
                                below(5) == 0 ? EntryType::kConfChange : EntryType::kNormal,
                                std::move(data)});
      }
      apply(model, subject, [&](LogStorage& s) { return s.append(entries); });
      return "append at " + std::to_string(front);
    }
    if (kind < 65) {
      HardState state = model.hard_state();
      if (below(2) == 0) {
        state.term += 1 + below(2);
        state.vote = below(8);
      } else if (state.vote == kNoNode) {
        state.vote = below(8);
      }
      state.commit = below(last + 2);
      apply(model, subject, [&](LogStorage& s) { return s.set_hard_state(state); });
      return "set_hard_state";
    }
    if (kind < 75) {
      const Membership next = membership();
      apply(model, subject, [&](LogStorage& s) { return s.set_membership(next); });
      return "set_membership";
    }
    if (kind < 92) {
      if (last == point_index) return "skip compact";
      const uint64_t index = point_index + 1 + below(last - point_index);
      const Membership at = membership();
      apply(model, subject, [&](LogStorage& s) { return s.compact(index, at); });
      return "compact to " + std::to_string(index);
    }
    const CompactionPoint point{last + below(20), *model.term(last) + below(3), membership()};
    apply(model, subject, [&](LogStorage& s) { return s.reset(point); });
    return "reset to " + std::to_string(point.index);
  }

  // Random reads answer the same on both stores.
  void compare_reads(const LogStorage& model, const LogStorage& subject) {
    const uint64_t last = model.last_index();
    for (int i = 0; i < 4; ++i) {
      const uint64_t index = below(last + 3);
      auto want = model.term(index);
      auto got = subject.term(index);
      REQUIRE(got.status().code() == want.status().code());
      if (want.is_ok()) REQUIRE(*got == *want);
      const uint64_t hi = below(last + 2);
      const uint64_t lo = below(hi + 1);
      const uint64_t max_bytes = below(3) == 0 ? UINT64_MAX : below(600);
      auto want_entries = model.entries(lo, hi, max_bytes);
      auto got_entries = subject.entries(lo, hi, max_bytes);
      REQUIRE(got_entries.status().code() == want_entries.status().code());
      if (want_entries.is_ok()) REQUIRE(*got_entries == *want_entries);
    }
  }

 private:
  template <typename F>
  static void apply(LogStorage& model, LogStorage& subject, F operation) {
    REQUIRE(operation(model).is_ok());
    const base::Status status = operation(subject);
    INFO(status.to_string());
    REQUIRE(status.is_ok());
  }

  std::mt19937_64 rng_;
};

TEST_CASE("rocks: random operations match the in-memory model across reopens",
          "[consensus][storage]") {
  const uint64_t seed = GENERATE(range(uint64_t{1}, uint64_t{11}));
  INFO("seed " << seed);
  RandomOperations random(seed);
  const Membership initial = random.membership();
  RocksFixture rocks(initial);
  MemoryFixture model(initial);
  for (int step = 0; step < 300; ++step) {
    const std::string name = random.step(model.storage(), rocks.storage());
    INFO("step " << step << ": " << name);
    if (random.below(8) == 0) rocks.reopen();
    random.compare_reads(model.storage(), rocks.storage());
    REQUIRE(observe(rocks.storage()) == observe(model.storage()));
  }
}

}  // namespace
}  // namespace consensus
