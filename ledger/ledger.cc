#include "ledger/ledger.h"

#include "base/replica_bugs.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <limits>
#include <map>

#include "ledger/block.h"
#include "ledger/event.h"
#include "ledger/internal/keys.h"
#include "ledger/internal/view_entry.h"
#include "ledger/scoring.h"

namespace ledger {

v1::ViewEntry internal::make_entry(const v1::CreditEvent& e, uint64_t sequence, uint64_t height,
                                  int64_t block_time_ms) {
  v1::ViewEntry v;
  v.set_sequence(sequence);
  v.set_height(height);
  v.set_event_id(e.event_id());
  v.set_issuer(e.issuer());
  v.set_kind(e.kind());
  v.set_sector(e.sector());
  v.set_severity(e.severity());
  *v.mutable_legal_basis() = e.legal_basis();
  v.set_effective_at_ms(e.effective_at_ms());
  v.set_expires_at_ms(e.expires_at_ms());
  v.set_refers_to(e.refers_to());
  v.set_summary(e.summary());
  v.set_rating(e.rating());
  v.set_ruling(e.ruling());
  v.set_recorded_at_ms(block_time_ms);
  *v.mutable_subject() = e.subject();
  return v;
}


using internal::accepted_id_key;
using internal::block_key;
using internal::event_key;
using internal::merkle_key;
using internal::rejected_id_key;
using internal::sequence_key;
using internal::view_key;

namespace {

constexpr size_t kEventIdBytesMax = 128;

template <typename Message>
base::Status parse_stored(const std::string& bytes, Message& out, const std::string& what) {
  if (!out.ParseFromString(bytes)) return base::Status::corruption(what + " does not parse");
  return base::Status::ok();
}

std::string successor(std::string prefix) {
  // The smallest key greater than every key with this prefix.
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}


}  // namespace

class Ledger::MerkleReader : public MerkleNodeReader {
 public:
  MerkleReader(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}
  base::Result<Hash> node(uint32_t level, uint64_t index) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, merkle_key(level, index), &value);
    if (s.IsNotFound()) {
      return base::Status::not_found("merkle node (" + std::to_string(level) + ", " +
                                     std::to_string(index) + ") is not stored");
    }
    RETURN_IF_ERROR(from_rocks(s, "read merkle node"));
    auto hash = hash_from_bytes(value);
    if (!hash.is_ok()) {
      return base::Status::corruption("merkle node (" + std::to_string(level) + ", " +
                                      std::to_string(index) + ") is not 32 bytes");
    }
    return hash;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

// Changes made by the block being built, seen by its later events before anything is written.
struct Ledger::Overlay {
  std::map<std::string, v1::EventLocation> accepted;  // event_id -> location
  std::map<std::string, v1::ViewEntry> view;          // view key -> entry as changed
};

Ledger::Ledger(Database& db, std::shared_ptr<const Consortium> consortium, LedgerOptions options)
    : db_(db),
      consortium_(std::move(consortium)),
      options_(options),
      blocks_cf_(db.cf("blocks")),
      events_cf_(db.cf("events")),
      index_cf_(db.cf("index")),
      merkle_cf_(db.cf("merkle")),
      view_cf_(db.cf("view")),
      meta_cf_(db.cf("meta")),
      merkle_reader_(std::make_unique<MerkleReader>(db.db(), db.cf("merkle"))) {}

Ledger::~Ledger() = default;

const MerkleNodeReader& Ledger::merkle() const { return *merkle_reader_; }

base::Result<std::unique_ptr<Ledger>> Ledger::open(Database& db,
                                                   std::shared_ptr<const Consortium> consortium,
                                                   LedgerOptions options) {
  LEDGER_ASSERT(consortium != nullptr);
  LEDGER_ASSERT(!(options.disable_wal && options.sync_writes));
  LEDGER_ASSERT(!options.replay_only || options.disable_wal);
  std::unique_ptr<Ledger> ledger(new Ledger(db, std::move(consortium), options));
  RETURN_IF_ERROR(ledger->load());
  return ledger;
}

base::Status Ledger::write(rocksdb::WriteBatch& batch, const std::string& what) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  wo.disableWAL = options_.disable_wal;
  return from_rocks(db_.db()->Write(wo, &batch), what);
}

base::Status Ledger::load() {
  const Hash& genesis_root = consortium_->genesis_state_root();
  std::string stored_root;
  rocksdb::Status s =
      db_.db()->Get(rocksdb::ReadOptions(), meta_cf_, internal::kMetaGenesis, &stored_root);
  if (s.IsNotFound()) {
    // A new database: block 0 commits to the genesis file.
    v1::BlockHeader genesis = genesis_header(consortium_->genesis_bytes());
    v1::Block stored;
    *stored.mutable_header() = genesis;
    rocksdb::WriteBatch batch;
    batch.Put(blocks_cf_, block_key(0), stored.SerializeAsString());
    batch.Put(meta_cf_, internal::kMetaGenesis, as_view(genesis_root));
    batch.Put(meta_cf_, internal::kMetaHead, genesis.SerializeAsString());
    RETURN_IF_ERROR(write(batch, "write genesis block"));
  } else {
    RETURN_IF_ERROR(from_rocks(s, "read genesis marker"));
    if (stored_root != as_view(genesis_root)) {
      return base::Status::invalid_argument(
          "database " + db_.path() + " was created for another genesis (state root " +
          to_hex(stored_root) + "); this genesis has state root " + to_hex(genesis_root));
    }
  }
  std::string head_bytes;
  RETURN_IF_ERROR(from_rocks(
      db_.db()->Get(rocksdb::ReadOptions(), meta_cf_, internal::kMetaHead, &head_bytes),
      "read applied head"));
  v1::BlockHeader head;
  RETURN_IF_ERROR(parse_stored(head_bytes, head, "applied head"));
  ASSIGN_OR_RETURN(Hash hash, block_hash(head));
  ASSIGN_OR_RETURN(frontier_, MerkleFrontier::load(*merkle_reader_, head.tree_size()));
  if (as_view(frontier_.root()) != head.merkle_root()) {
    return base::Status::corruption("stored merkle nodes do not give the root of block " +
                                    std::to_string(head.height()));
  }
  std::string cursor;
  uint64_t cursor_value = 0;
  s = db_.db()->Get(rocksdb::ReadOptions(), meta_cf_, internal::kMetaCursor, &cursor);
  if (!s.IsNotFound()) {
    RETURN_IF_ERROR(from_rocks(s, "read log position"));
    if (cursor.size() != 8) return base::Status::corruption("stored log position is malformed");
    cursor_value = get_u64(cursor);
  }
  std::lock_guard<std::mutex> lock(head_mutex_);
  head_ = std::move(head);
  head_hash_ = hash;
  cursor_ = cursor_value;
  return base::Status::ok();
}

v1::BlockHeader Ledger::head() const {
  std::lock_guard<std::mutex> lock(head_mutex_);
  return head_;
}

Hash Ledger::head_hash() const {
  std::lock_guard<std::mutex> lock(head_mutex_);
  return head_hash_;
}

base::Result<std::optional<v1::EventLocation>> Ledger::find_location(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_.db()->Get(rocksdb::ReadOptions(), index_cf_, key, &value);
  if (s.IsNotFound()) return std::optional<v1::EventLocation>();
  RETURN_IF_ERROR(from_rocks(s, "read event index"));
  v1::EventLocation loc;
  RETURN_IF_ERROR(parse_stored(value, loc, "event index entry"));
  return std::optional<v1::EventLocation>(std::move(loc));
}

base::Result<std::optional<v1::ViewEntry>> Ledger::read_view_entry(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_.db()->Get(rocksdb::ReadOptions(), view_cf_, key, &value);
  if (s.IsNotFound()) return std::optional<v1::ViewEntry>();
  RETURN_IF_ERROR(from_rocks(s, "read view entry"));
  v1::ViewEntry entry;
  RETURN_IF_ERROR(parse_stored(value, entry, "view entry"));
  return std::optional<v1::ViewEntry>(std::move(entry));
}

base::Result<v1::Block> Ledger::build_block(const v1::BlockBody& body, const ApplyInput& input,
                                            rocksdb::WriteBatch& batch,
                                            MerkleFrontier& frontier) const {
  const std::vector<SignatureState>* signatures = input.signatures;
  const uint64_t log_index = input.log_index.value_or(0);
  const bool keep_all = !options_.replay_only;
  LEDGER_ASSERT(signatures == nullptr ||
                signatures->size() == static_cast<size_t>(body.events_size()));
  LEDGER_ASSERT(input.event_hashes == nullptr ||
                input.event_hashes->size() == static_cast<size_t>(body.events_size()));
  v1::BlockHeader prev;
  Hash prev_hash;
  {
    std::lock_guard<std::mutex> lock(head_mutex_);
    prev = head_;
    prev_hash = head_hash_;
  }
  LEDGER_ASSERT(frontier.size() == prev.tree_size());
  const uint64_t height = prev.height() + 1;
  const int64_t timestamp_ms = std::max(body.timestamp_ms(), prev.timestamp_ms());

  Overlay overlay;
  base::Status lookup_error;  // a storage error met inside a validation lookup
  auto location_of = [&](const std::string& id) -> std::optional<v1::EventLocation> {
    auto it = overlay.accepted.find(id);
    if (it != overlay.accepted.end()) return it->second;
    auto loc = find_location(accepted_id_key(id));
    if (!loc.is_ok()) {
      lookup_error = loc.status();
      return std::nullopt;
    }
    return *loc;
  };
  // The view entry of an accepted event, loaded into the overlay so that it can be changed.
  auto entry_of = [&](const std::string& id) -> v1::ViewEntry* {
    std::optional<v1::EventLocation> loc = location_of(id);
    if (!loc) return nullptr;
    const std::string key = view_key(loc->subject(), loc->receipt().sequence());
    auto it = overlay.view.find(key);
    if (it != overlay.view.end()) return &it->second;
    auto entry = read_view_entry(key);
    if (!entry.is_ok()) {
      lookup_error = entry.status();
      return nullptr;
    }
    if (!entry->has_value()) {
      lookup_error = base::Status::corruption("event '" + id + "' is indexed but has no view entry");
      return nullptr;
    }
    return &overlay.view.emplace(key, std::move(**entry)).first->second;
  };
  LedgerLookup lookup{
      [&](const std::string& id) {
        if (REPLICA_BUG(kDuplicateCheckBatchOnly)) return overlay.accepted.count(id) > 0;
        return location_of(id).has_value();
      },
      [&](const std::string& id) -> std::optional<v1::ViewEntry> {
        v1::ViewEntry* e = entry_of(id);
        return e ? std::optional<v1::ViewEntry>(*e) : std::nullopt;
      }};

  v1::Block block;
  std::vector<Hash> event_hashes;
  event_hashes.reserve(body.events_size());
  const uint64_t first_sequence = frontier.size();
  uint32_t accepted_count = 0;

  for (int i = 0; i < body.events_size(); ++i) {
    const v1::SignedEvent& signed_event = body.events(i);
    const SignatureState signature =
        signatures ? (*signatures)[static_cast<size_t>(i)] : SignatureState::kUnchecked;
    StaticCheck checked = check_event_static(*consortium_, signed_event, signature);
    std::optional<Rejection> rejection = checked.rejection;
    if (!rejection) {
      rejection = check_event_stateful(*consortium_, checked.event, timestamp_ms, lookup);
      RETURN_IF_ERROR(lookup_error);
    }
    const v1::CreditEvent& e = checked.event;
    const Hash hash = input.event_hashes ? (*input.event_hashes)[static_cast<size_t>(i)]
                                         : event_hash(signed_event);
    event_hashes.push_back(hash);

    v1::Receipt& receipt = *block.add_receipts();
    receipt.set_event_id(checked.parsed ? e.event_id() : "");
    receipt.set_event_hash(to_string(hash));
    receipt.set_height(height);
    receipt.set_index(static_cast<uint32_t>(i));
    v1::EventLocation location;
    location.set_height(height);
    location.set_index(static_cast<uint32_t>(i));

    if (rejection) {
      receipt.set_accepted(false);
      receipt.set_reason(rejection->reason);
      receipt.set_message(rejection->message);
      *location.mutable_receipt() = receipt;
      if (keep_all && checked.parsed && !e.event_id().empty() &&
          e.event_id().size() <= kEventIdBytesMax) {
        batch.Put(index_cf_, rejected_id_key(e.event_id()), location.SerializeAsString());
      }
    } else {
      const uint64_t sequence = frontier.size();
      receipt.set_accepted(true);
      receipt.set_sequence(sequence);
      *location.mutable_receipt() = receipt;
      *location.mutable_subject() = e.subject();
      frontier.append(hash, [&](const MerkleFrontier::NewNode& node) {
        if (keep_all) batch.Put(merkle_cf_, merkle_key(node.level, node.index), as_view(node.hash));
      });
      batch.Put(index_cf_, accepted_id_key(e.event_id()), location.SerializeAsString());
      if (keep_all) {
        std::string position;
        put_u64(position, height);
        put_u32(position, static_cast<uint32_t>(i));
        batch.Put(index_cf_, sequence_key(sequence), position);
      }

      // What this event does to the entries it acts on. The stateful check has already
      // established that each target exists and may be changed.
      switch (e.kind()) {
        case v1::BLACKLIST_REMOVAL:
        case v1::RESTORATION:
        case v1::CORRECTION: {
          v1::ViewEntry* target = entry_of(e.refers_to());
          LEDGER_ASSERT(target != nullptr);
          LEDGER_ASSERT(target->ended_at_ms() == 0);
          target->set_ended_at_ms(e.effective_at_ms());
          target->set_ended_by_kind(e.kind());
          target->set_ended_by_event_id(e.event_id());
          break;
        }
        case v1::OBJECTION: {
          v1::ViewEntry* target = entry_of(e.refers_to());
          LEDGER_ASSERT(target != nullptr);
          v1::Dispute* d = target->add_disputes();
          d->set_objection_event_id(e.event_id());
          d->set_from_ms(e.effective_at_ms());
          break;
        }
        case v1::OBJECTION_RULING: {
          v1::ViewEntry* objection = entry_of(e.refers_to());
          LEDGER_ASSERT(objection != nullptr);
          objection->set_ended_at_ms(e.effective_at_ms());
          objection->set_ended_by_kind(e.kind());
          objection->set_ended_by_event_id(e.event_id());
          objection->set_ruling(e.ruling());
          const std::string objection_id = objection->event_id();
          v1::ViewEntry* entry = entry_of(objection->refers_to());
          LEDGER_ASSERT(entry != nullptr);
          for (v1::Dispute& d : *entry->mutable_disputes()) {
            if (d.objection_event_id() == objection_id) {
              d.set_until_ms(e.effective_at_ms());
              d.set_ruling(e.ruling());
            }
          }
          if (e.ruling() == v1::OVERTURNED && entry->ended_at_ms() == 0) {
            entry->set_ended_at_ms(e.effective_at_ms());
            entry->set_ended_by_kind(e.kind());
            entry->set_ended_by_event_id(e.event_id());
          }
          break;
        }
        case v1::BLACKLIST_ENTRY: {
          if (!keep_all) break;
          std::string key = internal::blacklist_prefix(e.sector()) +
                            internal::subject_bytes(e.subject());
          put_u64(key, sequence);
          batch.Put(view_cf_, key, "");
          break;
        }
        default:
          break;
      }
      RETURN_IF_ERROR(lookup_error);
      overlay.accepted[e.event_id()] = location;
      overlay.view[view_key(e.subject(), sequence)] =
          internal::make_entry(e, sequence, height, timestamp_ms);
      ++accepted_count;
    }
    if (keep_all) batch.Put(events_cf_, event_key(height, static_cast<uint32_t>(i)),
              signed_event.SerializeAsString());
    if (input.include_events) *block.add_events() = signed_event;
  }

  for (const auto& [key, entry] : overlay.view) batch.Put(view_cf_, key, entry.SerializeAsString());

  v1::BlockHeader& header = *block.mutable_header();
  header.set_height(height);
  header.set_prev_hash(to_string(prev_hash));
  header.set_merkle_root(to_string(frontier.root()));
  header.set_tree_size(frontier.size());
  header.set_events_root(to_string(merkle_root_of(event_hashes)));
  ASSIGN_OR_RETURN(Hash prev_state_root, hash_from_bytes(prev.state_root()));
  header.set_state_root(
      to_string(next_state_root(prev_state_root, height, receipts_hash(block.receipts()))));
  header.set_timestamp_ms(timestamp_ms);
  header.set_first_sequence(first_sequence);
  header.set_accepted_count(accepted_count);
  header.set_event_count(static_cast<uint32_t>(body.events_size()));
  LEDGER_ASSERT(header.tree_size() == first_sequence + accepted_count);

  block.set_log_index(log_index);
  if (keep_all) {
    v1::Block stored;
    *stored.mutable_header() = header;
    *stored.mutable_receipts() = block.receipts();
    stored.set_log_index(log_index);
    batch.Put(blocks_cf_, block_key(height), stored.SerializeAsString());
  }
  batch.Put(meta_cf_, internal::kMetaHead, header.SerializeAsString());
  return block;
}

base::Result<v1::Block> Ledger::apply(const v1::BlockBody& body,
                                      const std::vector<SignatureState>* signatures,
                                      std::optional<uint64_t> log_index) {
  ApplyInput input;
  input.signatures = signatures;
  input.log_index = log_index;
  return apply(body, input);
}

base::Result<v1::Block> Ledger::apply(const v1::BlockBody& body, const ApplyInput& input) {
  const std::optional<uint64_t> log_index = input.log_index;
  rocksdb::WriteBatch batch;
  MerkleFrontier frontier = frontier_;
  ASSIGN_OR_RETURN(v1::Block block, build_block(body, input, batch, frontier));
  ASSIGN_OR_RETURN(Hash hash, block_hash(block.header()));
  if (log_index) {
    std::string value;
    put_u64(value, *log_index);
    batch.Put(meta_cf_, internal::kMetaCursor, value);
  }
  RETURN_IF_ERROR(write(batch, "write block " + std::to_string(block.header().height())));
  frontier_ = std::move(frontier);
  std::lock_guard<std::mutex> lock(head_mutex_);
  head_ = block.header();
  head_hash_ = hash;
  if (log_index) cursor_ = *log_index;
  return block;
}

uint64_t Ledger::cursor() const {
  std::lock_guard<std::mutex> lock(head_mutex_);
  return cursor_;
}

base::Status Ledger::set_cursor(uint64_t log_index) {
  std::string value;
  put_u64(value, log_index);
  RETURN_IF_ERROR(from_rocks(db_.db()->Put(rocksdb::WriteOptions(), meta_cf_, internal::kMetaCursor,
                                           value),
                             "record log position"));
  std::lock_guard<std::mutex> lock(head_mutex_);
  cursor_ = log_index;
  return base::Status::ok();
}

base::Status Ledger::apply_block(const v1::Block& block,
                                 const std::vector<SignatureState>* signatures,
                                 uint64_t log_index) {
  const v1::BlockHeader& want = block.header();
  const uint64_t next = head().height() + 1;
  if (want.height() != next) {
    return base::Status::invalid_argument("block " + std::to_string(want.height()) +
                                          " is not the next block; expected height " +
                                          std::to_string(next));
  }
  v1::BlockBody body;
  body.set_timestamp_ms(want.timestamp_ms());
  *body.mutable_events() = block.events();
  rocksdb::WriteBatch batch;
  MerkleFrontier frontier = frontier_;
  ApplyInput input;
  input.signatures = signatures;
  input.log_index = log_index;
  ASSIGN_OR_RETURN(v1::Block got, build_block(body, input, batch, frontier));
  const v1::BlockHeader& have = got.header();
  const std::string at = "block " + std::to_string(want.height()) + ": ";
  auto mismatch = [&](const char* field, const std::string& expected, const std::string& found) {
    return base::Status::corruption(at + field + " differs: block says " + expected +
                                    ", replaying its events gives " + found);
  };
  if (want.prev_hash() != have.prev_hash()) {
    return mismatch("prev_hash", to_hex(want.prev_hash()), to_hex(have.prev_hash()));
  }
  if (want.timestamp_ms() != have.timestamp_ms()) {
    return mismatch("timestamp_ms", std::to_string(want.timestamp_ms()),
                    std::to_string(have.timestamp_ms()));
  }
  if (want.events_root() != have.events_root()) {
    return mismatch("events_root", to_hex(want.events_root()), to_hex(have.events_root()));
  }
  for (int i = 0; i < got.receipts_size() && i < block.receipts_size(); ++i) {
    const v1::Receipt& a = block.receipts(i);
    const v1::Receipt& b = got.receipts(i);
    if (a.accepted() != b.accepted() || a.reason() != b.reason() || a.sequence() != b.sequence()) {
      return base::Status::corruption(
          at + "receipt of event " + std::to_string(i) + " differs: block says " +
          (a.accepted() ? "accepted" : "rejected (" + v1::RejectReason_Name(a.reason()) + ")") +
          ", replaying gives " +
          (b.accepted() ? "accepted" : "rejected (" + v1::RejectReason_Name(b.reason()) + ")"));
    }
  }
  if (block.receipts_size() != 0 && block.receipts_size() != got.receipts_size()) {
    return mismatch("receipt count", std::to_string(block.receipts_size()),
                    std::to_string(got.receipts_size()));
  }
  if (want.first_sequence() != have.first_sequence() ||
      want.accepted_count() != have.accepted_count() ||
      want.event_count() != have.event_count() || want.tree_size() != have.tree_size()) {
    return mismatch("event counts (first_sequence/accepted_count/event_count/tree_size)",
                    std::to_string(want.first_sequence()) + "/" +
                        std::to_string(want.accepted_count()) + "/" +
                        std::to_string(want.event_count()) + "/" + std::to_string(want.tree_size()),
                    std::to_string(have.first_sequence()) + "/" +
                        std::to_string(have.accepted_count()) + "/" +
                        std::to_string(have.event_count()) + "/" + std::to_string(have.tree_size()));
  }
  if (want.merkle_root() != have.merkle_root()) {
    return mismatch("merkle_root", to_hex(want.merkle_root()), to_hex(have.merkle_root()));
  }
  if (want.state_root() != have.state_root()) {
    return mismatch("state_root", to_hex(want.state_root()), to_hex(have.state_root()));
  }
  ASSIGN_OR_RETURN(Hash hash, block_hash(have));
  // As in apply(): the log position goes into the block's own atomic write. The owner skips the
  // entries at or below cursor(); a synced block that left it behind would have the entries it
  // already holds applied again as new blocks (if they commit during the sync, if the log is
  // kept, or after a crash), forking the chain. The cursor never moves back.
  const bool advance_cursor = log_index != 0 && log_index > cursor();
  if (advance_cursor) {
    std::string value;
    put_u64(value, log_index);
    batch.Put(meta_cf_, internal::kMetaCursor, value);
  }
  RETURN_IF_ERROR(write(batch, "write block " + std::to_string(have.height())));
  frontier_ = std::move(frontier);
  std::lock_guard<std::mutex> lock(head_mutex_);
  head_ = have;
  head_hash_ = hash;
  if (advance_cursor) cursor_ = log_index;
  return base::Status::ok();
}

base::Result<v1::BlockHeader> Ledger::header(uint64_t height) const {
  std::string value;
  rocksdb::Status s = db_.db()->Get(rocksdb::ReadOptions(), blocks_cf_, block_key(height), &value);
  if (s.IsNotFound()) {
    return base::Status::not_found("no block at height " + std::to_string(height));
  }
  RETURN_IF_ERROR(from_rocks(s, "read block " + std::to_string(height)));
  v1::Block stored;
  RETURN_IF_ERROR(parse_stored(value, stored, "block " + std::to_string(height)));
  return stored.header();
}

base::Result<v1::Block> Ledger::block(uint64_t height) const {
  const std::string at = "block " + std::to_string(height);
  std::string value;
  rocksdb::Status s = db_.db()->Get(rocksdb::ReadOptions(), blocks_cf_, block_key(height), &value);
  if (s.IsNotFound()) return base::Status::not_found("no block at height " + std::to_string(height));
  RETURN_IF_ERROR(from_rocks(s, "read " + at));
  v1::Block block;
  RETURN_IF_ERROR(parse_stored(value, block, at));
  const v1::BlockHeader& header = block.header();
  if (header.height() != height) {
    return base::Status::corruption(at + " is stored with height " + std::to_string(header.height()));
  }
  std::vector<Hash> hashes;
  hashes.reserve(header.event_count());
  rocksdb::ReadOptions ro;
  const std::string lower = event_key(height, 0);
  const std::string upper = event_key(height + 1, 0);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, events_cf_));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    v1::SignedEvent& e = *block.add_events();
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return base::Status::corruption(at + " event " + std::to_string(block.events_size() - 1) +
                                      " does not parse");
    }
    hashes.push_back(event_hash(e));
  }
  RETURN_IF_ERROR(from_rocks(it->status(), "read events of " + at));
  if (static_cast<uint32_t>(block.events_size()) != header.event_count()) {
    return base::Status::corruption(at + " has " + std::to_string(block.events_size()) +
                                    " stored events; its header says " +
                                    std::to_string(header.event_count()));
  }
  if (as_view(merkle_root_of(hashes)) != header.events_root()) {
    return base::Status::corruption(at + ": stored events do not hash to the header's events root");
  }
  if (height > 0) {
    ASSIGN_OR_RETURN(v1::BlockHeader parent, this->header(height - 1));
    ASSIGN_OR_RETURN(Hash parent_hash, block_hash(parent));
    if (as_view(parent_hash) != header.prev_hash()) {
      return base::Status::corruption(at + ": prev_hash does not match the hash of block " +
                                      std::to_string(height - 1));
    }
    // The stored receipts must be the ones the state root committed to.
    if (block.receipts_size() != block.events_size()) {
      return base::Status::corruption(at + " has " + std::to_string(block.receipts_size()) +
                                      " receipts for " + std::to_string(block.events_size()) +
                                      " events");
    }
    for (const v1::Receipt& r : block.receipts()) {
      if (r.event_hash().size() != 32) {
        return base::Status::corruption(at + ": a receipt's event hash is not 32 bytes");
      }
    }
    auto parent_root = hash_from_bytes(parent.state_root());
    if (!parent_root.is_ok()) {
      return base::Status::corruption("block " + std::to_string(height - 1) +
                                      ": state root is not 32 bytes");
    }
    if (as_view(next_state_root(*parent_root, height, receipts_hash(block.receipts()))) !=
        header.state_root()) {
      return base::Status::corruption(at + ": stored receipts do not give the header's state root");
    }
  }
  return block;
}

base::Result<EventRecord> Ledger::event(const std::string& event_id) const {
  ASSIGN_OR_RETURN(std::optional<v1::EventLocation> loc, find_location(accepted_id_key(event_id)));
  bool accepted = loc.has_value();
  if (!accepted) {
    ASSIGN_OR_RETURN(loc, find_location(rejected_id_key(event_id)));
    if (!loc) return base::Status::not_found("no event '" + event_id + "' on the ledger");
  }
  EventRecord record;
  record.location = *loc;
  std::string value;
  RETURN_IF_ERROR(from_rocks(db_.db()->Get(rocksdb::ReadOptions(), events_cf_,
                                           event_key(loc->height(), loc->index()), &value),
                             "read event '" + event_id + "'"));
  RETURN_IF_ERROR(parse_stored(value, record.signed_event, "event '" + event_id + "'"));
  if (as_view(event_hash(record.signed_event)) != loc->receipt().event_hash()) {
    return base::Status::corruption("event '" + event_id + "' at block " +
                                    std::to_string(loc->height()) +
                                    " does not match the hash in its receipt");
  }
  if (accepted) {
    ASSIGN_OR_RETURN(record.entry,
                     read_view_entry(view_key(loc->subject(), loc->receipt().sequence())));
  }
  return record;
}

base::Result<v1::SignedEvent> Ledger::event_at_sequence(uint64_t sequence) const {
  std::string position;
  rocksdb::Status s =
      db_.db()->Get(rocksdb::ReadOptions(), index_cf_, sequence_key(sequence), &position);
  if (s.IsNotFound()) {
    return base::Status::not_found("no accepted event with sequence " + std::to_string(sequence));
  }
  RETURN_IF_ERROR(from_rocks(s, "read sequence index"));
  if (position.size() != 12) return base::Status::corruption("sequence index entry is malformed");
  std::string value;
  RETURN_IF_ERROR(from_rocks(
      db_.db()->Get(rocksdb::ReadOptions(), events_cf_,
                    event_key(get_u64(position), get_u32(std::string_view(position).substr(8))),
                    &value),
      "read event with sequence " + std::to_string(sequence)));
  v1::SignedEvent event;
  RETURN_IF_ERROR(parse_stored(value, event, "event with sequence " + std::to_string(sequence)));
  return event;
}

namespace {

base::Status check_height_below(uint64_t at_height, uint64_t head_height) {
  if (at_height > head_height) {
    return base::Status::unavailable("height " + std::to_string(at_height) +
                                     " is not applied on this node yet (its head is " +
                                     std::to_string(head_height) + ")");
  }
  return base::Status::ok();
}

}  // namespace

base::Status Ledger::check_height(uint64_t at_height) const {
  return check_height_below(at_height, head().height());
}

base::Result<v1::SubjectStatus> Ledger::status(const v1::Subject& subject, int64_t as_of_ms,
                                               uint64_t at_height) const {
  if (auto bad = check_subject(subject)) return base::Status::invalid_argument(bad->message);
  // One snapshot for the head and the entries, so the answer names the height it reflects.
  const rocksdb::Snapshot* snapshot = db_.db()->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db_.db(), snapshot};
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string head_bytes;
  RETURN_IF_ERROR(from_rocks(db_.db()->Get(ro, meta_cf_, internal::kMetaHead, &head_bytes),
                             "read applied head"));
  v1::BlockHeader head;
  RETURN_IF_ERROR(parse_stored(head_bytes, head, "applied head"));

  const std::string prefix = internal::subject_prefix(subject);
  const std::string upper = successor(prefix);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, view_cf_));
  std::vector<v1::ViewEntry> entries;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    v1::ViewEntry& e = entries.emplace_back();
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return base::Status::corruption("a view entry of subject " + subject.id() + " does not parse");
    }
  }
  RETURN_IF_ERROR(from_rocks(it->status(), "read view of subject " + subject.id()));
  RETURN_IF_ERROR(check_height_below(at_height, head.height()));
  const uint64_t height = at_height == 0 ? head.height() : at_height;
  if (height < head.height()) entries = entries_at_height(entries, height);
  v1::SubjectStatus out = evaluate_subject(*consortium_, subject, entries, as_of_ms);
  out.set_height(height);
  return out;
}

base::Result<ViewPage> Ledger::history(const v1::Subject& subject, const std::string& page_token,
                                       size_t limit, uint64_t at_height) const {
  if (auto bad = check_subject(subject)) return base::Status::invalid_argument(bad->message);
  LEDGER_ASSERT(limit > 0);
  RETURN_IF_ERROR(check_height(at_height));
  const std::string prefix = internal::subject_prefix(subject);
  std::string start = prefix;
  if (!page_token.empty()) {
    auto raw = from_hex(page_token);
    // The largest sequence is never handed out (and + 1 would wrap to the first page).
    if (!raw.is_ok() || raw->size() != 8 || get_u64(*raw) == std::numeric_limits<uint64_t>::max()) {
      return base::Status::invalid_argument("page token is not one this ledger handed out");
    }
    start = view_key(subject, get_u64(*raw) + 1);
  }
  const std::string upper = successor(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, view_cf_));
  ViewPage page;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (page.entries.size() == limit) {
      std::string seq;
      put_u64(seq, page.entries.back().sequence());
      page.next_page_token = to_hex(seq);
      break;
    }
    v1::ViewEntry& e = page.entries.emplace_back();
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return base::Status::corruption("a view entry of subject " + subject.id() + " does not parse");
    }
  }
  RETURN_IF_ERROR(from_rocks(it->status(), "read history of subject " + subject.id()));
  if (at_height != 0) {
    // Entries of this page recorded by `at_height`, with later changes undone. Sequence order is
    // height order, so the first entry above it ends the history.
    std::vector<v1::ViewEntry> kept;
    for (v1::ViewEntry& e : page.entries) {
      if (e.height() > at_height) {
        page.next_page_token.clear();
        break;
      }
      ASSIGN_OR_RETURN(std::optional<v1::ViewEntry> at, entry_at_height_from_index(e, at_height));
      if (at) kept.push_back(std::move(*at));
    }
    page.entries = std::move(kept);
  }
  return page;
}

base::Result<std::optional<v1::ViewEntry>> Ledger::entry_at_height_from_index(
    const v1::ViewEntry& entry, uint64_t at_height) const {
  base::Status failed = base::Status::ok();
  const EntryLookup find = [&](const std::string& event_id) -> std::optional<v1::ViewEntry> {
    auto loc = find_location(accepted_id_key(event_id));
    if (!loc.is_ok() || !loc->has_value()) {
      if (!loc.is_ok()) failed = loc.status();
      return std::nullopt;
    }
    auto found = read_view_entry(view_key((*loc)->subject(), (*loc)->receipt().sequence()));
    if (!found.is_ok()) {
      failed = found.status();
      return std::nullopt;
    }
    return *found;
  };
  std::optional<v1::ViewEntry> out = entry_at_height(entry, at_height, find);
  RETURN_IF_ERROR(failed);
  return out;
}

base::Result<ViewPage> Ledger::blacklist(v1::Sector sector, int64_t as_of_ms,
                                         const std::string& page_token, size_t limit,
                                         uint64_t at_height) const {
  LEDGER_ASSERT(limit > 0);
  RETURN_IF_ERROR(check_height(at_height));
  const std::string prefix = internal::blacklist_prefix(sector);
  std::string start = prefix;
  if (!page_token.empty()) {
    auto raw = from_hex(page_token);
    if (!raw.is_ok()) return base::Status::invalid_argument("page token is not one this ledger handed out");
    start = prefix + *raw + '\0';  // just after the last key of the previous page
  }
  const std::string upper = successor(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(ro, view_cf_));
  ViewPage page;
  std::string last_suffix;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (page.entries.size() == limit) {
      page.next_page_token = to_hex(last_suffix);
      break;
    }
    const std::string suffix = it->key().ToString().substr(prefix.size());
    last_suffix = suffix;
    ASSIGN_OR_RETURN(std::optional<v1::ViewEntry> entry, read_view_entry("s" + suffix));
    if (!entry) return base::Status::corruption("blacklist index names a missing view entry");
    if (at_height != 0) {
      ASSIGN_OR_RETURN(entry, entry_at_height_from_index(*entry, at_height));
    }
    if (entry && entry_active_at(*entry, as_of_ms)) page.entries.push_back(std::move(*entry));
  }
  RETURN_IF_ERROR(from_rocks(it->status(), "read blacklist"));
  return page;
}

}  // namespace ledger
