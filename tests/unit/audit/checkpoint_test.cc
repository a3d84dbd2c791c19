// Checkpoints as C2SP signed notes: the body and note format round trip, strict parsing rejects
// each malformed variant with a message naming the line, and cosignatures (tlog-cosignature/v1)
// count toward a quorum of distinct agencies while unknown and invalid signatures are reported.
// Keys are the fixed test consortium's (tests/unit/ledger/fixture.h).
#include <catch2/catch.hpp>

#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;
namespace v1 = credledger::v1;

ledger::KeyFile key_file(std::string_view agency) {
  return ledger::KeyFile{std::string(agency), key_id_of(agency), keys_of(agency)};
}

v1::Checkpoint sample_checkpoint() {
  v1::Checkpoint cp;
  cp.set_tree_size(20852163);
  cp.set_root_hash(ledger::to_string(ledger::sha256("root")));
  cp.set_height(4711);
  cp.set_block_hash(ledger::to_string(ledger::sha256("block")));
  cp.set_state_root(ledger::to_string(ledger::sha256("state")));
  cp.set_timestamp_ms(kT0 + 1234);
  return cp;
}

ledger::CosignedCheckpoint signed_by(std::initializer_list<std::string_view> agencies) {
  ledger::CosignedCheckpoint cp =
      ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), sample_checkpoint());
  uint64_t t = 1767225600;
  for (std::string_view a : agencies) REQUIRE(ledger::cosign(cp, key_file(a), t++).is_ok());
  return cp;
}

bool same(const v1::Checkpoint& a, const v1::Checkpoint& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

TEST_CASE("checkpoint body has the documented seven lines", "[audit][checkpoint]") {
  const v1::Checkpoint cp = sample_checkpoint();
  const std::string body = ledger::format_checkpoint_body("credledger/credledger-test", cp);
  const std::string expected = "credledger/credledger-test\n20852163\n" +
                               ledger::to_base64(cp.root_hash()) + "\nheight 4711\nblock-hash " +
                               ledger::to_hex(cp.block_hash()) + "\nstate-root " +
                               ledger::to_hex(cp.state_root()) + "\ntimestamp-ms " +
                               std::to_string(kT0 + 1234) + "\n";
  CHECK(body == expected);
  auto parsed = ledger::parse_checkpoint_body(body);
  REQUIRE(parsed.is_ok());
  CHECK(parsed->origin == "credledger/credledger-test");
  CHECK(same(parsed->checkpoint, cp));
}

TEST_CASE("signed checkpoint note round trips through text and cp.json", "[audit][checkpoint]") {
  const ledger::CosignedCheckpoint cp = signed_by({kSamr, kSta, kCourt});
  const std::string text = cp.text();
  // One signature line per agency: em dash, space, key name, space, 76 bytes in base64.
  CHECK(text.find("\n\n\xE2\x80\x94 samr-k1 ") != std::string::npos);
  auto parsed = ledger::parse_checkpoint_note(text);
  REQUIRE(parsed.is_ok());
  CHECK(parsed->text() == text);
  CHECK(same(parsed->checkpoint, cp.checkpoint));
  REQUIRE(parsed->note.signatures.size() == 3);
  CHECK(parsed->note.signatures[0].signature.size() == 72);

  auto from_json = ledger::checkpoint_from_json(ledger::checkpoint_to_json(cp));
  INFO(from_json.status().to_string());
  REQUIRE(from_json.is_ok());
  CHECK(from_json->text() == text);

  // A decoded field that disagrees with the note is refused.
  std::string json = ledger::checkpoint_to_json(cp);
  const std::string height = "\"height\": 4711";
  REQUIRE(json.find(height) != std::string::npos);
  json.replace(json.find(height), height.size(), "\"height\": 4712");
  auto lying = ledger::checkpoint_from_json(json);
  REQUIRE_FALSE(lying.is_ok());
  CHECK_THAT(lying.status().message(), Catch::Contains("\"height\""));
}

TEST_CASE("strict note parsing rejects each malformation", "[audit][checkpoint]") {
  const std::string good = signed_by({kSamr, kSta}).text();
  REQUIRE(ledger::parse_checkpoint_note(good).is_ok());
  auto replace = [&](std::string from, std::string to) {
    std::string t = good;
    const size_t at = t.find(from);
    REQUIRE(at != std::string::npos);
    t.replace(at, from.size(), to);
    return t;
  };
  const v1::Checkpoint cp = sample_checkpoint();
  const std::string b64 = ledger::to_base64(cp.root_hash());
  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no final newline", good.substr(0, good.size() - 1), "newline"},
      {"leading zero in tree size", replace("\n20852163\n", "\n020852163\n"), "line 2"},
      {"tree size not decimal", replace("\n20852163\n", "\n2085x163\n"), "line 2"},
      {"root not base64", replace(b64, "!" + b64.substr(1)), "line 3"},
      {"root wrong length", replace(b64, ledger::to_base64("short")), "line 3"},
      {"uppercase hex", replace("block-hash " + ledger::to_hex(cp.block_hash()),
                                "block-hash " + ledger::to_hex(cp.block_hash()).substr(0, 63) + "F"),
       "line 5"},
      {"renamed extension", replace("height 4711", "heigth 4711"), "line 4"},
      {"missing extension", replace("height 4711\n", ""), "6 lines"},
      {"extra line", replace("timestamp-ms", "extra\ntimestamp-ms"), "8 lines"},
      {"wrong origin", replace("credledger/credledger-test", "example.com/log"), "origin"},
      {"carriage return", replace("\nheight", "\r\nheight"), "control character"},
      {"no signatures", good.substr(0, good.find("\n\n") + 2), "no signature lines"},
      {"no blank line", replace("\n\n", "\n"), "blank line"},
      {"hyphen instead of em dash", replace("\xE2\x80\x94 samr", "- samr"), "em dash"},
      {"plus in key name", replace("samr-k1", "samr+k1"), "key name"},
      {"signature not base64", replace("samr-k1 ", "samr-k1 @"), "base64"},
      {"invalid UTF-8", replace("credledger/", "credledger\xff/"), "UTF-8"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto parsed = ledger::parse_checkpoint_note(c.text);
    REQUIRE_FALSE(parsed.is_ok());
    CHECK(parsed.status().code() == base::Code::kInvalidArgument);
    CHECK_THAT(parsed.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("cosignature follows tlog-cosignature/v1", "[audit][checkpoint]") {
  const ledger::CosignedCheckpoint cp = signed_by({kSamr});
  const ledger::NoteSignature& sig = cp.note.signatures.at(0);
  // key ID = SHA-256(name || "\n" || 0x04 || public key)[:4]
  std::string preimage = "samr-k1\n";
  preimage.push_back('\x04');
  preimage += keys_of(kSamr).public_key;
  CHECK(sig.key_id == ledger::get_u32(ledger::as_view(ledger::sha256(preimage))));
  // signature = u64be time || Ed25519 over "cosignature/v1\ntime <t>\n" || body
  CHECK(ledger::get_u64(sig.signature) == 1767225600);
  const std::string message = "cosignature/v1\ntime 1767225600\n" + cp.note.body;
  CHECK(ledger::verify_raw(message, sig.signature.substr(8), keys_of(kSamr).public_key));
}

TEST_CASE("quorum counts distinct agencies with valid cosignatures", "[audit][checkpoint]") {
  auto consortium = test_consortium();  // three agencies: quorum is two
  auto report = [&](const ledger::CosignedCheckpoint& cp) {
    return ledger::verify_cosignatures(*consortium, cp);
  };
  CHECK(report(signed_by({kSamr, kSta, kCourt})).trusted());
  CHECK(report(signed_by({kSamr, kCourt})).trusted());
  SECTION("fewer than a quorum") {
    ledger::QuorumReport r = report(signed_by({kSta}));
    CHECK_FALSE(r.trusted());
    CHECK(r.quorum == 2);
    CHECK_THAT(r.status().message(), Catch::Contains("1 of 3 agencies"));
  }
  SECTION("the same agency twice is one agency") {
    ledger::CosignedCheckpoint cp = signed_by({kSamr});
    REQUIRE(ledger::cosign(cp, key_file(kSamr), 1767229999).is_ok());  // replaces, not adds
    CHECK(cp.note.signatures.size() == 1);
    CHECK_FALSE(report(cp).trusted());
  }
  SECTION("unknown keys are ignored and reported") {
    ledger::CosignedCheckpoint cp = signed_by({kSamr});
    REQUIRE(ledger::cosign(cp, ledger::KeyFile{"rogue", "rogue-k1", rogue_keys()}, 1).is_ok());
    // A known name with another key: C2SP says this is someone else's key.
    REQUIRE(ledger::cosign(cp, ledger::KeyFile{"sta", "sta-k1", rogue_keys()}, 1).is_ok());
    ledger::QuorumReport r = report(cp);
    CHECK_FALSE(r.trusted());
    CHECK(r.unknown_count() == 2);
    CHECK(r.invalid_count() == 0);
    CHECK_THAT(r.status().message(), Catch::Contains("rogue-k1"));
  }
  SECTION("an invalid signature of a known key spoils the checkpoint") {
    ledger::CosignedCheckpoint cp = signed_by({kSamr, kSta, kCourt});
    cp.note.signatures[1].signature[20] ^= 0x01;
    ledger::QuorumReport r = report(cp);
    CHECK_FALSE(r.trusted());
    CHECK(r.invalid_count() == 1);
    CHECK_THAT(r.status().message(), Catch::Contains("sta-k1"));
  }
  SECTION("a body changed after signing fails every signature") {
    ledger::CosignedCheckpoint cp = signed_by({kSamr, kSta, kCourt});
    cp.note.body.replace(cp.note.body.find("height 4711"), 11, "height 4712");
    CHECK(report(cp).invalid_count() == 3);
  }
  SECTION("another consortium's origin") {
    ledger::CosignedCheckpoint cp =
        ledger::make_checkpoint(ledger::checkpoint_origin("other"), sample_checkpoint());
    REQUIRE(ledger::cosign(cp, key_file(kSamr), 1).is_ok());
    REQUIRE(ledger::cosign(cp, key_file(kSta), 1).is_ok());
    CHECK_FALSE(report(cp).origin_ok);
    CHECK_FALSE(report(cp).trusted());
  }
}
