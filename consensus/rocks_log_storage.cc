#include "consensus/rocks_log_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <cstring>
#include <utility>

#include "base/assert.h"
#include "consensus/internal/crc32c.h"
#include "consensus/internal/log_storage_checks.h"

namespace consensus {
namespace {

constexpr uint8_t kFormatVersion = 1;
constexpr size_t kCrcBytes = 4;
constexpr size_t kHeaderBytes = kCrcBytes + 1;  // crc32c, version
constexpr size_t kLogKeyBytes = 8;
constexpr size_t kEntryFixedBytes = kHeaderBytes + 8 + 1;  // + term, type
constexpr size_t kHardStateBytes = kHeaderBytes + 8 + 8 + 8;

constexpr std::string_view kHardStateKey = "raft/hard_state";
constexpr std::string_view kMembershipKey = "raft/membership";
constexpr std::string_view kCompactionPointKey = "raft/compaction_point";

// The one place rocksdb::Status becomes base::Status.
base::Status from_rocks(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return base::Status::ok();
  std::string message(what);
  message += ": ";
  message += status.ToString();
  if (status.IsNotFound()) return base::Status::not_found(std::move(message));
  if (status.IsCorruption()) return base::Status::corruption(std::move(message));
  if (status.IsInvalidArgument() || status.IsNotSupported()) {
    return base::Status::invalid_argument(std::move(message));
  }
  // A full disk is a limit that lifts when space is freed (kBusy), not a broken device.
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain() || status.IsNoSpace()) {
    return base::Status::busy(std::move(message));
  }
  return base::Status::io_error(std::move(message));
}

rocksdb::Slice to_slice(std::string_view bytes) { return {bytes.data(), bytes.size()}; }
std::string_view to_view(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

// ---- encoding ----

void put_u32(std::string* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

void put_u64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

std::string log_key(uint64_t index) {
  std::string key(kLogKeyBytes, '\0');
  for (size_t i = 0; i < kLogKeyBytes; ++i) {
    key[i] = static_cast<char>(index >> (8 * (kLogKeyBytes - 1 - i)));
  }
  return key;
}

// Reads fixed-size little-endian integers from a byte string, remembering if it ran short.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  uint32_t u32() { return static_cast<uint32_t>(take(4)); }
  uint64_t u64() { return take(8); }
  std::string_view rest() {
    std::string_view out = bytes_;
    bytes_ = {};
    return out;
  }
  size_t remaining() const { return bytes_.size(); }
  bool short_read() const { return short_read_; }

 private:
  uint64_t take(size_t count) {
    if (bytes_.size() < count) {
      short_read_ = true;
      bytes_ = {};
      return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < count; ++i) {
      value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    }
    bytes_.remove_prefix(count);
    return value;
  }

  std::string_view bytes_;
  bool short_read_ = false;
};

// Starts a record value: room for the crc, then the version.
std::string begin_record() {
  std::string value(kCrcBytes, '\0');
  value.push_back(static_cast<char>(kFormatVersion));
  return value;
}

// Fills in the crc over key || value[kCrcBytes..].
void seal_record(std::string_view key, std::string* value) {
  const uint32_t crc =
      internal::crc32c_extend(internal::crc32c(key), std::string_view(*value).substr(kCrcBytes));
  std::string crc_bytes;
  put_u32(&crc_bytes, crc);
  value->replace(0, kCrcBytes, crc_bytes);
}

// Checks crc and version; on success returns a Reader over the payload after the version.
base::Result<Reader> open_record(std::string_view key, std::string_view value,
                                 std::string_view what) {
  if (value.size() < kHeaderBytes) {
    return base::Status::corruption(std::string(what) + ": record of " +
                                    std::to_string(value.size()) + " bytes is too short");
  }
  Reader header(value);
  const uint32_t stored_crc = header.u32();
  const uint32_t crc = internal::crc32c_extend(internal::crc32c(key), value.substr(kCrcBytes));
  if (crc != stored_crc) {
    return base::Status::corruption(std::string(what) + ": checksum mismatch");
  }
  const uint8_t version = header.u8();
  if (version != kFormatVersion) {
    return base::Status::corruption(std::string(what) + ": unknown format version " +
                                    std::to_string(version));
  }
  return header;
}

void put_membership(std::string* out, const Membership& membership) {
  put_u32(out, static_cast<uint32_t>(membership.voters.size()));
  for (NodeId id : membership.voters) put_u64(out, id);
  put_u32(out, static_cast<uint32_t>(membership.learners.size()));
  for (NodeId id : membership.learners) put_u64(out, id);
}

// Reads a membership that must end the record.
base::Result<Membership> read_membership(Reader* reader, std::string_view what) {
  Membership membership;
  for (std::vector<NodeId>* ids : {&membership.voters, &membership.learners}) {
    const uint32_t count = reader->u32();
    if (reader->short_read() || reader->remaining() < uint64_t{count} * 8) {
      return base::Status::corruption(std::string(what) + ": membership is truncated");
    }
    ids->reserve(count);
    for (uint32_t i = 0; i < count; ++i) ids->push_back(reader->u64());
  }
  if (reader->remaining() != 0) {
    return base::Status::corruption(std::string(what) + ": trailing bytes after membership");
  }
  if (!internal::membership_well_formed(membership)) {
    return base::Status::corruption(std::string(what) + ": membership is not sorted and unique");
  }
  return membership;
}

std::string encode_entry(const std::string& key, const Entry& entry) {
  std::string value = begin_record();
  value.reserve(kEntryFixedBytes + entry.data.size());
  put_u64(&value, entry.term);
  value.push_back(static_cast<char>(entry.type));
  value += entry.data;
  seal_record(key, &value);
  return value;
}

base::Result<Entry> decode_entry(std::string_view key, std::string_view value) {
  if (key.size() != kLogKeyBytes) {
    return base::Status::corruption("raft log: key of " + std::to_string(key.size()) + " bytes");
  }
  uint64_t index = 0;
  for (char c : key) index = (index << 8) | static_cast<uint8_t>(c);
  const std::string what = "raft log entry " + std::to_string(index);
  ASSIGN_OR_RETURN(Reader reader, open_record(key, value, what));
  Entry entry;
  entry.index = index;
  entry.term = reader.u64();
  const uint8_t type = reader.u8();
  if (reader.short_read()) return base::Status::corruption(what + ": truncated");
  if (type != static_cast<uint8_t>(EntryType::kNormal) &&
      type != static_cast<uint8_t>(EntryType::kConfChange)) {
    return base::Status::corruption(what + ": unknown entry type " + std::to_string(type));
  }
  entry.type = static_cast<EntryType>(type);
  entry.data = std::string(reader.rest());
  return entry;
}

std::string encode_hard_state(const HardState& state) {
  std::string value = begin_record();
  put_u64(&value, state.term);
  put_u64(&value, state.vote);
  put_u64(&value, state.commit);
  seal_record(kHardStateKey, &value);
  return value;
}

base::Result<HardState> decode_hard_state(std::string_view value) {
  constexpr std::string_view what = "raft hard state";
  if (value.size() != kHardStateBytes) {
    return base::Status::corruption(std::string(what) + ": record of " +
                                    std::to_string(value.size()) + " bytes");
  }
  ASSIGN_OR_RETURN(Reader reader, open_record(kHardStateKey, value, what));
  HardState state;
  state.term = reader.u64();
  state.vote = reader.u64();
  state.commit = reader.u64();
  return state;
}

std::string encode_membership(const Membership& membership) {
  std::string value = begin_record();
  put_membership(&value, membership);
  seal_record(kMembershipKey, &value);
  return value;
}

base::Result<Membership> decode_membership(std::string_view value) {
  constexpr std::string_view what = "raft membership";
  ASSIGN_OR_RETURN(Reader reader, open_record(kMembershipKey, value, what));
  return read_membership(&reader, what);
}

std::string encode_compaction_point(const CompactionPoint& point) {
  std::string value = begin_record();
  put_u64(&value, point.index);
  put_u64(&value, point.term);
  put_membership(&value, point.membership);
  seal_record(kCompactionPointKey, &value);
  return value;
}

base::Result<CompactionPoint> decode_compaction_point(std::string_view value) {
  constexpr std::string_view what = "raft compaction point";
  ASSIGN_OR_RETURN(Reader reader, open_record(kCompactionPointKey, value, what));
  CompactionPoint point;
  point.index = reader.u64();
  point.term = reader.u64();
  if (reader.short_read()) return base::Status::corruption(std::string(what) + ": truncated");
  ASSIGN_OR_RETURN(point.membership, read_membership(&reader, what));
  return point;
}

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions options;
  options.sync = true;
  return options;
}

base::Status not_found_compacted(uint64_t index, uint64_t compaction_index) {
  return base::Status::not_found("raft log index " + std::to_string(index) +
                                 " is compacted (compaction point " +
                                 std::to_string(compaction_index) + ")");
}

}  // namespace

// ---- construction ----

RocksLogStorage::RocksLogStorage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf,
                                 rocksdb::ColumnFamilyHandle* state_cf)
    : db_(db), log_cf_(log_cf), state_cf_(state_cf) {}

RocksLogStorage::~RocksLogStorage() {
  if (owned_db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle : owned_handles_) {
    // Errors here leave nothing to undo: every write was already synced.
    (void)owned_db_->DestroyColumnFamilyHandle(handle);
  }
  (void)owned_db_->Close();
}

void RocksLogStorage::set_db_options(rocksdb::DBOptions* options) {
  // Every write is synced, so a bad record before the end of the WAL is corruption, not a torn
  // write; only a torn last record (a write that never returned) may be dropped.
  options->wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
}

base::Result<std::unique_ptr<RocksLogStorage>> RocksLogStorage::attach(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf, rocksdb::ColumnFamilyHandle* state_cf,
    const Membership& initial_membership) {
  LEDGER_ASSERT(db != nullptr);
  LEDGER_ASSERT(log_cf != nullptr);
  LEDGER_ASSERT(state_cf != nullptr);
  LEDGER_ASSERT(log_cf != state_cf);
  LEDGER_ASSERT(internal::membership_well_formed(initial_membership));
  const rocksdb::WALRecoveryMode mode = db->GetDBOptions().wal_recovery_mode;
  if (mode != rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords &&
      mode != rocksdb::WALRecoveryMode::kAbsoluteConsistency) {
    return base::Status::invalid_argument(
        "raft log store: the database's wal_recovery_mode may drop synced writes; use "
        "RocksLogStorage::set_db_options()");
  }
  std::unique_ptr<RocksLogStorage> storage(new RocksLogStorage(db, log_cf, state_cf));
  RETURN_IF_ERROR(storage->load(initial_membership));
  return storage;
}

base::Result<std::unique_ptr<RocksLogStorage>> RocksLogStorage::open(
    const std::string& path, const Membership& initial_membership) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  set_db_options(&options);
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {std::string(kLogColumnFamily), rocksdb::ColumnFamilyOptions()},
      {std::string(kStateColumnFamily), rocksdb::ColumnFamilyOptions()},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  RETURN_IF_ERROR(from_rocks(rocksdb::DB::Open(options, path, families, &handles, &raw_db),
                             "opening raft log store " + path));
  LEDGER_ASSERT(handles.size() == families.size());
  std::unique_ptr<RocksLogStorage> storage(new RocksLogStorage(raw_db, handles[1], handles[2]));
  storage->owned_db_.reset(raw_db);
  storage->owned_handles_ = std::move(handles);
  RETURN_IF_ERROR(storage->load(initial_membership).with_context(path));
  return storage;
}

base::Status RocksLogStorage::load(const Membership& initial_membership) {
  std::string hard_state_value;
  std::string membership_value;
  std::string point_value;
  const rocksdb::ReadOptions read_options;
  const std::vector<rocksdb::ColumnFamilyHandle*> cfs(3, state_cf_);
  const std::vector<rocksdb::Slice> keys = {to_slice(kHardStateKey), to_slice(kMembershipKey),
                                            to_slice(kCompactionPointKey)};
  std::vector<std::string> values;
  const std::vector<rocksdb::Status> statuses = db_->MultiGet(read_options, cfs, keys, &values);
  int present = 0;
  for (const rocksdb::Status& status : statuses) {
    if (status.ok()) {
      ++present;
    } else if (!status.IsNotFound()) {
      return from_rocks(status, "reading raft state");
    }
  }

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, log_cf_));
  it->SeekToFirst();
  RETURN_IF_ERROR(from_rocks(it->status(), "reading raft log"));
  const bool log_empty = !it->Valid();

  if (present == 0) {
    if (!log_empty) {
      return base::Status::corruption("raft log holds entries but the raft state is missing");
    }
    // A fresh store.
    CompactionPoint point{0, 0, initial_membership};
    rocksdb::WriteBatch batch;
    RETURN_IF_ERROR(
        from_rocks(batch.Put(state_cf_, to_slice(kHardStateKey), encode_hard_state(HardState{})),
                   "creating raft state"));
    RETURN_IF_ERROR(from_rocks(
        batch.Put(state_cf_, to_slice(kMembershipKey), encode_membership(initial_membership)),
        "creating raft state"));
    RETURN_IF_ERROR(from_rocks(
        batch.Put(state_cf_, to_slice(kCompactionPointKey), encode_compaction_point(point)),
        "creating raft state"));
    RETURN_IF_ERROR(from_rocks(db_->Write(synced(), &batch), "creating raft state"));
    hard_state_ = HardState{};
    membership_ = initial_membership;
    point_ = std::move(point);
    last_index_ = 0;
    last_term_ = 0;
    return base::Status::ok();
  }
  if (present != 3) {
    return base::Status::corruption("raft state is incomplete (" + std::to_string(present) +
                                    " of 3 records)");
  }
  ASSIGN_OR_RETURN(HardState hard_state, decode_hard_state(values[0]));
  ASSIGN_OR_RETURN(Membership membership, decode_membership(values[1]));
  ASSIGN_OR_RETURN(CompactionPoint point, decode_compaction_point(values[2]));

  uint64_t last_index = point.index;
  uint64_t last_term = point.term;
  if (!log_empty) {
    // The ends of the log must join the compaction point without a gap or a leftover.
    ASSIGN_OR_RETURN(Entry first, decode_entry(to_view(it->key()), to_view(it->value())));
    if (first.index != point.index + 1) {
      return base::Status::corruption("raft log starts at " + std::to_string(first.index) +
                                      " but the compaction point is " +
                                      std::to_string(point.index));
    }
    if (first.term < point.term) {
      return base::Status::corruption("raft log entry " + std::to_string(first.index) +
                                      " has a term below the compaction point's");
    }
    it->SeekToLast();
    RETURN_IF_ERROR(from_rocks(it->status(), "reading raft log"));
    if (!it->Valid()) return base::Status::corruption("raft log has no last entry");
    ASSIGN_OR_RETURN(Entry last, decode_entry(to_view(it->key()), to_view(it->value())));
    if (last.term < first.term) {
      return base::Status::corruption("raft log: last entry's term is below the first's");
    }
    // The entry before the last must be present too: a torn tail would show here.
    if (last.index > first.index) {
      it->Prev();
      RETURN_IF_ERROR(from_rocks(it->status(), "reading raft log"));
      if (!it->Valid() || it->key() != to_slice(log_key(last.index - 1))) {
        return base::Status::corruption("raft log: entry " + std::to_string(last.index - 1) +
                                        " is missing");
      }
    }
    last_index = last.index;
    last_term = last.term;
  }
  hard_state_ = hard_state;
  membership_ = std::move(membership);
  point_ = std::move(point);
  last_index_ = last_index;
  last_term_ = last_term;
  return base::Status::ok();
}

// ---- read side ----

HardState RocksLogStorage::hard_state() const { return hard_state_; }

CompactionPoint RocksLogStorage::compaction_point() const { return point_; }

Membership RocksLogStorage::membership() const { return membership_; }

uint64_t RocksLogStorage::first_index() const { return point_.index + 1; }

uint64_t RocksLogStorage::last_index() const { return last_index_; }

base::Result<Entry> RocksLogStorage::read_entry(uint64_t index) const {
  const std::string key = log_key(index);
  std::string value;
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), log_cf_, key, &value);
  if (status.IsNotFound()) {
    return base::Status::corruption("raft log entry " + std::to_string(index) +
                                    " is missing (log is " + std::to_string(first_index()) + ".." +
                                    std::to_string(last_index_) + ")");
  }
  RETURN_IF_ERROR(from_rocks(status, "reading raft log entry " + std::to_string(index)));
  return decode_entry(key, value);
}

base::Result<uint64_t> RocksLogStorage::term(uint64_t index) const {
  if (index < point_.index) return not_found_compacted(index, point_.index);
  if (index > last_index_) {
    return base::Status::not_found("raft log index " + std::to_string(index) +
                                   " is beyond the last index " + std::to_string(last_index_));
  }
  if (index == point_.index) return point_.term;
  if (index == last_index_) return last_term_;
  ASSIGN_OR_RETURN(Entry entry, read_entry(index));
  return entry.term;
}

base::Result<std::vector<Entry>> RocksLogStorage::entries(uint64_t lo, uint64_t hi,
                                                          uint64_t max_bytes) const {
  LEDGER_ASSERT(lo <= hi);
  LEDGER_ASSERT(hi <= last_index_ + 1);
  if (lo <= point_.index) return not_found_compacted(lo, point_.index);
  std::vector<Entry> out;
  if (lo == hi) return out;

  const std::string upper = log_key(hi);
  const rocksdb::Slice upper_slice = to_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, log_cf_));
  uint64_t bytes = 0;
  uint64_t expected = lo;
  for (it->Seek(to_slice(log_key(lo))); it->Valid() && expected < hi; it->Next()) {
    ASSIGN_OR_RETURN(Entry entry, decode_entry(to_view(it->key()), to_view(it->value())));
    if (entry.index != expected) {
      return base::Status::corruption("raft log entry " + std::to_string(expected) + " is missing");
    }
    if (!out.empty() && bytes + entry.data.size() > max_bytes) return out;
    bytes += entry.data.size();
    out.push_back(std::move(entry));
    ++expected;
  }
  RETURN_IF_ERROR(from_rocks(it->status(), "reading raft log"));
  if (expected != hi) {
    return base::Status::corruption("raft log entry " + std::to_string(expected) + " is missing");
  }
  return out;
}

// ---- write side ----

base::Status RocksLogStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return base::Status::ok();
  const uint64_t front = entries.front().index;
  LEDGER_ASSERT(front > point_.index);
  LEDGER_ASSERT(front <= last_index_ + 1);
  uint64_t prev_term = point_.term;
  if (front - 1 == last_index_) {
    prev_term = last_term_;
  } else if (front - 1 > point_.index) {
    ASSIGN_OR_RETURN(prev_term, term(front - 1));
  }
  internal::check_append(entries, point_.index, last_index_, prev_term);

  const uint64_t new_last = entries.back().index;
  rocksdb::WriteBatch batch;
  // The conflicting suffix the new entries do not overwrite goes in the same batch.
  if (new_last < last_index_) {
    RETURN_IF_ERROR(
        from_rocks(batch.DeleteRange(log_cf_, log_key(new_last + 1), log_key(last_index_ + 1)),
                   "truncating raft log"));
  }
  for (const Entry& entry : entries) {
    const std::string key = log_key(entry.index);
    RETURN_IF_ERROR(
        from_rocks(batch.Put(log_cf_, key, encode_entry(key, entry)), "appending raft log"));
  }
  RETURN_IF_ERROR(from_rocks(
      db_->Write(synced(), &batch),
      "appending raft log entries " + std::to_string(front) + ".." + std::to_string(new_last)));
  last_index_ = new_last;
  last_term_ = entries.back().term;
  return base::Status::ok();
}

base::Status RocksLogStorage::set_hard_state(const HardState& state) {
  internal::check_hard_state(hard_state_, state);
  RETURN_IF_ERROR(
      from_rocks(db_->Put(synced(), state_cf_, to_slice(kHardStateKey), encode_hard_state(state)),
                 "writing raft hard state"));
  hard_state_ = state;
  return base::Status::ok();
}

base::Status RocksLogStorage::set_membership(const Membership& membership) {
  LEDGER_ASSERT(internal::membership_well_formed(membership));
  RETURN_IF_ERROR(from_rocks(
      db_->Put(synced(), state_cf_, to_slice(kMembershipKey), encode_membership(membership)),
      "writing raft membership"));
  membership_ = membership;
  return base::Status::ok();
}

base::Status RocksLogStorage::compact(uint64_t index, const Membership& membership) {
  LEDGER_ASSERT(index > point_.index);
  LEDGER_ASSERT(index <= last_index_);
  LEDGER_ASSERT(internal::membership_well_formed(membership));
  ASSIGN_OR_RETURN(const uint64_t index_term, term(index));
  CompactionPoint point{index, index_term, membership};
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(
      from_rocks(batch.DeleteRange(log_cf_, log_key(point_.index + 1), log_key(index + 1)),
                 "compacting raft log"));
  RETURN_IF_ERROR(from_rocks(
      batch.Put(state_cf_, to_slice(kCompactionPointKey), encode_compaction_point(point)),
      "compacting raft log"));
  RETURN_IF_ERROR(from_rocks(db_->Write(synced(), &batch),
                             "compacting raft log up to " + std::to_string(index)));
  point_ = std::move(point);
  return base::Status::ok();
}

base::Status RocksLogStorage::reset(const CompactionPoint& point) {
  LEDGER_ASSERT(internal::membership_well_formed(point.membership));
  rocksdb::WriteBatch batch;
  if (last_index_ > point_.index) {
    RETURN_IF_ERROR(
        from_rocks(batch.DeleteRange(log_cf_, log_key(point_.index + 1), log_key(last_index_ + 1)),
                   "resetting raft log"));
  }
  RETURN_IF_ERROR(from_rocks(
      batch.Put(state_cf_, to_slice(kCompactionPointKey), encode_compaction_point(point)),
      "resetting raft log"));
  RETURN_IF_ERROR(from_rocks(
      batch.Put(state_cf_, to_slice(kMembershipKey), encode_membership(point.membership)),
      "resetting raft log"));
  RETURN_IF_ERROR(from_rocks(db_->Write(synced(), &batch),
                             "resetting raft log to " + std::to_string(point.index)));
  point_ = point;
  membership_ = point.membership;
  last_index_ = point.index;
  last_term_ = point.term;
  return base::Status::ok();
}

}  // namespace consensus
