#include "ledger/event.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "ledger/merkle.h"

namespace ledger {

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void put_u64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

uint64_t get_u64(std::string_view in) {
  LEDGER_ASSERT(in.size() >= 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}

uint32_t get_u32(std::string_view in) {
  LEDGER_ASSERT(in.size() >= 4);
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(in[i]);
  return v;
}

v1::SignedEvent sign_event(const v1::CreditEvent& event, std::string_view key_id,
                           std::string_view secret_key) {
  v1::SignedEvent out;
  // Deterministic serialization so that signing the same event twice gives the same payload.
  std::string payload;
  {
    google::protobuf::io::StringOutputStream stream(&payload);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  out.set_signature(sign(kEventSignDomain, payload, secret_key));
  out.set_payload(std::move(payload));
  out.set_key_id(std::string(key_id));
  return out;
}

std::string event_leaf_data(const v1::SignedEvent& event) {
  std::string out;
  out.reserve(kEventLeafDomain.size() + 13 + event.key_id().size() + event.payload().size() +
              event.signature().size());
  out.append(kEventLeafDomain);
  out.push_back('\0');
  put_u32(out, static_cast<uint32_t>(event.key_id().size()));
  out.append(event.key_id());
  put_u32(out, static_cast<uint32_t>(event.payload().size()));
  out.append(event.payload());
  put_u32(out, static_cast<uint32_t>(event.signature().size()));
  out.append(event.signature());
  return out;
}

Hash event_hash(const v1::SignedEvent& event) { return merkle_leaf_hash(event_leaf_data(event)); }

base::Result<v1::CreditEvent> parse_event_payload(std::string_view payload) {
  v1::CreditEvent event;
  if (!event.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return base::Status::invalid_argument("payload is not a serialized credledger.v1.CreditEvent");
  }
  // Unknown fields would be signed and kept but never validated or shown: refuse them.
  const auto* reflection = event.GetReflection();
  if (!reflection->GetUnknownFields(event).empty() ||
      !event.subject().GetReflection()->GetUnknownFields(event.subject()).empty() ||
      !event.legal_basis().GetReflection()->GetUnknownFields(event.legal_basis()).empty()) {
    return base::Status::invalid_argument("payload has fields unknown to credledger.v1.CreditEvent");
  }
  return event;
}

}  // namespace ledger
