#include "ledger/block.h"

#include "ledger/event.h"
#include "ledger/merkle.h"

namespace ledger {
namespace {

base::Status put_hash(std::string& out, const std::string& field, const char* name) {
  if (field.size() != 32) {
    return base::Status::corruption(std::string("block header field ") + name + " is " +
                                    std::to_string(field.size()) + " bytes, not 32");
  }
  out.append(field);
  return base::Status::ok();
}

std::string domain_prefix(std::string_view domain) {
  std::string out(domain);
  out.push_back('\0');
  return out;
}

}  // namespace

base::Result<std::string> header_bytes(const v1::BlockHeader& header) {
  std::string out = domain_prefix(kBlockDomain);
  out.reserve(out.size() + 8 + 32 * 4 + 8 + 8 + 8 + 4 + 4 + 8);
  put_u64(out, header.height());
  RETURN_IF_ERROR(put_hash(out, header.prev_hash(), "prev_hash"));
  RETURN_IF_ERROR(put_hash(out, header.merkle_root(), "merkle_root"));
  put_u64(out, header.tree_size());
  RETURN_IF_ERROR(put_hash(out, header.events_root(), "events_root"));
  RETURN_IF_ERROR(put_hash(out, header.state_root(), "state_root"));
  put_u64(out, static_cast<uint64_t>(header.timestamp_ms()));
  put_u64(out, header.first_sequence());
  put_u32(out, header.accepted_count());
  put_u32(out, header.event_count());
  return out;
}

base::Result<Hash> block_hash(const v1::BlockHeader& header) {
  ASSIGN_OR_RETURN(std::string bytes, header_bytes(header));
  return sha256(bytes);
}

Hash receipts_hash(const google::protobuf::RepeatedPtrField<v1::Receipt>& receipts) {
  std::string buf = domain_prefix(kReceiptsDomain);
  buf.reserve(buf.size() + receipts.size() * 45);
  for (const v1::Receipt& r : receipts) {
    LEDGER_ASSERT(r.event_hash().size() == 32);
    buf.append(r.event_hash());
    put_u8(buf, r.accepted() ? 1 : 0);
    put_u64(buf, r.accepted() ? r.sequence() : 0);
    put_u32(buf, static_cast<uint32_t>(r.reason()));
  }
  return sha256(buf);
}

Hash next_state_root(const Hash& prev_state_root, uint64_t height, const Hash& receipts) {
  std::string buf = domain_prefix(kStateDomain);
  buf.append(as_view(prev_state_root));
  put_u64(buf, height);
  buf.append(as_view(receipts));
  return sha256(buf);
}

Hash genesis_state_root(std::string_view genesis_bytes) {
  const std::string prefix = domain_prefix(kGenesisDomain);
  return sha256_parts({prefix, genesis_bytes});
}

v1::BlockHeader genesis_header(std::string_view genesis_bytes) {
  v1::BlockHeader h;
  h.set_height(0);
  h.set_prev_hash(std::string(32, '\0'));
  h.set_merkle_root(to_string(merkle_empty_root()));
  h.set_tree_size(0);
  h.set_events_root(to_string(merkle_empty_root()));
  h.set_state_root(to_string(genesis_state_root(genesis_bytes)));
  h.set_timestamp_ms(0);
  return h;
}

}  // namespace ledger
