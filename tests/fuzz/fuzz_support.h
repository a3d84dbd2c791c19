// Shared pieces of the fuzz targets: a fixed three-agency test consortium (the one of
// tests/unit/ledger/fixture.h, rebuilt here because that fixture reports through Catch2, which a
// libFuzzer binary does not run), valid subjects and events to start from, a scratch ledger in a
// temporary directory, a reader that splits fuzz input into fields, and FUZZ_CHECK for oracles.
//
// Nothing here may depend on the order or number of inputs seen before: a crash must reproduce
// from its single input file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/db.h"
#include "ledger/ledger.h"
#include "proto/ledger.pb.h"

// The libFuzzer entry point each target defines; the replay test calls it too.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// An oracle: a fact about product behaviour that must hold for every input. Failing aborts,
// which libFuzzer reports as a crash and the replay test as a failed test.
#define FUZZ_CHECK(cond, what)                                               \
  do {                                                                       \
    if (!(cond)) ::fuzz::check_failed(#cond, what, __FILE__, __LINE__);      \
  } while (0)

namespace fuzz {

namespace v1 = credledger::v1;

[[noreturn]] void check_failed(const char* cond, std::string_view what, const char* file,
                               int line);

// 2026-01-01T00:00:00Z and one day, as in the unit tests.
constexpr int64_t kT0 = 1767225600000;
constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

// Agencies "samr", "sta", "court" with keys "<agency>-k1" from fixed seeds; mandates and
// catalog as in tests/unit/ledger/fixture.h.
const ledger::KeyPair& keys_of(std::string_view agency);  // unknown names get samr's key
std::string key_id_of(std::string_view agency);
v1::ConsortiumConfig test_config();
std::shared_ptr<const ledger::Consortium> test_consortium();  // built once

// A valid enterprise USCC derived from n, and an individual's pseudonym subject.
v1::Subject enterprise(uint64_t n);
v1::Subject individual(std::string_view national_id);

// A fully valid event of `kind` by `issuer` (penalties and blacklist entries cite the issuer's
// catalog code and expire after 180 days).
v1::CreditEvent make_event(std::string_view event_id, std::string_view issuer,
                           const v1::Subject& subject, v1::EventKind kind, v1::Sector sector,
                           int64_t effective_at_ms);
// Signs with the issuer's key (unknown issuers: samr's).
v1::SignedEvent sign(const v1::CreditEvent& event);

// The view entry an accepted event becomes (no later events acting on it), recorded in block 1.
v1::ViewEntry entry_of(const v1::CreditEvent& event, uint64_t sequence);

// The events every scratch ledger starts with, in block 1 at kSeedBlockTimeMs, all valid: ids
// "seed-1".."seed-5" (samr penalty and blacklist entry on enterprise(1), sta penalty on
// enterprise(2), court blacklist entry on individual("110101199001011234"), samr rating on
// enterprise(1)). Fuzzed events may refer to them.
std::vector<v1::SignedEvent> seed_events();
constexpr int64_t kSeedBlockTimeMs = kT0 + kDayMs;

// A ledger over RocksDB in a fresh temporary directory (removed on destruction and at exit),
// holding block 1 of seed_events(). Writes are neither synced nor logged.
class ScratchLedger {
 public:
  ScratchLedger();
  ~ScratchLedger();
  ScratchLedger(const ScratchLedger&) = delete;
  ScratchLedger& operator=(const ScratchLedger&) = delete;
  ledger::Ledger& get() { return *ledger_; }

 private:
  std::string dir_;
  std::unique_ptr<ledger::Database> db_;
  std::unique_ptr<ledger::Ledger> ledger_;
};

// Splits fuzz input into fields; reads past the end yield zeros and empty strings.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  // n bytes (fewer at the end).
  std::string bytes(size_t n);
  // A length byte, then that many bytes.
  std::string short_bytes() { return bytes(u8()); }
  std::string rest() { return bytes(size_ - pos_); }
  bool empty() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Reads a whole file; empty on error.
std::string read_file(const std::string& path);

}  // namespace fuzz
