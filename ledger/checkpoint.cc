#include "ledger/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "ledger/block.h"
#include "ledger/event.h"
#include "ledger/ledger.h"

namespace ledger {
namespace {

// "— " : U+2014 EM DASH in UTF-8, then a space.
constexpr std::string_view kSignaturePrefix = "\xE2\x80\x94 ";
constexpr uint64_t kTimestampMax = (uint64_t{1} << 63) - 1;

base::Status bad(std::string message) { return base::Status::invalid_argument(std::move(message)); }

// Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// Unicode spaces that may appear in UTF-8 text (for key names): ASCII space plus the
// multi-byte space separators.
bool has_unicode_space(std::string_view s) {
  static constexpr std::string_view kSpaces[] = {
      "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81",
      "\xE2\x80\x82", "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86",
      "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8",
      "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};
  if (s.find(' ') != std::string_view::npos) return true;
  for (std::string_view sp : kSpaces) {
    if (s.find(sp) != std::string_view::npos) return true;
  }
  return false;
}

bool parse_decimal(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  if (text.size() > 1 && text[0] == '0') return false;  // no leading zeros
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool is_lower_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::vector<std::string_view> split_lines(std::string_view text) {
  // REQUIRES: text ends with "\n". Returns the lines without their "\n".
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string key_id_hex(uint32_t key_id) {
  std::string raw;
  put_u32(raw, key_id);
  return to_hex(raw);
}

std::string utc_time(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string checkpoint_origin(std::string_view consortium_id) {
  return std::string(kCheckpointOriginPrefix) + std::string(consortium_id);
}

base::Result<v1::Checkpoint> checkpoint_at(const Ledger& ledger, uint64_t height) {
  ASSIGN_OR_RETURN(v1::BlockHeader header, ledger.header(height));
  ASSIGN_OR_RETURN(Hash hash, block_hash(header));
  v1::Checkpoint cp;
  cp.set_tree_size(header.tree_size());
  cp.set_root_hash(header.merkle_root());
  cp.set_height(header.height());
  cp.set_block_hash(to_string(hash));
  cp.set_state_root(header.state_root());
  cp.set_timestamp_ms(header.timestamp_ms());
  return cp;
}

std::string format_checkpoint_body(std::string_view origin, const v1::Checkpoint& checkpoint) {
  LEDGER_ASSERT(!origin.empty());
  LEDGER_ASSERT(origin.find('\n') == std::string_view::npos);
  LEDGER_ASSERT(checkpoint.root_hash().size() == 32);
  LEDGER_ASSERT(checkpoint.block_hash().size() == 32);
  LEDGER_ASSERT(checkpoint.state_root().size() == 32);
  std::string body;
  body.append(origin).append("\n");
  body.append(std::to_string(checkpoint.tree_size())).append("\n");
  body.append(to_base64(checkpoint.root_hash())).append("\n");
  body.append("height ").append(std::to_string(checkpoint.height())).append("\n");
  body.append("block-hash ").append(to_hex(checkpoint.block_hash())).append("\n");
  body.append("state-root ").append(to_hex(checkpoint.state_root())).append("\n");
  body.append("timestamp-ms ").append(std::to_string(checkpoint.timestamp_ms())).append("\n");
  return body;
}

base::Result<SignedNote> parse_signed_note(std::string_view text) {
  if (text.size() > kNoteBytesMax) {
    return bad("note is " + std::to_string(text.size()) + " bytes; the limit is " +
               std::to_string(kNoteBytesMax));
  }
  if (!valid_utf8(text)) return bad("note is not valid UTF-8");
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) {
      return bad("note contains control character 0x" + to_hex(text.substr(i, 1)) +
                 " at byte " + std::to_string(i));
    }
  }
  if (text.empty() || text.back() != '\n') return bad("note does not end with a newline");
  // The text is separated from the signatures by the last empty line.
  const size_t sep = text.rfind("\n\n");
  if (sep == std::string_view::npos) return bad("note has no blank line before its signatures");
  SignedNote note;
  note.body = std::string(text.substr(0, sep + 1));
  const std::string_view sig_text = text.substr(sep + 2);
  if (sig_text.empty()) return bad("note has no signature lines");
  const std::vector<std::string_view> lines = split_lines(sig_text);
  if (lines.size() > kNoteSignaturesMax) {
    return bad("note has " + std::to_string(lines.size()) + " signature lines; the limit is " +
               std::to_string(kNoteSignaturesMax));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string at = "signature line " + std::to_string(i + 1) + ": ";
    std::string_view line = lines[i];
    if (line.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
      return bad(at + "does not start with an em dash (U+2014) and a space");
    }
    line.remove_prefix(kSignaturePrefix.size());
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) return bad(at + "has no space between name and signature");
    const std::string_view name = line.substr(0, space);
    const std::string_view b64 = line.substr(space + 1);
    if (!valid_note_key_name(name)) {
      return bad(at + "key name '" + std::string(name) +
                 "' is empty or contains a space or '+'");
    }
    auto raw = from_base64(b64);
    if (!raw.is_ok() || to_base64(*raw) != b64) {
      return bad(at + "signature of '" + std::string(name) + "' is not canonical standard base64");
    }
    if (raw->size() < 5) {
      return bad(at + "signature of '" + std::string(name) + "' is " +
                 std::to_string(raw->size()) + " bytes; a key ID and a signature need at least 5");
    }
    NoteSignature sig;
    sig.name = std::string(name);
    sig.key_id = get_u32(*raw);
    sig.signature = raw->substr(4);
    note.signatures.push_back(std::move(sig));
  }
  return note;
}

std::string format_signed_note(const SignedNote& note) {
  std::string out = note.body;
  out += "\n";
  for (const NoteSignature& sig : note.signatures) {
    std::string raw;
    put_u32(raw, sig.key_id);
    raw += sig.signature;
    out.append(kSignaturePrefix).append(sig.name).append(" ").append(to_base64(raw)).append("\n");
  }
  return out;
}

base::Result<ParsedCheckpoint> parse_checkpoint_body(std::string_view body) {
  if (body.empty() || body.back() != '\n') return bad("checkpoint body does not end with a newline");
  const std::vector<std::string_view> lines = split_lines(body);
  if (lines.size() != 7) {
    return bad("checkpoint body has " + std::to_string(lines.size()) +
               " lines; expected 7 (origin, tree size, root hash, height, block-hash, "
               "state-root, timestamp-ms)");
  }
  ParsedCheckpoint out;
  const std::string_view origin = lines[0];
  if (origin.empty()) return bad("checkpoint line 1 (origin) is empty");
  if (origin.substr(0, kCheckpointOriginPrefix.size()) != kCheckpointOriginPrefix ||
      origin.size() == kCheckpointOriginPrefix.size()) {
    return bad("checkpoint line 1 (origin) '" + std::string(origin) + "' is not 'credledger/<id>'");
  }
  out.origin = std::string(origin);
  uint64_t tree_size = 0;
  if (!parse_decimal(lines[1], tree_size)) {
    return bad("checkpoint line 2 (tree size) '" + std::string(lines[1]) +
               "' is not a decimal without leading zeros");
  }
  out.checkpoint.set_tree_size(tree_size);
  auto root = from_base64(lines[2]);
  if (!root.is_ok() || to_base64(*root) != lines[2]) {
    return bad("checkpoint line 3 (root hash) is not canonical standard base64");
  }
  if (root->size() != 32) {
    return bad("checkpoint line 3 (root hash) is " + std::to_string(root->size()) +
               " bytes; expected 32");
  }
  out.checkpoint.set_root_hash(*root);

  auto field = [&](size_t index, std::string_view key) -> base::Result<std::string_view> {
    const std::string_view line = lines[index];
    const std::string prefix = std::string(key) + " ";
    if (line.substr(0, prefix.size()) != prefix) {
      return bad("checkpoint line " + std::to_string(index + 1) + " is '" + std::string(line) +
                 "'; expected '" + std::string(key) + " <value>'");
    }
    return line.substr(prefix.size());
  };
  auto decimal = [&](size_t index, std::string_view key) -> base::Result<uint64_t> {
    ASSIGN_OR_RETURN(std::string_view value, field(index, key));
    uint64_t n = 0;
    if (!parse_decimal(value, n)) {
      return bad("checkpoint line " + std::to_string(index + 1) + " (" + std::string(key) +
                 ") '" + std::string(value) + "' is not a decimal without leading zeros");
    }
    return n;
  };
  auto hex_hash = [&](size_t index, std::string_view key) -> base::Result<std::string> {
    ASSIGN_OR_RETURN(std::string_view value, field(index, key));
    if (!is_lower_hex64(value)) {
      return bad("checkpoint line " + std::to_string(index + 1) + " (" + std::string(key) +
                 ") is not 64 lowercase hex digits");
    }
    return from_hex(value);
  };
  ASSIGN_OR_RETURN(uint64_t height, decimal(3, "height"));
  ASSIGN_OR_RETURN(std::string block_hash_bytes, hex_hash(4, "block-hash"));
  ASSIGN_OR_RETURN(std::string state_root, hex_hash(5, "state-root"));
  ASSIGN_OR_RETURN(uint64_t timestamp_ms, decimal(6, "timestamp-ms"));
  if (timestamp_ms > kTimestampMax) return bad("checkpoint line 7 (timestamp-ms) is too large");
  out.checkpoint.set_height(height);
  out.checkpoint.set_block_hash(block_hash_bytes);
  out.checkpoint.set_state_root(state_root);
  out.checkpoint.set_timestamp_ms(static_cast<int64_t>(timestamp_ms));
  return out;
}

base::Result<CosignedCheckpoint> parse_checkpoint_note(std::string_view text) {
  ASSIGN_OR_RETURN(SignedNote note, parse_signed_note(text));
  ASSIGN_OR_RETURN(ParsedCheckpoint parsed, parse_checkpoint_body(note.body));
  CosignedCheckpoint out;
  out.origin = std::move(parsed.origin);
  out.checkpoint = std::move(parsed.checkpoint);
  out.note = std::move(note);
  return out;
}

uint32_t cosignature_key_id(std::string_view name, std::string_view public_key) {
  const char type = static_cast<char>(kCosignatureType);
  const Hash h = sha256_parts({name, "\n", std::string_view(&type, 1), public_key});
  return get_u32(as_view(h));
}

std::string cosignature_message(std::string_view body, uint64_t timestamp_s) {
  std::string msg(kCosignatureHeader);
  msg += "\ntime ";
  msg += std::to_string(timestamp_s);
  msg += "\n";
  msg += body;
  return msg;
}

bool valid_note_key_name(std::string_view name) {
  if (name.empty() || !valid_utf8(name)) return false;
  if (name.find('+') != std::string_view::npos || has_unicode_space(name)) return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<uint8_t>(c) < 0x20 || c == 0x7f; });
}

CosignedCheckpoint make_checkpoint(std::string_view origin, const v1::Checkpoint& checkpoint) {
  CosignedCheckpoint out;
  out.origin = std::string(origin);
  out.checkpoint = checkpoint;
  out.note.body = format_checkpoint_body(origin, checkpoint);
  return out;
}

base::Status cosign(CosignedCheckpoint& checkpoint, const KeyFile& key, uint64_t timestamp_s) {
  if (!valid_note_key_name(key.key_id)) {
    return bad("key id '" + key.key_id + "' cannot be a signed-note key name (space or '+')");
  }
  if (timestamp_s > kTimestampMax) return bad("cosignature timestamp exceeds 2^63-1");
  if (key.keys.secret_key.size() != kSecretKeyBytes ||
      key.keys.public_key.size() != kPublicKeyBytes) {
    return bad("key '" + key.key_id + "' is not an Ed25519 key pair");
  }
  NoteSignature sig;
  sig.name = key.key_id;
  sig.key_id = cosignature_key_id(key.key_id, key.keys.public_key);
  put_u64(sig.signature, timestamp_s);
  sig.signature +=
      sign_raw(cosignature_message(checkpoint.note.body, timestamp_s), key.keys.secret_key);
  auto& sigs = checkpoint.note.signatures;
  sigs.erase(std::remove_if(sigs.begin(), sigs.end(),
                            [&](const NoteSignature& s) {
                              return s.name == sig.name && s.key_id == sig.key_id;
                            }),
             sigs.end());
  sigs.push_back(std::move(sig));
  return base::Status::ok();
}

std::string_view outcome_name(CosignatureCheck::Outcome outcome) {
  switch (outcome) {
    case CosignatureCheck::Outcome::kValid: return "valid";
    case CosignatureCheck::Outcome::kInvalid: return "invalid";
    case CosignatureCheck::Outcome::kUnknownKey: return "unknown-key";
  }
  return "?";
}

size_t QuorumReport::invalid_count() const {
  return static_cast<size_t>(std::count_if(signatures.begin(), signatures.end(), [](const auto& s) {
    return s.outcome == CosignatureCheck::Outcome::kInvalid;
  }));
}

size_t QuorumReport::unknown_count() const {
  return static_cast<size_t>(std::count_if(signatures.begin(), signatures.end(), [](const auto& s) {
    return s.outcome == CosignatureCheck::Outcome::kUnknownKey;
  }));
}

bool QuorumReport::trusted() const {
  return origin_ok && invalid_count() == 0 && signer_agencies.size() >= quorum;
}

base::Status QuorumReport::status() const {
  if (!origin_ok) {
    return base::Status::corruption("checkpoint origin is not '" + expected_origin +
                                    "' (another consortium's log)");
  }
  for (const CosignatureCheck& s : signatures) {
    if (s.outcome == CosignatureCheck::Outcome::kInvalid) {
      return base::Status::corruption("cosignature of key '" + s.name + "' (agency '" + s.agency +
                                      "') does not verify: " + s.detail);
    }
  }
  if (signer_agencies.size() < quorum) {
    std::string signers;
    for (const std::string& a : signer_agencies) signers += (signers.empty() ? "" : ", ") + a;
    std::string msg = "checkpoint is cosigned by " + std::to_string(signer_agencies.size()) +
                      " of " + std::to_string(agency_count) + " agencies (" +
                      (signers.empty() ? "none" : signers) + "); a quorum needs " +
                      std::to_string(quorum);
    if (unknown_count() > 0) {
      msg += "; " + std::to_string(unknown_count()) + " signature(s) by unknown keys ignored:";
      for (const CosignatureCheck& s : signatures) {
        if (s.outcome == CosignatureCheck::Outcome::kUnknownKey) msg += " " + s.name;
      }
    }
    return base::Status::corruption(msg);
  }
  return base::Status::ok();
}

QuorumReport verify_cosignatures(const Consortium& consortium, const CosignedCheckpoint& checkpoint) {
  QuorumReport report;
  report.expected_origin = checkpoint_origin(consortium.config().consortium_id());
  report.origin_ok = checkpoint.origin == report.expected_origin;
  report.agency_count = static_cast<size_t>(consortium.config().agencies_size());
  report.quorum = report.agency_count / 2 + 1;
  std::set<std::string> signers;
  for (const NoteSignature& sig : checkpoint.note.signatures) {
    CosignatureCheck check;
    check.name = sig.name;
    check.key_id = sig.key_id;
    if (sig.signature.size() >= 8) check.timestamp_s = get_u64(sig.signature);
    const Consortium::KeyInfo* key = consortium.find_key(sig.name);
    if (key == nullptr) {
      check.outcome = CosignatureCheck::Outcome::kUnknownKey;
      check.detail = "no genesis key is named '" + sig.name + "'";
    } else if (cosignature_key_id(sig.name, key->public_key) != sig.key_id) {
      // C2SP: a matching name with another key ID is someone else's key; ignore it.
      check.outcome = CosignatureCheck::Outcome::kUnknownKey;
      check.agency = key->agency->id();
      check.detail = "key ID " + key_id_hex(sig.key_id) + " is not that of genesis key '" +
                     sig.name + "' (" + key_id_hex(cosignature_key_id(sig.name, key->public_key)) +
                     ")";
    } else {
      check.agency = key->agency->id();
      if (sig.signature.size() != 8 + kSignatureBytes) {
        check.outcome = CosignatureCheck::Outcome::kInvalid;
        check.detail = "cosignature is " + std::to_string(sig.signature.size()) +
                       " bytes; expected 72 (timestamp and Ed25519 signature)";
      } else if (check.timestamp_s > kTimestampMax) {
        check.outcome = CosignatureCheck::Outcome::kInvalid;
        check.detail = "timestamp exceeds 2^63-1";
      } else if (!verify_raw(cosignature_message(checkpoint.note.body, check.timestamp_s),
                             std::string_view(sig.signature).substr(8), key->public_key)) {
        check.outcome = CosignatureCheck::Outcome::kInvalid;
        check.detail = "Ed25519 signature over the checkpoint does not verify";
      } else {
        check.outcome = CosignatureCheck::Outcome::kValid;
        signers.insert(check.agency);
      }
    }
    report.signatures.push_back(std::move(check));
  }
  report.signer_agencies.assign(signers.begin(), signers.end());
  return report;
}

std::string checkpoint_to_json(const CosignedCheckpoint& cp) {
  nlohmann::ordered_json j;
  j["note"] = cp.text();
  j["origin"] = cp.origin;
  j["tree_size"] = cp.checkpoint.tree_size();
  j["root_hash"] = to_hex(cp.checkpoint.root_hash());
  j["height"] = cp.checkpoint.height();
  j["block_hash"] = to_hex(cp.checkpoint.block_hash());
  j["state_root"] = to_hex(cp.checkpoint.state_root());
  j["timestamp_ms"] = cp.checkpoint.timestamp_ms();
  j["time"] = utc_time(cp.checkpoint.timestamp_ms());
  nlohmann::ordered_json cosigners = nlohmann::ordered_json::array();
  for (const NoteSignature& sig : cp.note.signatures) {
    nlohmann::ordered_json s;
    s["name"] = sig.name;
    s["key_id"] = key_id_hex(sig.key_id);
    s["timestamp"] = sig.signature.size() >= 8 ? get_u64(sig.signature) : 0;
    cosigners.push_back(std::move(s));
  }
  j["cosigners"] = std::move(cosigners);
  return j.dump(2) + "\n";
}

base::Result<CosignedCheckpoint> checkpoint_from_json(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("checkpoint file is not a JSON object");
  if (!j.contains("note") || !j["note"].is_string()) {
    return bad("checkpoint file has no \"note\" string (the signed checkpoint note)");
  }
  auto parsed = parse_checkpoint_note(j["note"].get<std::string>());
  if (!parsed.is_ok()) return parsed.status().with_context("checkpoint file \"note\"");
  const CosignedCheckpoint& cp = *parsed;
  auto disagree = [](const std::string& field, const std::string& file, const std::string& note) {
    return bad("checkpoint file field \"" + field + "\" says " + file +
               " but the signed note says " + note);
  };
  auto check_u64 = [&](const char* field, uint64_t want) -> base::Status {
    if (!j.contains(field)) return base::Status::ok();
    if (!j[field].is_number_unsigned() || j[field].get<uint64_t>() != want) {
      return disagree(field, j[field].dump(), std::to_string(want));
    }
    return base::Status::ok();
  };
  auto check_str = [&](const char* field, const std::string& want) -> base::Status {
    if (!j.contains(field)) return base::Status::ok();
    if (!j[field].is_string() || j[field].get<std::string>() != want) {
      return disagree(field, j[field].dump(), want);
    }
    return base::Status::ok();
  };
  RETURN_IF_ERROR(check_str("origin", cp.origin));
  RETURN_IF_ERROR(check_u64("tree_size", cp.checkpoint.tree_size()));
  RETURN_IF_ERROR(check_str("root_hash", to_hex(cp.checkpoint.root_hash())));
  RETURN_IF_ERROR(check_u64("height", cp.checkpoint.height()));
  RETURN_IF_ERROR(check_str("block_hash", to_hex(cp.checkpoint.block_hash())));
  RETURN_IF_ERROR(check_str("state_root", to_hex(cp.checkpoint.state_root())));
  if (j.contains("timestamp_ms")) {
    if (!j["timestamp_ms"].is_number_integer() ||
        j["timestamp_ms"].get<int64_t>() != cp.checkpoint.timestamp_ms()) {
      return disagree("timestamp_ms", j["timestamp_ms"].dump(),
                      std::to_string(cp.checkpoint.timestamp_ms()));
    }
  }
  RETURN_IF_ERROR(check_str("time", utc_time(cp.checkpoint.timestamp_ms())));
  if (j.contains("cosigners")) {
    const auto& list = j["cosigners"];
    bool same = list.is_array() && list.size() == cp.note.signatures.size();
    for (size_t i = 0; same && i < list.size(); ++i) {
      const NoteSignature& sig = cp.note.signatures[i];
      const auto& s = list[i];
      // Not json::value(key, default): it throws when the key holds a non-string.
      auto text = [&s](const char* key) {
        auto it = s.find(key);
        return it != s.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      same = s.is_object() && text("name") == sig.name && text("key_id") == key_id_hex(sig.key_id);
      // The cosignature's own time, as its signature line encodes it (0 if too short to hold
      // one, as checkpoint_to_json writes it).
      const uint64_t note_time = sig.signature.size() >= 8 ? get_u64(sig.signature) : 0;
      if (same && s.contains("timestamp") &&
          (!s["timestamp"].is_number_unsigned() || s["timestamp"].get<uint64_t>() != note_time)) {
        return disagree("cosigners[" + std::to_string(i) + "].timestamp", s["timestamp"].dump(),
                        std::to_string(note_time) + " for '" + sig.name + "'");
      }
    }
    if (!same) {
      return bad("checkpoint file field \"cosigners\" does not list the note's signature lines");
    }
  }
  return std::move(parsed).value();
}

}  // namespace ledger
