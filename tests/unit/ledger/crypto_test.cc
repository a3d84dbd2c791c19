// The libsodium wrapper: Ed25519 signatures with domain separation, hex and base64 codecs,
// keyed pseudonyms for individuals, and key files (written 0600, refused when readable by others
// or when the public key does not match the secret key).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "ledger/crypto.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using ledger_test::TempDir;

std::string seed(char c) { return std::string(32, c); }

}  // namespace

TEST_CASE("a signature verifies under its domain, message and key only", "[ledger][crypto]") {
  const ledger::KeyPair k = ledger::keypair_from_seed(seed('a'));
  const ledger::KeyPair other = ledger::keypair_from_seed(seed('b'));
  const std::string sig = ledger::sign(ledger::kEventSignDomain, "payload", k.secret_key);
  REQUIRE(sig.size() == ledger::kSignatureBytes);
  CHECK(ledger::verify(ledger::kEventSignDomain, "payload", sig, k.public_key));
  CHECK_FALSE(ledger::verify(ledger::kCheckpointSignDomain, "payload", sig, k.public_key));
  CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "payloaD", sig, k.public_key));
  CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "payload", sig, other.public_key));
}

TEST_CASE("domain and message cannot be shifted into each other", "[ledger][crypto]") {
  // "a" || 0 || "bc" must differ from "ab" || 0 || "c": the separator is part of the message.
  const ledger::KeyPair k = ledger::keypair_from_seed(seed('c'));
  const std::string sig = ledger::sign("a", "bc", k.secret_key);
  CHECK(ledger::verify("a", "bc", sig, k.public_key));
  CHECK_FALSE(ledger::verify("ab", "c", sig, k.public_key));
  CHECK_FALSE(ledger::verify("", std::string("a\0bc", 4), sig, k.public_key));
}

TEST_CASE("malformed signatures and keys are invalid, not errors", "[ledger][crypto]") {
  const ledger::KeyPair k = ledger::keypair_from_seed(seed('d'));
  std::string sig = ledger::sign(ledger::kEventSignDomain, "m", k.secret_key);
  CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "m", sig.substr(1), k.public_key));
  CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "m", sig + "x", k.public_key));
  CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "m", "", k.public_key));
  CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "m", sig, k.public_key.substr(1)));
  for (size_t i = 0; i < sig.size(); ++i) {
    std::string bad = sig;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    CHECK_FALSE(ledger::verify(ledger::kEventSignDomain, "m", bad, k.public_key));
  }
}

TEST_CASE("keys from a seed are deterministic and embed the public key", "[ledger][crypto]") {
  const ledger::KeyPair a = ledger::keypair_from_seed(seed('e'));
  const ledger::KeyPair b = ledger::keypair_from_seed(seed('e'));
  CHECK(a.public_key == b.public_key);
  CHECK(a.secret_key == b.secret_key);
  CHECK(a.public_key.size() == ledger::kPublicKeyBytes);
  CHECK(a.secret_key.size() == ledger::kSecretKeyBytes);
  CHECK(a.secret_key.substr(32) == a.public_key);
  CHECK(ledger::keypair_from_seed(seed('f')).public_key != a.public_key);
  const ledger::KeyPair g1 = ledger::generate_keypair();
  const ledger::KeyPair g2 = ledger::generate_keypair();
  CHECK(g1.public_key != g2.public_key);
}

TEST_CASE("sha256 matches published test vectors", "[ledger][crypto]") {
  CHECK(ledger::to_hex(ledger::sha256("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(ledger::to_hex(ledger::sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ledger::sha256_parts({"a", "", "bc"}) == ledger::sha256("abc"));
}

TEST_CASE("hex round trips all byte values and refuses bad input", "[ledger][crypto]") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string hex = ledger::to_hex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(504) == "fcfdfeff");
  auto back = ledger::from_hex(hex);
  REQUIRE(back.is_ok());
  CHECK(*back == all);
  auto upper = ledger::from_hex("ABcd");
  REQUIRE(upper.is_ok());
  CHECK(*upper == "\xab\xcd");
  CHECK(ledger::from_hex("").is_ok());
  CHECK(ledger::from_hex("abc").status().code() == base::Code::kInvalidArgument);
  CHECK(ledger::from_hex("zz").status().code() == base::Code::kInvalidArgument);
  CHECK(ledger::from_hex("0g").status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("base64 round trips and refuses bad input", "[ledger][crypto]") {
  CHECK(ledger::to_base64("") == "");
  CHECK(ledger::to_base64("f") == "Zg==");
  CHECK(ledger::to_base64("foobar") == "Zm9vYmFy");
  for (size_t n = 0; n < 70; ++n) {
    std::string bytes;
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<char>(i * 37 + n));
    auto back = ledger::from_base64(ledger::to_base64(bytes));
    REQUIRE(back.is_ok());
    CHECK(*back == bytes);
  }
  CHECK(ledger::from_base64("Zg=").status().code() == base::Code::kInvalidArgument);
  CHECK(ledger::from_base64("Z!==").status().code() == base::Code::kInvalidArgument);
  CHECK(ledger::from_base64("Zm9vYmFy_").status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("hash_from_bytes accepts exactly 32 bytes", "[ledger][crypto]") {
  CHECK(ledger::hash_from_bytes(std::string(32, 'x')).is_ok());
  CHECK(ledger::hash_from_bytes(std::string(31, 'x')).status().code() ==
        base::Code::kInvalidArgument);
  CHECK(ledger::hash_from_bytes(std::string(33, 'x')).status().code() ==
        base::Code::kInvalidArgument);
}

TEST_CASE("pseudonyms are deterministic, 64 lowercase hex and secret-dependent",
          "[ledger][crypto]") {
  const std::string secret1(32, 's');
  const std::string secret2(32, 't');
  const std::string p = ledger::pseudonym("110101199003074477", secret1);
  CHECK(p == ledger::pseudonym("110101199003074477", secret1));
  CHECK(p.size() == 64);
  CHECK(p.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(p != ledger::pseudonym("110101199003074477", secret2));
  CHECK(p != ledger::pseudonym("110101199003074478", secret1));
  CHECK(p.find("110101") == std::string::npos);
  // Not the plain hash of the id: the secret matters.
  CHECK(p != ledger::to_hex(ledger::sha256("110101199003074477")));
}

TEST_CASE("default key ids name the agency and a fingerprint", "[ledger][crypto]") {
  const ledger::KeyPair k = ledger::keypair_from_seed(seed('k'));
  const std::string id = ledger::default_key_id("samr", k.public_key);
  CHECK(id.rfind("samr-", 0) == 0);
  CHECK(id.size() == 5 + 8);
  CHECK(id.substr(5) == ledger::to_hex(ledger::sha256(k.public_key)).substr(0, 8));
}

TEST_CASE("a key file is written 0600 and reads back", "[ledger][crypto]") {
  TempDir dir;
  const std::string path = dir.path() + "/samr.key";
  ledger::KeyFile key{"samr", "samr-k1", ledger::keypair_from_seed(seed('1'))};
  REQUIRE(ledger::write_key_file(path, key).is_ok());
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto back = ledger::read_key_file(path);
  INFO(back.status().to_string());
  REQUIRE(back.is_ok());
  CHECK(back->agency == "samr");
  CHECK(back->key_id == "samr-k1");
  CHECK(back->keys.public_key == key.keys.public_key);
  CHECK(back->keys.secret_key == key.keys.secret_key);
}

TEST_CASE("a key file is never overwritten", "[ledger][crypto]") {
  TempDir dir;
  const std::string path = dir.path() + "/samr.key";
  ledger::KeyFile key{"samr", "samr-k1", ledger::keypair_from_seed(seed('2'))};
  REQUIRE(ledger::write_key_file(path, key).is_ok());
  ledger::KeyFile other{"samr", "samr-k2", ledger::keypair_from_seed(seed('3'))};
  CHECK(ledger::write_key_file(path, other).code() == base::Code::kIOError);
  auto back = ledger::read_key_file(path);
  REQUIRE(back.is_ok());
  CHECK(back->key_id == "samr-k1");
}

TEST_CASE("a key file readable by group or others is refused", "[ledger][crypto]") {
  TempDir dir;
  const std::string path = dir.path() + "/samr.key";
  REQUIRE(ledger::write_key_file(path, {"samr", "samr-k1", ledger::keypair_from_seed(seed('4'))})
              .is_ok());
  for (mode_t mode : {0644, 0640, 0604}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto read = ledger::read_key_file(path);
    CHECK(read.status().code() == base::Code::kInvalidArgument);
    CHECK_THAT(read.status().message(), Catch::Contains("chmod 600"));
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(ledger::read_key_file(path).is_ok());
}

TEST_CASE("a key file whose public key does not match its secret key is refused",
          "[ledger][crypto]") {
  TempDir dir;
  const std::string path = dir.path() + "/samr.key";
  ledger::KeyFile key{"samr", "samr-k1", ledger::keypair_from_seed(seed('5'))};
  key.keys.public_key = ledger::keypair_from_seed(seed('6')).public_key;
  REQUIRE(ledger::write_key_file(path, key).is_ok());
  auto read = ledger::read_key_file(path);
  CHECK(read.status().code() == base::Code::kInvalidArgument);
  CHECK_THAT(read.status().message(), Catch::Contains("does not match"));
}

TEST_CASE("missing, non-JSON and incomplete key files are refused", "[ledger][crypto]") {
  TempDir dir;
  CHECK(ledger::read_key_file(dir.path() + "/absent.key").status().code() ==
        base::Code::kNotFound);
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path) << text;
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    return path;
  };
  CHECK(ledger::read_key_file(write("garbage.key", "not json")).status().code() ==
        base::Code::kInvalidArgument);
  auto partial = ledger::read_key_file(write("partial.key", R"({"agency":"samr"})"));
  CHECK(partial.status().code() == base::Code::kInvalidArgument);
  CHECK_THAT(partial.status().message(), Catch::Contains("key_id"));
  auto short_key = ledger::read_key_file(write(
      "short.key",
      R"({"agency":"samr","key_id":"k","public_key":"Zm9v","secret_key":"Zm9v"})"));
  CHECK(short_key.status().code() == base::Code::kInvalidArgument);
}
