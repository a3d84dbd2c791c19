#include "ledger/export.h"

#include "ledger/event.h"
#include "ledger/ledger.h"

namespace ledger {
namespace {

bool has_unknown_fields(const google::protobuf::Message& message) {
  return !message.GetReflection()->GetUnknownFields(message).empty();
}

}  // namespace

ChainWriter::ChainWriter(std::ostream& out) : out_(out) {
  out_.write(kExportMagic.data(), static_cast<std::streamsize>(kExportMagic.size()));
  offset_ = kExportMagic.size();
}

base::Status ChainWriter::write(const v1::Block& block) {
  std::string bytes;
  if (block.log_index() == 0) {
    bytes = block.SerializeAsString();
  } else {
    v1::Block copy = block;
    copy.clear_log_index();  // node-local and unauthenticated: never part of an export
    bytes = copy.SerializeAsString();
  }
  if (bytes.size() > kExportRecordBytesMax) {
    return base::Status::invalid_argument("block " + std::to_string(block.header().height()) +
                                          " is " + std::to_string(bytes.size()) +
                                          " bytes; an export record holds at most " +
                                          std::to_string(kExportRecordBytesMax));
  }
  std::string prefix;
  put_u32(prefix, static_cast<uint32_t>(bytes.size()));
  out_.write(prefix.data(), 4);
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) {
    return base::Status::io_error("writing block " + std::to_string(block.header().height()) +
                                  " of the export failed");
  }
  offset_ += 4 + bytes.size();
  return base::Status::ok();
}

base::Status ChainWriter::finish() {
  out_.flush();
  if (!out_) return base::Status::io_error("writing the export failed");
  return base::Status::ok();
}

ChainReader::ChainReader(std::istream& in) : in_(in) {}

base::Status ChainReader::fail(uint64_t at, const std::string& what) {
  failed_ = true;
  error_ = base::Status::corruption("export byte offset " + std::to_string(at) + ": " + what);
  return error_;
}

bool ChainReader::read_exact(char* data, size_t n, size_t& n_read) {
  in_.read(data, static_cast<std::streamsize>(n));
  n_read = static_cast<size_t>(in_.gcount());
  offset_ += n_read;
  return n_read == n;
}

base::Result<std::optional<v1::Block>> ChainReader::next() {
  if (failed_) return error_;
  size_t got = 0;
  if (!started_) {
    started_ = true;
    std::string magic(kExportMagic.size(), '\0');
    if (!read_exact(magic.data(), magic.size(), got) || magic != kExportMagic) {
      return fail(0, "not a credledger export (the first line must be \"credledger-export/v1\")");
    }
  }
  record_offset_ = offset_;
  char prefix[4];
  if (!read_exact(prefix, 4, got)) {
    if (got == 0 && in_.eof()) return std::optional<v1::Block>();
    if (in_.bad()) return base::Status::io_error("reading the export failed");
    return fail(record_offset_, "truncated length prefix (" + std::to_string(got) + " of 4 bytes)");
  }
  const uint32_t length = get_u32(std::string_view(prefix, 4));
  if (length > kExportRecordBytesMax) {
    return fail(record_offset_, "record length " + std::to_string(length) + " exceeds the limit " +
                                    std::to_string(kExportRecordBytesMax));
  }
  buffer_.resize(length);
  if (!read_exact(buffer_.data(), length, got)) {
    if (in_.bad()) return base::Status::io_error("reading the export failed");
    return fail(record_offset_, "truncated record: length says " + std::to_string(length) +
                                    " bytes, only " + std::to_string(got) + " follow");
  }
  v1::Block block;
  if (!block.ParseFromString(buffer_)) {
    return fail(record_offset_, "record of " + std::to_string(length) +
                                    " bytes is not a protobuf Block");
  }
  if (base::Status s = check_export_block(block); !s.is_ok()) {
    return fail(record_offset_, s.message());
  }
  if (block.SerializeAsString() != buffer_) {
    return fail(record_offset_, "block " + std::to_string(block.header().height()) +
                                    " is not canonically encoded (re-encoding it gives other "
                                    "bytes)");
  }
  return std::optional<v1::Block>(std::move(block));
}

base::Status check_export_block(const v1::Block& block) {
  const std::string at = "block " + std::to_string(block.header().height());
  if (has_unknown_fields(block)) return base::Status::corruption(at + " has unknown fields");
  if (has_unknown_fields(block.header())) {
    return base::Status::corruption(at + " header has unknown fields");
  }
  for (int i = 0; i < block.events_size(); ++i) {
    if (has_unknown_fields(block.events(i))) {
      return base::Status::corruption(at + " event " + std::to_string(i) + " has unknown fields");
    }
  }
  for (int i = 0; i < block.receipts_size(); ++i) {
    if (has_unknown_fields(block.receipts(i))) {
      return base::Status::corruption(at + " receipt " + std::to_string(i) +
                                      " has unknown fields");
    }
  }
  if (block.log_index() != 0) {
    return base::Status::corruption(at + " carries log_index " +
                                    std::to_string(block.log_index()) +
                                    "; exports never do (it is node-local and not hashed)");
  }
  return base::Status::ok();
}

base::Status export_chain(const Ledger& ledger, uint64_t from_height, uint64_t to_height,
                          ChainWriter& writer) {
  if (from_height > to_height) {
    return base::Status::invalid_argument("export range " + std::to_string(from_height) + ".." +
                                          std::to_string(to_height) + " is empty");
  }
  for (uint64_t h = from_height; h <= to_height; ++h) {
    ASSIGN_OR_RETURN(v1::Block block, ledger.block(h));
    RETURN_IF_ERROR(writer.write(block));
  }
  return writer.finish();
}

}  // namespace ledger
