// The chain export format: a length-delimited stream of blocks that auditors verify offline
// (ledger/FORMAT.md, "Chain export").
//
//   "credledger-export/v1\n"                       magic line, 21 bytes
//   then per block, in height order:
//     u32be length || serialized credledger.v1.Block (header, events, receipts)
//
// Every byte of an export is authenticated by the verifier (ledger/audit.h): records must be
// canonical protobuf (no unknown fields, re-serializing gives the same bytes), and log_index,
// which is node-local and covered by no hash, is always 0 in an export (the writer clears it).
// A full export starts at block 0, whose header commits to the genesis file.
//
// Writer and reader are not thread-safe; each belongs to one thread.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "base/status.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

class Ledger;

constexpr std::string_view kExportMagic = "credledger-export/v1\n";
// A record larger than this is garbage, not a block (limits.max_events_per_block events of
// limits.max_event_bytes each stay far below it).
constexpr uint32_t kExportRecordBytesMax = 256u << 20;

class ChainWriter {
 public:
  // Writes the magic line. `out` must outlive the writer.
  explicit ChainWriter(std::ostream& out);
  // Appends one block (log_index cleared). kIOError if the stream fails.
  base::Status write(const v1::Block& block);
  // Flushes; kIOError if any write failed.
  base::Status finish();
  uint64_t bytes_written() const { return offset_; }

 private:
  std::ostream& out_;
  uint64_t offset_ = 0;
};

class ChainReader {
 public:
  // `in` must outlive the reader. Nothing is read until next().
  explicit ChainReader(std::istream& in);

  // The next block, or nullopt at a clean end of the stream (after a whole record).
  // kCorruption with the byte offset for a bad magic line, a truncated record, a record that
  // is too large, does not parse, has unknown fields, is not canonical or carries a log_index.
  // After an error the reader stays failed.
  base::Result<std::optional<v1::Block>> next();
  // Offset of the record next() returned last (its length prefix); of the magic line before.
  uint64_t record_offset() const { return record_offset_; }
  // Offset just past the last byte consumed.
  uint64_t offset() const { return offset_; }

 private:
  base::Status fail(uint64_t at, const std::string& what);
  // Reads exactly n bytes; false on a short read (n_read tells how many came).
  bool read_exact(char* data, size_t n, size_t& n_read);

  std::istream& in_;
  bool started_ = false;
  bool failed_ = false;
  base::Status error_;
  uint64_t offset_ = 0;
  uint64_t record_offset_ = 0;
  std::string buffer_;
};

// Checks that a parsed Block carries nothing the hashes do not cover: no unknown fields in the
// block, header, events or receipts, and log_index == 0. kCorruption naming the part.
base::Status check_export_block(const v1::Block& block);

// Writes blocks from_height..to_height (inclusive) of a ledger, each read back with
// Ledger::block (which checks events root and parent link). kNotFound if a height is missing.
base::Status export_chain(const Ledger& ledger, uint64_t from_height, uint64_t to_height,
                          ChainWriter& writer);

}  // namespace ledger
