#include "ledger/audit.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "ledger/block.h"
#include "ledger/db.h"
#include "ledger/event.h"
#include "ledger/export.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/validation.h"

namespace ledger {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string receipt_text(const v1::Receipt& r) {
  if (r.accepted()) return "accepted as sequence " + std::to_string(r.sequence());
  return "rejected (" + v1::RejectReason_Name(r.reason()) + ": " + r.message() + ")";
}

// ---- the verify pipeline: reader thread -> signature workers -> applier (caller) ----

// One block read from the export, with the pool's results.
struct Pending {
  v1::Block block;
  uint64_t offset = 0;
  std::optional<base::Status> read_error;  // the reader failed here (corruption or I/O)
  bool end = false;                        // clean end of the export
  std::vector<SignatureState> signatures;  // filled by workers
  std::vector<Hash> hashes;                // filled by workers
  size_t chunks_left = 0;                  // GUARDED_BY(Pipeline::mu)
};

struct Job {
  Pending* pending;
  int begin;
  int end;
};

class Pipeline {
 public:
  Pipeline(const Consortium& consortium, ChainReader& reader, const AuditOptions& options,
           unsigned threads)
      : consortium_(consortium), reader_(reader), options_(options) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    reader_thread_ = std::thread([this] { read(); });
  }

  ~Pipeline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    space_cv_.notify_all();
    done_cv_.notify_all();
    reader_thread_.join();
    for (std::thread& t : workers_) t.join();
  }

  // The next block in export order once every signature in it has been checked.
  std::shared_ptr<Pending> next() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return !ready_.empty() && ready_.front()->chunks_left == 0; });
    std::shared_ptr<Pending> p = std::move(ready_.front());
    ready_.pop_front();
    events_in_flight_ -= static_cast<size_t>(p->block.events_size());
    lock.unlock();
    space_cv_.notify_one();
    return p;
  }

 private:
  void read() {
    for (;;) {
      auto p = std::make_shared<Pending>();
      auto r = reader_.next();
      p->offset = reader_.record_offset();
      if (!r.is_ok()) {
        p->read_error = r.status();
      } else if (!r->has_value()) {
        p->end = true;
      } else {
        p->block = std::move(**r);
      }
      const size_t n = static_cast<size_t>(p->block.events_size());
      const bool last = p->read_error.has_value() || p->end;
      std::unique_lock<std::mutex> lock(mu_);
      space_cv_.wait(lock, [&] {
        return stop_ || ready_.empty() ||
               (events_in_flight_ + n <= options_.events_in_flight_max &&
                ready_.size() < options_.blocks_in_flight_max);
      });
      if (stop_) return;
      events_in_flight_ += n;
      p->signatures.assign(n, SignatureState::kUnchecked);
      p->hashes.assign(n, Hash{});
      const int chunk = static_cast<int>(std::max<size_t>(1, options_.verify_chunk_events));
      for (int b = 0; b < static_cast<int>(n); b += chunk) {
        jobs_.push_back(Job{p.get(), b, std::min(static_cast<int>(n), b + chunk)});
        ++p->chunks_left;
      }
      ready_.push_back(std::move(p));
      lock.unlock();
      work_cv_.notify_all();
      done_cv_.notify_one();
      if (last) return;
    }
  }

  void work() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      Job job = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      for (int i = job.begin; i < job.end; ++i) {
        const v1::SignedEvent& e = job.pending->block.events(i);
        job.pending->signatures[static_cast<size_t>(i)] =
            verify_event_signature(consortium_, e) ? SignatureState::kValid
                                                   : SignatureState::kInvalid;
        job.pending->hashes[static_cast<size_t>(i)] = event_hash(e);
      }
      lock.lock();
      if (--job.pending->chunks_left == 0) {
        lock.unlock();
        done_cv_.notify_one();
      }
    }
  }

  const Consortium& consortium_;
  ChainReader& reader_;
  const AuditOptions& options_;
  std::mutex mu_;
  std::condition_variable work_cv_;   // jobs_ non-empty or stop_
  std::condition_variable done_cv_;   // front of ready_ may be complete
  std::condition_variable space_cv_;  // room in the window
  std::deque<Job> jobs_;                        // GUARDED_BY(mu_)
  std::deque<std::shared_ptr<Pending>> ready_;  // GUARDED_BY(mu_), export order
  size_t events_in_flight_ = 0;                 // GUARDED_BY(mu_)
  bool stop_ = false;                           // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
  std::thread reader_thread_;
};

// A temporary directory removed (with the replay database) on destruction.
class ScratchDir {
 public:
  // Makes `parent` first if it does not exist yet (like mkdir -p).
  static base::Result<std::unique_ptr<ScratchDir>> make(const std::string& parent) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return base::Status::io_error("cannot create the work directory " + parent + ": " +
                                    ec.message());
    }
    std::string pattern = parent + "/credaudit-replay-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return base::Status::io_error("cannot create a replay directory under " + parent + ": " +
                                    std::strerror(errno));
    }
    return std::unique_ptr<ScratchDir>(new ScratchDir(pattern));
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

class Verifier {
 public:
  Verifier(std::shared_ptr<const Consortium> consortium, const AuditOptions& options,
           AuditResult& result)
      : consortium_(std::move(consortium)), options_(options), result_(result) {}

  // Returns false to stop (result_ holds the failure or error).
  bool block(Pending& p);
  bool finish();
  base::Status open(const std::string& dir);

 private:
  // Records the first failure. Blocks are checked in export order, so the failing block's
  // height is the one that had to come next (whatever its header claims) unless given.
  bool fail(std::string check, const Pending& p, std::optional<uint32_t> index,
            std::string expected, std::string found, std::string detail,
            std::optional<uint64_t> height = std::nullopt);
  bool check_checkpoint(const Pending& p, const Hash& hash);
  std::string agency_of(const std::string& key_id) const {
    const Consortium::KeyInfo* key = consortium_->find_key(key_id);
    return key ? key->agency->id() : "(unknown key)";
  }

  std::shared_ptr<const Consortium> consortium_;
  const AuditOptions& options_;
  AuditResult& result_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Ledger> ledger_;
  uint64_t next_height_ = 0;
};

base::Status Verifier::open(const std::string& dir) {
  ASSIGN_OR_RETURN(db_, Database::open(dir + "/db", Database::Options{}));
  ASSIGN_OR_RETURN(ledger_,
                   Ledger::open(*db_, consortium_,
                                LedgerOptions{
                                    .sync_writes = false, .disable_wal = true, .replay_only = true}));
  return base::Status::ok();
}

bool Verifier::fail(std::string check, const Pending& p, std::optional<uint32_t> index,
                    std::string expected, std::string found, std::string detail,
                    std::optional<uint64_t> height) {
  AuditFailure f;
  f.check = std::move(check);
  f.height = height.value_or(next_height_);
  f.event_index = index;
  f.byte_offset = p.offset;
  f.expected = std::move(expected);
  f.found = std::move(found);
  f.detail = std::move(detail);
  result_.failure = std::move(f);
  return false;
}

bool Verifier::block(Pending& p) {
  const v1::Block& block = p.block;
  const v1::BlockHeader& want = block.header();
  const uint64_t h = want.height();
  const std::string at = "block " + std::to_string(h);
  if (h != next_height_) {
    return fail("height", p, std::nullopt, std::to_string(next_height_), std::to_string(h),
                "the export's block at byte " + std::to_string(p.offset) + " has height " +
                    std::to_string(h) + " where height " + std::to_string(next_height_) +
                    " must come (blocks missing, repeated or out of order)");
  }
  if (h == 0) {
    // Block 0 commits to the genesis file; the replay database already holds it.
    const v1::BlockHeader genesis = genesis_header(consortium_->genesis_bytes());
    if (want.state_root() != genesis.state_root()) {
      return fail("genesis", p, std::nullopt, to_hex(want.state_root()),
                  to_hex(genesis.state_root()),
                  "block 0 commits to another genesis file than the one given");
    }
    if (want.SerializeAsString() != genesis.SerializeAsString() || block.events_size() != 0 ||
        block.receipts_size() != 0) {
      return fail("genesis", p, std::nullopt, want.ShortDebugString(),
                  genesis.ShortDebugString(), "block 0 is not the genesis header");
    }
    ++next_height_;
    ++result_.summary.blocks;
    auto hash = block_hash(want);
    LEDGER_ASSERT(hash.is_ok());
    result_.summary.head = v1::Checkpoint();
    result_.summary.head.set_root_hash(want.merkle_root());
    result_.summary.head.set_block_hash(to_string(*hash));
    result_.summary.head.set_state_root(want.state_root());
    return check_checkpoint(p, *hash);
  }

  const Hash prev = ledger_->head_hash();
  if (want.prev_hash() != as_view(prev)) {
    return fail("prev_hash", p, std::nullopt, to_hex(want.prev_hash()), to_hex(prev),
                at + " does not link to block " + std::to_string(h - 1) +
                    ": its prev_hash is not the hash of that header");
  }
  const uint32_t n = static_cast<uint32_t>(block.events_size());
  if (want.event_count() != n) {
    return fail("event_count", p, std::nullopt, std::to_string(want.event_count()),
                std::to_string(n), at + " header counts another number of events than it holds");
  }
  if (static_cast<uint32_t>(block.receipts_size()) != n) {
    return fail("receipt_count", p, std::nullopt, std::to_string(n),
                std::to_string(block.receipts_size()),
                at + " does not hold one receipt per event");
  }
  for (uint32_t i = 0; i < n; ++i) {
    const v1::Receipt& r = block.receipts(static_cast<int>(i));
    const Hash& hash = p.hashes[i];
    if (r.event_hash() != as_view(hash)) {
      return fail("event_hash", p, i, to_hex(r.event_hash()), to_hex(hash),
                  at + " event " + std::to_string(i) +
                      ": the event's leaf hash is not the one its receipt records");
    }
    if (r.height() != h || r.index() != i) {
      return fail("receipt_position", p, i, std::to_string(h) + "/" + std::to_string(i),
                  std::to_string(r.height()) + "/" + std::to_string(r.index()),
                  at + " event " + std::to_string(i) + ": receipt names another height/index");
    }
    if (r.accepted() && p.signatures[i] != SignatureState::kValid) {
      const v1::SignedEvent& e = block.events(static_cast<int>(i));
      const bool known = consortium_->find_key(e.key_id()) != nullptr;
      return fail("signature", p, i, "a valid Ed25519 signature by key '" + e.key_id() + "'",
                  known ? "signature does not verify" : "key is not in the genesis",
                  at + " event " + std::to_string(i) + " is recorded as accepted but " +
                      (known ? "its signature does not verify under key '" + e.key_id() + "'"
                             : "key '" + e.key_id() + "' is not a genesis key"));
    }
  }
  const Hash events_root = merkle_root_of(p.hashes);
  if (want.events_root() != as_view(events_root)) {
    return fail("events_root", p, std::nullopt, to_hex(want.events_root()), to_hex(events_root),
                at + ": the events do not hash to the header's events root");
  }

  v1::BlockBody body;
  body.set_timestamp_ms(want.timestamp_ms());
  // The events move into the body (no copy); from here on they are read from the result.
  body.mutable_events()->Swap(p.block.mutable_events());
  ApplyInput input;
  input.signatures = &p.signatures;
  input.event_hashes = &p.hashes;  // the workers hashed every event already
  input.include_events = false;
  auto applied = ledger_->apply(body, input);
  if (!applied.is_ok()) {
    result_.status = applied.status().with_context("replaying " + at);
    return false;
  }
  const v1::Block& got = *applied;
  for (uint32_t i = 0; i < n; ++i) {
    const v1::Receipt& a = block.receipts(static_cast<int>(i));
    const v1::Receipt& b = got.receipts(static_cast<int>(i));
    if (a.accepted() != b.accepted() || a.sequence() != b.sequence() || a.reason() != b.reason() ||
        a.message() != b.message() || a.event_id() != b.event_id()) {
      std::string detail = at + " event " + std::to_string(i);
      if (!b.event_id().empty()) detail += " ('" + b.event_id() + "')";
      detail += ": the block records " + receipt_text(a) + "; replaying the rules gives " +
                receipt_text(b);
      if (a.event_id() != b.event_id()) {
        detail += "; receipt event_id '" + a.event_id() + "', event says '" + b.event_id() + "'";
      }
      return fail("receipt", p, i, receipt_text(a), receipt_text(b), detail);
    }
  }
  const v1::BlockHeader& have = got.header();
  auto field = [&](const char* name, const std::string& expected, const std::string& found) {
    return fail(name, p, std::nullopt, expected, found,
                at + ": header " + name + " differs from what replaying its events gives");
  };
  if (want.timestamp_ms() != have.timestamp_ms()) {
    return field("timestamp_ms", std::to_string(want.timestamp_ms()),
                 std::to_string(have.timestamp_ms()));
  }
  if (want.first_sequence() != have.first_sequence()) {
    return field("first_sequence", std::to_string(want.first_sequence()),
                 std::to_string(have.first_sequence()));
  }
  if (want.accepted_count() != have.accepted_count()) {
    return field("accepted_count", std::to_string(want.accepted_count()),
                 std::to_string(have.accepted_count()));
  }
  if (want.tree_size() != have.tree_size()) {
    return field("tree_size", std::to_string(want.tree_size()), std::to_string(have.tree_size()));
  }
  if (want.merkle_root() != have.merkle_root()) {
    return field("merkle_root", to_hex(want.merkle_root()), to_hex(have.merkle_root()));
  }
  if (want.state_root() != have.state_root()) {
    return field("state_root", to_hex(want.state_root()), to_hex(have.state_root()));
  }
  const Hash hash = ledger_->head_hash();
  auto want_hash = block_hash(want);
  if (!want_hash.is_ok() || *want_hash != hash) {
    // Every field was compared above; reaching this is a bug in this verifier.
    return field("block_hash", want_hash.is_ok() ? to_hex(*want_hash) : "malformed",
                 to_hex(hash));
  }

  AuditSummary& s = result_.summary;
  ++next_height_;
  ++s.blocks;
  s.events += n;
  if (h == 1) s.first_timestamp_ms = have.timestamp_ms();
  s.last_timestamp_ms = have.timestamp_ms();
  for (uint32_t i = 0; i < n; ++i) {
    const v1::Receipt& r = got.receipts(static_cast<int>(i));
    AgencyCounts& c = s.agencies[agency_of(body.events(static_cast<int>(i)).key_id())];
    if (r.accepted()) {
      ++s.accepted;
      ++c.accepted;
    } else {
      ++s.rejected;
      ++c.rejected;
      ++s.rejection_reasons[v1::RejectReason_Name(r.reason())];
    }
  }
  s.head.set_tree_size(have.tree_size());
  s.head.set_root_hash(have.merkle_root());
  s.head.set_height(h);
  s.head.set_block_hash(to_string(hash));
  s.head.set_state_root(have.state_root());
  s.head.set_timestamp_ms(have.timestamp_ms());
  return check_checkpoint(p, hash);
}

bool Verifier::check_checkpoint(const Pending& p, const Hash& hash) {
  const CosignedCheckpoint* cp = options_.checkpoint;
  if (cp == nullptr || cp->checkpoint.height() != p.block.header().height()) return true;
  const v1::Checkpoint& c = cp->checkpoint;
  const v1::BlockHeader& header = p.block.header();
  auto mismatch = [&](std::string field, std::string expected, std::string found) {
    return fail("checkpoint." + field, p, std::nullopt, std::move(expected), std::move(found),
                "the checkpoint's " + field + " is not that of the replayed block " +
                    std::to_string(header.height()),
                header.height());
  };
  if (c.tree_size() != header.tree_size()) {
    return mismatch("tree_size", std::to_string(c.tree_size()), std::to_string(header.tree_size()));
  }
  if (c.root_hash() != header.merkle_root()) {
    return mismatch("root_hash", to_hex(c.root_hash()), to_hex(header.merkle_root()));
  }
  if (c.block_hash() != as_view(hash)) {
    return mismatch("block_hash", to_hex(c.block_hash()), to_hex(hash));
  }
  if (c.state_root() != header.state_root()) {
    return mismatch("state_root", to_hex(c.state_root()), to_hex(header.state_root()));
  }
  if (c.timestamp_ms() != header.timestamp_ms()) {
    return mismatch("timestamp_ms", std::to_string(c.timestamp_ms()),
                    std::to_string(header.timestamp_ms()));
  }
  result_.summary.checkpoint_checked = true;
  return true;
}

bool Verifier::finish() {
  if (result_.summary.blocks == 0) {
    Pending none;
    return fail("export", none, std::nullopt, "at least block 0", "no blocks",
                "the export holds no blocks");
  }
  const CosignedCheckpoint* cp = options_.checkpoint;
  if (cp != nullptr && !result_.summary.checkpoint_checked) {
    Pending none;
    none.offset = result_.summary.export_bytes;
    return fail("checkpoint.height", none, std::nullopt, std::to_string(cp->checkpoint.height()),
                "chain ends at height " + std::to_string(next_height_ - 1),
                "the checkpoint is for a height the export does not reach (blocks missing at "
                "the end?)");
  }
  return true;
}

std::vector<std::string> hex_list(const std::vector<Hash>& hashes) {
  std::vector<std::string> out;
  out.reserve(hashes.size());
  for (const Hash& h : hashes) out.push_back(to_hex(h));
  return out;
}

base::Status bad(std::string message) { return base::Status::invalid_argument(std::move(message)); }

base::Result<std::vector<Hash>> hashes_from_json(const nlohmann::json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_array()) {
    return bad("proof has no \"" + std::string(field) + "\" array");
  }
  std::vector<Hash> out;
  for (size_t i = 0; i < j[field].size(); ++i) {
    const auto& item = j[field][i];
    auto raw = item.is_string() ? from_hex(item.get<std::string>())
                                : base::Result<std::string>(bad("not a string"));
    if (!raw.is_ok() || raw->size() != 32) {
      return bad("proof \"" + std::string(field) + "\"[" + std::to_string(i) +
                 "] is not a 64-hex-digit hash");
    }
    out.push_back(*hash_from_bytes(*raw));
  }
  if (out.size() > 64) return bad("proof \"" + std::string(field) + "\" has more than 64 hashes");
  return out;
}

base::Result<uint64_t> u64_from_json(const nlohmann::json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_number_unsigned()) {
    return bad("proof has no unsigned integer \"" + std::string(field) + "\"");
  }
  return j[field].get<uint64_t>();
}

base::Result<CosignedCheckpoint> checkpoint_from(const nlohmann::json& j, const char* field) {
  if (!j.contains(field) || !j[field].is_object()) {
    return bad("proof has no \"" + std::string(field) + "\" object");
  }
  auto cp = checkpoint_from_json(j[field].dump());
  if (!cp.is_ok()) return cp.status().with_context("proof \"" + std::string(field) + "\"");
  return cp;
}

base::Result<nlohmann::json> parse_proof(std::string_view json, std::string_view format) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("proof file is not a JSON object");
  if (!j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != format) {
    return bad("proof file \"format\" is not \"" + std::string(format) + "\"");
  }
  return j;
}

// Hex digits compare without regard to case, as from_hex reads them.
bool same_hex(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A top-level hex hash field that must agree with the signed note it repeats. Absent is fine
// (files written before the field existed); the note is the authority either way.
base::Status check_hex_field(const nlohmann::json& j, const char* field, const std::string& note,
                             const char* where) {
  if (!j.contains(field)) return base::Status::ok();
  if (!j[field].is_string() || !same_hex(j[field].get<std::string>(), to_hex(note))) {
    return bad("proof \"" + std::string(field) + "\" is " + j[field].dump() + " but the signed " +
               where + " note says " + to_hex(note));
  }
  return base::Status::ok();
}

base::Status check_size_field(uint64_t value, const char* field, uint64_t note, const char* where) {
  if (value == note) return base::Status::ok();
  return bad("proof \"" + std::string(field) + "\" is " + std::to_string(value) +
             " but the signed " + where + " note says tree size " + std::to_string(note));
}

// A tree of size 0 has one possible root, SHA-256 of nothing; a checkpoint claiming another is
// not of any tree.
base::Status check_empty_tree_root(const v1::Checkpoint& c, const char* what) {
  if (c.tree_size() != 0 || c.root_hash() == to_string(merkle_empty_root())) {
    return base::Status::ok();
  }
  return base::Status::corruption(
      std::string(what) + " is of the empty tree (size 0) but its root is " +
      to_hex(c.root_hash()) + ", not SHA-256(\"\") = " + to_hex(merkle_empty_root()));
}

std::vector<std::string> valid_signers(const Consortium& consortium, const CosignedCheckpoint& cp) {
  return verify_cosignatures(consortium, cp).signer_agencies;
}

}  // namespace

std::string AuditFailure::to_string() const {
  std::string out = "check " + check + " failed";
  if (height) out += " at height " + std::to_string(*height);
  if (event_index) out += ", event " + std::to_string(*event_index);
  if (byte_offset) out += " (export byte " + std::to_string(*byte_offset) + ")";
  out += ": " + detail;
  if (!expected.empty() || !found.empty()) {
    out += "\n  expected: " + expected + "\n  found:    " + found;
  }
  return out;
}

AuditResult verify_chain(std::shared_ptr<const Consortium> consortium, std::istream& chain,
                         const AuditOptions& options) {
  LEDGER_ASSERT(consortium != nullptr);
  AuditResult result;
  const auto start = Clock::now();
  unsigned threads = options.verify_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  result.summary.verify_threads = threads;

  if (options.checkpoint != nullptr) {
    QuorumReport quorum = verify_cosignatures(*consortium, *options.checkpoint);
    result.summary.checkpoint_quorum = quorum;
    if (!quorum.trusted()) {
      AuditFailure f;
      f.check = "checkpoint.cosignatures";
      f.height = options.checkpoint->checkpoint.height();
      f.expected = "valid cosignatures of at least " + std::to_string(quorum.quorum) + " of " +
                   std::to_string(quorum.agency_count) + " agencies";
      f.found = std::to_string(quorum.signer_agencies.size()) + " agencies, " +
                std::to_string(quorum.invalid_count()) + " invalid, " +
                std::to_string(quorum.unknown_count()) + " unknown-key signatures";
      f.detail = quorum.status().message();
      result.failure = std::move(f);
      return result;
    }
  }

  auto scratch = ScratchDir::make(options.work_dir);
  if (!scratch.is_ok()) {
    result.status = scratch.status();
    return result;
  }
  Verifier verifier(consortium, options, result);
  if (base::Status s = verifier.open((*scratch)->path()); !s.is_ok()) {
    result.status = s.with_context("opening the replay database");
    return result;
  }
  ChainReader reader(chain);
  {
    Pipeline pipeline(*consortium, reader, options, threads);
    auto last_progress = start;
    for (;;) {
      std::shared_ptr<Pending> p = pipeline.next();
      if (p->read_error) {
        if (p->read_error->code() == base::Code::kCorruption) {
          AuditFailure f;
          f.check = "export_record";
          f.height = result.summary.blocks;  // the height that should have come next
          f.byte_offset = p->offset;
          f.detail = p->read_error->message();
          result.failure = std::move(f);
        } else {
          result.status = *p->read_error;
        }
        break;
      }
      if (p->end) {
        result.summary.export_bytes = reader.offset();
        verifier.finish();
        break;
      }
      if (!verifier.block(*p)) break;
      if (options.on_progress &&
          std::chrono::duration<double>(Clock::now() - last_progress).count() >=
              options.progress_interval_s) {
        last_progress = Clock::now();
        options.on_progress(AuditProgress{p->block.header().height(), result.summary.events,
                                          reader.offset(), seconds_since(start)});
      }
    }
  }
  result.summary.export_bytes = reader.offset();
  result.summary.elapsed_s = seconds_since(start);
  return result;
}

// ---- proofs ----

base::Result<InclusionProof> make_inclusion_proof(const Ledger& ledger, uint64_t sequence,
                                                  const CosignedCheckpoint& checkpoint) {
  const uint64_t size = checkpoint.checkpoint.tree_size();
  if (sequence >= size) {
    return bad("leaf " + std::to_string(sequence) + " is not in a tree of " +
               std::to_string(size) + " leaves");
  }
  InclusionProof proof;
  proof.leaf_index = sequence;
  proof.tree_size = size;
  ASSIGN_OR_RETURN(v1::SignedEvent event, ledger.event_at_sequence(sequence));
  proof.leaf_data = event_leaf_data(event);
  ASSIGN_OR_RETURN(proof.path, merkle_inclusion_proof(ledger.merkle(), sequence, size));
  proof.checkpoint = checkpoint;
  return proof;
}

base::Result<ConsistencyProof> make_consistency_proof(const Ledger& ledger,
                                                      const CosignedCheckpoint& old_checkpoint,
                                                      const CosignedCheckpoint& new_checkpoint) {
  ConsistencyProof proof;
  proof.old_size = old_checkpoint.checkpoint.tree_size();
  proof.new_size = new_checkpoint.checkpoint.tree_size();
  if (proof.old_size > proof.new_size) {
    return bad("the old checkpoint's tree (" + std::to_string(proof.old_size) +
               ") is larger than the new one's (" + std::to_string(proof.new_size) + ")");
  }
  if (proof.old_size > 0 && proof.old_size < proof.new_size) {
    ASSIGN_OR_RETURN(proof.path,
                     merkle_consistency_proof(ledger.merkle(), proof.old_size, proof.new_size));
  }
  proof.old_checkpoint = old_checkpoint;
  proof.new_checkpoint = new_checkpoint;
  return proof;
}

base::Result<v1::SignedEvent> parse_event_leaf_data(std::string_view leaf) {
  std::string prefix(kEventLeafDomain);
  prefix.push_back('\0');
  if (leaf.substr(0, prefix.size()) != prefix) {
    return bad("leaf data does not start with \"credledger/event-leaf/v1\" 0x00");
  }
  leaf.remove_prefix(prefix.size());
  std::string parts[3];
  const char* names[3] = {"key_id", "payload", "signature"};
  for (int i = 0; i < 3; ++i) {
    if (leaf.size() < 4) return bad(std::string("leaf data is truncated before ") + names[i]);
    const uint32_t len = get_u32(leaf);
    leaf.remove_prefix(4);
    if (leaf.size() < len) return bad(std::string("leaf data is truncated inside ") + names[i]);
    parts[i] = std::string(leaf.substr(0, len));
    leaf.remove_prefix(len);
  }
  if (!leaf.empty()) return bad("leaf data has " + std::to_string(leaf.size()) + " trailing bytes");
  v1::SignedEvent e;
  e.set_key_id(parts[0]);
  e.set_payload(parts[1]);
  e.set_signature(parts[2]);
  return e;
}

std::string inclusion_proof_to_json(const InclusionProof& proof) {
  nlohmann::ordered_json j;
  j["format"] = "credledger-inclusion-proof/v1";
  j["leaf_index"] = proof.leaf_index;
  j["tree_size"] = proof.tree_size;
  // The root the path leads to, for RFC 6962 verifiers that do not read signed notes; the
  // checkpoint's note is the authority and readers check that the two agree.
  j["root"] = to_hex(proof.checkpoint.checkpoint.root_hash());
  j["leaf_data"] = to_base64(proof.leaf_data);
  j["leaf_hash"] = to_hex(merkle_leaf_hash(proof.leaf_data));
  if (auto e = parse_event_leaf_data(proof.leaf_data); e.is_ok()) {
    if (auto ev = parse_event_payload(e->payload()); ev.is_ok()) j["event_id"] = ev->event_id();
    j["key_id"] = e->key_id();
  }
  j["path"] = hex_list(proof.path);
  j["checkpoint"] = nlohmann::ordered_json::parse(checkpoint_to_json(proof.checkpoint));
  return j.dump(2) + "\n";
}

base::Result<InclusionProof> inclusion_proof_from_json(std::string_view json) {
  ASSIGN_OR_RETURN(nlohmann::json j, parse_proof(json, "credledger-inclusion-proof/v1"));
  InclusionProof proof;
  ASSIGN_OR_RETURN(proof.leaf_index, u64_from_json(j, "leaf_index"));
  ASSIGN_OR_RETURN(proof.tree_size, u64_from_json(j, "tree_size"));
  if (!j.contains("leaf_data") || !j["leaf_data"].is_string()) {
    return bad("proof has no \"leaf_data\" string (base64)");
  }
  auto leaf = from_base64(j["leaf_data"].get<std::string>());
  if (!leaf.is_ok()) return bad("proof \"leaf_data\" is not base64");
  proof.leaf_data = std::move(leaf).value();
  ASSIGN_OR_RETURN(proof.path, hashes_from_json(j, "path"));
  ASSIGN_OR_RETURN(proof.checkpoint, checkpoint_from(j, "checkpoint"));
  RETURN_IF_ERROR(check_size_field(proof.tree_size, "tree_size",
                                   proof.checkpoint.checkpoint.tree_size(), "checkpoint"));
  RETURN_IF_ERROR(
      check_hex_field(j, "root", proof.checkpoint.checkpoint.root_hash(), "checkpoint"));
  if (j.contains("leaf_hash") &&
      (!j["leaf_hash"].is_string() ||
       !same_hex(j["leaf_hash"].get<std::string>(), to_hex(merkle_leaf_hash(proof.leaf_data))))) {
    return bad("proof \"leaf_hash\" is not SHA-256(0x00 || leaf_data) = " +
               to_hex(merkle_leaf_hash(proof.leaf_data)));
  }
  if (j.contains("event_id") || j.contains("key_id")) {
    auto e = parse_event_leaf_data(proof.leaf_data);
    if (!e.is_ok()) return e.status().with_context("proof \"leaf_data\"");
    if (j.contains("key_id") && j["key_id"] != e->key_id()) {
      return bad("proof \"key_id\" is not the key id in leaf_data");
    }
    if (j.contains("event_id")) {
      auto ev = parse_event_payload(e->payload());
      if (!ev.is_ok() || j["event_id"] != ev->event_id()) {
        return bad("proof \"event_id\" is not the event id in leaf_data");
      }
    }
  }
  return proof;
}

std::string consistency_proof_to_json(const ConsistencyProof& proof) {
  nlohmann::ordered_json j;
  j["format"] = "credledger-consistency-proof/v1";
  j["old_size"] = proof.old_size;
  j["new_size"] = proof.new_size;
  // As in inclusion proofs: the roots for generic RFC 6962 verifiers, repeated from the notes.
  j["old_root"] = to_hex(proof.old_checkpoint.checkpoint.root_hash());
  j["new_root"] = to_hex(proof.new_checkpoint.checkpoint.root_hash());
  j["path"] = hex_list(proof.path);
  j["old_checkpoint"] = nlohmann::ordered_json::parse(checkpoint_to_json(proof.old_checkpoint));
  j["new_checkpoint"] = nlohmann::ordered_json::parse(checkpoint_to_json(proof.new_checkpoint));
  return j.dump(2) + "\n";
}

base::Result<ConsistencyProof> consistency_proof_from_json(std::string_view json) {
  ASSIGN_OR_RETURN(nlohmann::json j, parse_proof(json, "credledger-consistency-proof/v1"));
  ConsistencyProof proof;
  ASSIGN_OR_RETURN(proof.old_size, u64_from_json(j, "old_size"));
  ASSIGN_OR_RETURN(proof.new_size, u64_from_json(j, "new_size"));
  ASSIGN_OR_RETURN(proof.path, hashes_from_json(j, "path"));
  ASSIGN_OR_RETURN(proof.old_checkpoint, checkpoint_from(j, "old_checkpoint"));
  ASSIGN_OR_RETURN(proof.new_checkpoint, checkpoint_from(j, "new_checkpoint"));
  const v1::Checkpoint& older = proof.old_checkpoint.checkpoint;
  const v1::Checkpoint& newer = proof.new_checkpoint.checkpoint;
  RETURN_IF_ERROR(
      check_size_field(proof.old_size, "old_size", older.tree_size(), "old_checkpoint"));
  RETURN_IF_ERROR(
      check_size_field(proof.new_size, "new_size", newer.tree_size(), "new_checkpoint"));
  RETURN_IF_ERROR(check_hex_field(j, "old_root", older.root_hash(), "old_checkpoint"));
  RETURN_IF_ERROR(check_hex_field(j, "new_root", newer.root_hash(), "new_checkpoint"));
  if (base::Status s = check_empty_tree_root(older, "proof \"old_checkpoint\""); !s.is_ok()) {
    return bad(s.message());
  }
  return proof;
}

base::Status verify_inclusion_proof(const Consortium& consortium, const InclusionProof& proof,
                                    const CosignedCheckpoint& checkpoint) {
  RETURN_IF_ERROR(verify_cosignatures(consortium, checkpoint).status());
  const v1::Checkpoint& cp = checkpoint.checkpoint;
  if (proof.tree_size != cp.tree_size()) {
    return base::Status::corruption("the proof is for a tree of " +
                                    std::to_string(proof.tree_size) +
                                    " leaves; the checkpoint's tree has " +
                                    std::to_string(cp.tree_size()));
  }
  if (proof.leaf_index >= proof.tree_size) {
    return base::Status::corruption("leaf index " + std::to_string(proof.leaf_index) +
                                    " is not below the tree size " +
                                    std::to_string(proof.tree_size));
  }
  auto root = hash_from_bytes(cp.root_hash());
  LEDGER_ASSERT(root.is_ok());  // parse_checkpoint_body checked the size
  const Hash leaf_hash = merkle_leaf_hash(proof.leaf_data);
  if (!verify_inclusion(leaf_hash, proof.leaf_index, proof.tree_size, proof.path, *root)) {
    return base::Status::corruption(
        "the inclusion path does not lead from leaf " + std::to_string(proof.leaf_index) +
        " (hash " + to_hex(leaf_hash) + ") to the checkpoint's root " + to_hex(*root));
  }
  auto event = parse_event_leaf_data(proof.leaf_data);
  if (!event.is_ok()) return base::Status::corruption(event.status().message());
  if (!verify_event_signature(consortium, *event)) {
    return base::Status::corruption("the included leaf is not an event signed by a genesis key "
                                    "(key '" + event->key_id() + "')");
  }
  return base::Status::ok();
}

base::Status verify_consistency_proof(const Consortium& consortium, const ConsistencyProof& proof,
                                      const CosignedCheckpoint& older,
                                      const CosignedCheckpoint& newer) {
  RETURN_IF_ERROR(verify_cosignatures(consortium, older).status().with_context("old checkpoint"));
  RETURN_IF_ERROR(verify_cosignatures(consortium, newer).status().with_context("new checkpoint"));
  const v1::Checkpoint& a = older.checkpoint;
  const v1::Checkpoint& b = newer.checkpoint;
  if (proof.old_size != a.tree_size() || proof.new_size != b.tree_size()) {
    return base::Status::corruption(
        "the proof is between sizes " + std::to_string(proof.old_size) + " and " +
        std::to_string(proof.new_size) + "; the checkpoints have " +
        std::to_string(a.tree_size()) + " and " + std::to_string(b.tree_size()));
  }
  if (a.tree_size() > b.tree_size()) {
    return base::Status::corruption("the old checkpoint's tree is larger than the new one's");
  }
  if (a.tree_size() == 0) {
    RETURN_IF_ERROR(check_empty_tree_root(a, "the old checkpoint"));
    if (!proof.path.empty()) return base::Status::corruption("a proof from the empty tree is empty");
    return base::Status::ok();  // every tree extends the empty one
  }
  auto old_root = hash_from_bytes(a.root_hash());
  auto new_root = hash_from_bytes(b.root_hash());
  LEDGER_ASSERT(old_root.is_ok() && new_root.is_ok());
  if (!verify_consistency(a.tree_size(), b.tree_size(), *old_root, *new_root, proof.path)) {
    return base::Status::corruption("the proof does not show that the tree of " +
                                    std::to_string(b.tree_size()) + " leaves (root " +
                                    to_hex(*new_root) + ") extends the tree of " +
                                    std::to_string(a.tree_size()) + " leaves (root " +
                                    to_hex(*old_root) + ")");
  }
  if (a.height() > b.height()) {
    return base::Status::corruption("the old checkpoint's height " + std::to_string(a.height()) +
                                    " is above the new one's " + std::to_string(b.height()));
  }
  return base::Status::ok();
}

std::optional<ForkEvidence> detect_fork(const Consortium& consortium, const CosignedCheckpoint& a,
                                        const CosignedCheckpoint& b,
                                        const ConsistencyProof* proof) {
  const CosignedCheckpoint* first = &a;
  const CosignedCheckpoint* second = &b;
  if (first->checkpoint.tree_size() > second->checkpoint.tree_size() ||
      (first->checkpoint.tree_size() == second->checkpoint.tree_size() &&
       first->checkpoint.height() > second->checkpoint.height())) {
    std::swap(first, second);
  }
  const v1::Checkpoint& x = first->checkpoint;
  const v1::Checkpoint& y = second->checkpoint;
  ForkEvidence ev;
  if (x.tree_size() == y.tree_size() && x.root_hash() != y.root_hash()) {
    ev.kind = "same-size-different-root";
    ev.description = "two checkpoints of tree size " + std::to_string(x.tree_size()) +
                     " have different roots (" + to_hex(x.root_hash()) + " and " +
                     to_hex(y.root_hash()) + ")";
  } else if (x.height() == y.height() && x.block_hash() != y.block_hash()) {
    ev.kind = "same-height-different-block";
    ev.description = "two checkpoints of height " + std::to_string(x.height()) +
                     " name different blocks (" + to_hex(x.block_hash()) + " and " +
                     to_hex(y.block_hash()) + ")";
  } else if (x.tree_size() < y.tree_size() && x.height() > y.height()) {
    ev.kind = "shrinking-tree";
    ev.description = "block " + std::to_string(x.height()) + " has a tree of " +
                     std::to_string(x.tree_size()) + " leaves but the later block " +
                     std::to_string(y.height()) + " has " + std::to_string(y.tree_size());
  } else if (proof != nullptr && x.tree_size() != y.tree_size()) {
    base::Status s = verify_consistency_proof(consortium, *proof, *first, *second);
    if (s.is_ok()) return std::nullopt;
    ev.kind = "inconsistent";
    ev.description = "the newer checkpoint is not shown consistent with the older one: " +
                     s.message();
  } else {
    return std::nullopt;
  }
  ev.first = *first;
  ev.second = *second;
  ev.first_signers = valid_signers(consortium, *first);
  ev.second_signers = valid_signers(consortium, *second);
  std::set_intersection(ev.first_signers.begin(), ev.first_signers.end(),
                        ev.second_signers.begin(), ev.second_signers.end(),
                        std::back_inserter(ev.signed_both));
  if (!ev.signed_both.empty() && ev.kind != "inconsistent") {
    std::string who;
    for (const std::string& s : ev.signed_both) who += (who.empty() ? "" : ", ") + s;
    ev.description += "; signed by both: " + who;
  }
  return ev;
}

std::string fork_evidence_to_json(const ForkEvidence& ev) {
  nlohmann::ordered_json j;
  j["format"] = "credledger-fork-evidence/v1";
  j["kind"] = ev.kind;
  j["description"] = ev.description;
  j["first_checkpoint"] = nlohmann::ordered_json::parse(checkpoint_to_json(ev.first));
  j["first_signers"] = ev.first_signers;
  j["second_checkpoint"] = nlohmann::ordered_json::parse(checkpoint_to_json(ev.second));
  j["second_signers"] = ev.second_signers;
  j["signed_both"] = ev.signed_both;
  return j.dump(2) + "\n";
}

}  // namespace ledger
