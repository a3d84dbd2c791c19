// Hashing and signatures: the only place that calls libsodium.
//
// Every signature and every hash that is not an RFC 6962 tree hash carries a domain-separation
// prefix, so bytes signed for one purpose can never be replayed as another (DESIGN.md, 1).
// Thread-safe after crypto_init() (called by every entry point here; idempotent).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ledger {

using Hash = std::array<uint8_t, 32>;

constexpr size_t kPublicKeyBytes = 32;
constexpr size_t kSecretKeyBytes = 64;  // libsodium's seed || public key form
constexpr size_t kSignatureBytes = 64;

// Domain prefixes. The signed message is prefix || 0x00 || payload.
constexpr std::string_view kEventSignDomain = "credledger/event/v1";
constexpr std::string_view kCheckpointSignDomain = "credledger/checkpoint/v1";
// Individuals' pseudonyms: BLAKE2b-256 keyed with the consortium secret over prefix || 0x00 || id.
constexpr std::string_view kPseudonymDomain = "credledger/pseudonym/v1";

// Aborts the process if libsodium cannot initialise (no usable randomness: nothing is safe).
void crypto_init();

Hash sha256(std::string_view data);
// SHA-256 over the concatenation of parts, without copying them together.
Hash sha256_parts(std::initializer_list<std::string_view> parts);

std::string_view as_view(const Hash& hash);
std::string to_string(const Hash& hash);  // the 32 raw bytes
// REQUIRES nothing: kInvalidArgument unless bytes.size() == 32.
base::Result<Hash> hash_from_bytes(std::string_view bytes);

std::string to_hex(std::string_view bytes);
std::string to_hex(const Hash& hash);
base::Result<std::string> from_hex(std::string_view hex);
std::string to_base64(std::string_view bytes);
base::Result<std::string> from_base64(std::string_view text);

struct KeyPair {
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes
};

KeyPair generate_keypair();
// Deterministic key pair from a 32-byte seed (tests and benchmarks use fixed keys).
KeyPair keypair_from_seed(std::string_view seed32);

// Signs domain || 0x00 || message. REQUIRES: secret_key.size() == kSecretKeyBytes.
std::string sign(std::string_view domain, std::string_view message, std::string_view secret_key);
// True when signature is a valid Ed25519 signature of domain || 0x00 || message. Wrong sizes are
// simply invalid (false), never an error.
bool verify(std::string_view domain, std::string_view message, std::string_view signature,
            std::string_view public_key);

// Ed25519 over `message` exactly as given, without our domain prefix. Only for external formats
// whose own framing separates domains: C2SP cosignature/v1 messages begin "cosignature/v1\n"
// (ledger/checkpoint.h), which no domain-prefixed message of ours can.
// REQUIRES (sign_raw): secret_key.size() == kSecretKeyBytes. verify_raw: wrong sizes are false.
std::string sign_raw(std::string_view message, std::string_view secret_key);
bool verify_raw(std::string_view message, std::string_view signature,
                std::string_view public_key);

// 64 lowercase hex characters: keyed BLAKE2b-256 of a national ID under the consortium secret.
// REQUIRES: secret is 16..64 bytes.
std::string pseudonym(std::string_view national_id, std::string_view secret);

// Key id used when a genesis file names none: "<agency>-<first 8 hex of sha256(public key)>".
std::string default_key_id(std::string_view agency_id, std::string_view public_key);

// A key file holds one agency signing key (JSON: agency, key_id, public_key, secret_key in
// base64). Written with mode 0600; reading refuses a file readable by group or others.
struct KeyFile {
  std::string agency;
  std::string key_id;
  KeyPair keys;
};
base::Status write_key_file(const std::string& path, const KeyFile& key);
base::Result<KeyFile> read_key_file(const std::string& path);

}  // namespace ledger
