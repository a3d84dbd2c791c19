#include "ledger/crypto.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace ledger {

void crypto_init() {
  static const bool ok = [] { return sodium_init() >= 0; }();
  LEDGER_ASSERT(ok);
}

Hash sha256(std::string_view data) {
  crypto_init();
  Hash out;
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

Hash sha256_parts(std::initializer_list<std::string_view> parts) {
  crypto_init();
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  for (std::string_view part : parts) {
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                              part.size());
  }
  Hash out;
  crypto_hash_sha256_final(&state, out.data());
  return out;
}

std::string_view as_view(const Hash& hash) {
  return std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size());
}

std::string to_string(const Hash& hash) { return std::string(as_view(hash)); }

base::Result<Hash> hash_from_bytes(std::string_view bytes) {
  if (bytes.size() != 32) {
    return base::Status::invalid_argument("hash must be 32 bytes, got " +
                                          std::to_string(bytes.size()));
  }
  Hash out;
  std::memcpy(out.data(), bytes.data(), 32);
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string to_hex(const Hash& hash) { return to_hex(as_view(hash)); }

base::Result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return base::Status::invalid_argument("hex string has odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return base::Status::invalid_argument("not a hex digit at position " + std::to_string(i));
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string to_base64(std::string_view bytes) {
  crypto_init();
  const size_t len = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);  // drop the terminating NUL
  return out;
}

base::Result<std::string> from_base64(std::string_view text) {
  crypto_init();
  std::string out(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return base::Status::invalid_argument("not valid base64");
  }
  out.resize(len);
  return out;
}

KeyPair generate_keypair() {
  crypto_init();
  KeyPair kp;
  kp.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  kp.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(kp.public_key.data()),
                      reinterpret_cast<unsigned char*>(kp.secret_key.data()));
  return kp;
}

KeyPair keypair_from_seed(std::string_view seed32) {
  crypto_init();
  LEDGER_ASSERT(seed32.size() == crypto_sign_SEEDBYTES);
  KeyPair kp;
  kp.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  kp.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(kp.public_key.data()),
                           reinterpret_cast<unsigned char*>(kp.secret_key.data()),
                           reinterpret_cast<const unsigned char*>(seed32.data()));
  return kp;
}

namespace {
std::string domain_message(std::string_view domain, std::string_view message) {
  std::string buf;
  buf.reserve(domain.size() + 1 + message.size());
  buf.append(domain);
  buf.push_back('\0');
  buf.append(message);
  return buf;
}
}  // namespace

std::string sign(std::string_view domain, std::string_view message, std::string_view secret_key) {
  crypto_init();
  LEDGER_ASSERT(secret_key.size() == kSecretKeyBytes);
  const std::string buf = domain_message(domain, message);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(buf.data()), buf.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return sig;
}

bool verify(std::string_view domain, std::string_view message, std::string_view signature,
            std::string_view public_key) {
  crypto_init();
  if (signature.size() != kSignatureBytes || public_key.size() != kPublicKeyBytes) return false;
  const std::string buf = domain_message(domain, message);
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(buf.data()),
                                     buf.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) ==
         0;
}

std::string sign_raw(std::string_view message, std::string_view secret_key) {
  crypto_init();
  LEDGER_ASSERT(secret_key.size() == kSecretKeyBytes);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return sig;
}

bool verify_raw(std::string_view message, std::string_view signature,
                std::string_view public_key) {
  crypto_init();
  if (signature.size() != kSignatureBytes || public_key.size() != kPublicKeyBytes) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) ==
         0;
}

std::string pseudonym(std::string_view national_id, std::string_view secret) {
  crypto_init();
  LEDGER_ASSERT(secret.size() >= crypto_generichash_KEYBYTES_MIN);
  LEDGER_ASSERT(secret.size() <= crypto_generichash_KEYBYTES_MAX);
  const std::string buf = domain_message(kPseudonymDomain, national_id);
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(buf.data()),
                     buf.size(), reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

std::string default_key_id(std::string_view agency_id, std::string_view public_key) {
  return std::string(agency_id) + "-" + to_hex(sha256(public_key)).substr(0, 8);
}

base::Status write_key_file(const std::string& path, const KeyFile& key) {
  nlohmann::json j = {
      {"agency", key.agency},
      {"key_id", key.key_id},
      {"public_key", to_base64(key.keys.public_key)},
      {"secret_key", to_base64(key.keys.secret_key)},
  };
  const std::string text = j.dump(2) + "\n";
  // O_EXCL: never overwrite an existing key by accident.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return base::Status::io_error("cannot create key file " + path + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      return base::Status::io_error("cannot write key file " + path + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return base::Status::io_error("cannot sync key file " + path + ": " + std::strerror(errno));
  }
  return base::Status::ok();
}

base::Result<KeyFile> read_key_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return base::Status::not_found("cannot read key file " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return base::Status::invalid_argument("key file " + path +
                                          " is readable by group or others; chmod 600 it");
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return base::Status::invalid_argument("key file " + path + " is not valid JSON");
  }
  KeyFile key;
  for (const char* field : {"agency", "key_id", "public_key", "secret_key"}) {
    if (!j.contains(field) || !j[field].is_string()) {
      return base::Status::invalid_argument("key file " + path + " lacks string field \"" +
                                            field + "\"");
    }
  }
  key.agency = j["agency"].get<std::string>();
  key.key_id = j["key_id"].get<std::string>();
  auto pub = from_base64(j["public_key"].get<std::string>());
  auto sec = from_base64(j["secret_key"].get<std::string>());
  if (!pub.is_ok() || pub->size() != kPublicKeyBytes) {
    return base::Status::invalid_argument("key file " + path + ": public_key is not 32 bytes");
  }
  if (!sec.is_ok() || sec->size() != kSecretKeyBytes) {
    return base::Status::invalid_argument("key file " + path + ": secret_key is not 64 bytes");
  }
  // The secret key embeds its public half; a mismatch means a hand-edited or damaged file.
  if (sec->substr(32) != *pub) {
    return base::Status::invalid_argument("key file " + path +
                                          ": public_key does not match secret_key");
  }
  key.keys.public_key = std::move(pub).value();
  key.keys.secret_key = std::move(sec).value();
  return key;
}

}  // namespace ledger
