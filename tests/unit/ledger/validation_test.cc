// Every validation rule of DESIGN.md decision 8, one accepted and one rejected case each,
// asserting the exact RejectReason in the receipt of a block applied through Ledger::apply (and
// through check_event_static where that is simpler). Rejections must leave the view and the
// Merkle log as they were, and never lose what was accepted before.
#include <catch2/catch.hpp>
#include <optional>
#include <random>
#include <string>

#include "ledger/uscc.h"
#include "ledger/validation.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;

constexpr int64_t kBlockTime = kT0 + kDayMs;

std::string reason_name(v1::RejectReason r) { return v1::RejectReason_Name(r); }

void expect_accepted(const v1::Receipt& r) {
  INFO("event " << r.event_id() << " rejected: " << reason_name(r.reason()) << " "
                << r.message());
  CHECK(r.accepted());
}

void expect_rejected(const v1::Receipt& r, v1::RejectReason reason) {
  INFO("event " << r.event_id() << ": " << r.message());
  CHECK_FALSE(r.accepted());
  CHECK(reason_name(r.reason()) == reason_name(reason));
  CHECK_FALSE(r.message().empty());
}

v1::Receipt submit(TestLedger& l, const v1::CreditEvent& e, int64_t ts = kBlockTime) {
  return l.apply_one(sign(e), ts);
}
v1::Receipt submit(TestLedger& l, const v1::SignedEvent& e, int64_t ts = kBlockTime) {
  return l.apply_one(e, ts);
}

std::optional<v1::RejectReason> static_reason(const v1::SignedEvent& e) {
  ledger::StaticCheck c =
      ledger::check_event_static(*test_consortium(), e, ledger::SignatureState::kUnchecked);
  if (!c.rejection) return std::nullopt;
  return c.rejection->reason;
}

const v1::Subject kFirm = enterprise(1001);
const v1::Subject kOtherFirm = enterprise(1002);

v1::CreditEvent a_penalty(std::string_view id = "p1") {
  return penalty(id, kSamr, kFirm, v1::GENERAL, v1::MODERATE, kT0, 180);
}

}  // namespace

TEST_CASE("the RejectReason enum has exactly the reasons tested in this file",
          "[ledger][validation]") {
  // A new reason must get its accepted and rejected case here before this count is raised.
  const auto* d = v1::RejectReason_descriptor();
  CHECK(d->value_count() == 31);
  CHECK(d->FindValueByNumber(30)->name() == "EFFECT_BEFORE_TARGET");
}

TEST_CASE("ending an entry before it took effect is EFFECT_BEFORE_TARGET", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));  // effective at kT0
  for (v1::EventKind kind : {v1::RESTORATION, v1::CORRECTION}) {
    const v1::Receipt early = submit(
        l, referring("early-" + v1::EventKind_Name(kind), kSamr, kFirm, kind, "pen", kT0 - 1));
    expect_rejected(early, v1::EFFECT_BEFORE_TARGET);
    CHECK_THAT(early.message(), Catch::Contains("pen"));
  }
  expect_accepted(submit(l, blacklist_entry("bl", kSamr, kFirm, v1::GENERAL, kT0, 30)));
  expect_rejected(submit(l, referring("rm-early", kSamr, kFirm, v1::BLACKLIST_REMOVAL, "bl", kT0 - 1)),
                  v1::EFFECT_BEFORE_TARGET);
  expect_accepted(submit(l, referring("obj", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 10)));
  expect_rejected(submit(l, referring("rul-early", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 9)),
                  v1::EFFECT_BEFORE_TARGET);
  // At the same instant as the target is allowed: a correction may retract from the start.
  expect_accepted(submit(l, referring("cor", kSamr, kFirm, v1::CORRECTION, "bl", kT0)));
  expect_accepted(submit(l, referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 10)));
}

TEST_CASE("a valid event of each non-referring kind is accepted", "[ledger][validation]") {
  TestLedger l;
  int n = 0;
  auto id = [&] { return "ok-" + std::to_string(n++); };
  expect_accepted(submit(l, a_penalty(id())));
  expect_accepted(submit(l, blacklist_entry(id(), kSamr, kFirm, v1::FOOD_AND_DRUG, kT0, 30)));
  expect_accepted(submit(l, make_event(id(), kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0)));
  expect_accepted(
      submit(l, make_event(id(), kSamr, kFirm, v1::VOLUNTARY_DISCLOSURE, v1::GENERAL, kT0)));
  expect_accepted(
      submit(l, make_event(id(), kSamr, kFirm, v1::CREDIT_COMMITMENT, v1::REAL_ESTATE, kT0)));
  expect_accepted(submit(l, make_event(id(), kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kT0)));
  expect_accepted(submit(l, penalty(id(), kSta, kFirm, v1::TAXATION, v1::SERIOUS, kT0, 1000)));
  expect_accepted(submit(l, blacklist_entry(id(), kCourt, individual("110101199003074477"),
                                            v1::FINANCE, kT0, 700)));
  expect_accepted(submit(l, blacklist_entry(id(), kCourt, social_organization(7),
                                            v1::LEGAL_SERVICES, kT0, 700)));
  CHECK(l->head().tree_size() == 9);
}

// ---- signature and keys ----

TEST_CASE("a bad signature is rejected as BAD_SIGNATURE", "[ledger][validation]") {
  TestLedger l;
  v1::SignedEvent good = sign(a_penalty("sig-ok"));
  expect_accepted(submit(l, good));
  v1::SignedEvent bad = sign(a_penalty("sig-bad"));
  std::string sig = bad.signature();
  sig[10] = static_cast<char>(sig[10] ^ 0x40);
  bad.set_signature(sig);
  expect_rejected(submit(l, bad), v1::BAD_SIGNATURE);
  // Payload changed after signing.
  v1::SignedEvent changed = sign(a_penalty("sig-changed"));
  changed.mutable_payload()->back() ^= 0x01;
  expect_rejected(submit(l, changed), v1::BAD_SIGNATURE);
  // The key id of samr with a secret key that is not samr's.
  expect_rejected(submit(l, sign_with(a_penalty("sig-wrong-key"), key_id_of(kSamr), rogue_keys())),
                  v1::BAD_SIGNATURE);
  CHECK(static_reason(bad) == v1::BAD_SIGNATURE);
}

TEST_CASE("an event refused before its payload is read is named by the id it claims (#12)",
          "[ledger][validation]") {
  v1::SignedEvent bad = sign(a_penalty("claimed-1"));
  std::string sig = bad.signature();
  sig[3] = static_cast<char>(sig[3] ^ 0x01);
  bad.set_signature(sig);
  CHECK(static_reason(bad) == v1::BAD_SIGNATURE);
  CHECK(ledger::claimed_event_id(bad) == "claimed-1");
  const v1::SignedEvent rogue = sign_with(a_penalty("claimed-2"), "mofcom-k1", rogue_keys());
  CHECK(ledger::claimed_event_id(rogue) == "claimed-2");
  // Not a CreditEvent, or an id that is not one: nothing to name.
  CHECK(ledger::claimed_event_id(sign_payload(std::string("\x0a\xff\xff\xff\x0f junk", 10),
                                              kSamr)) == "?");
  CHECK(ledger::claimed_event_id(sign(a_penalty("has space"))) == "?");
  CHECK(ledger::claimed_event_id(v1::SignedEvent()) == "?");
}

TEST_CASE("a signature verdict from the caller is honoured", "[ledger][validation]") {
  TestLedger l;
  std::vector<ledger::SignatureState> verdicts = {ledger::SignatureState::kValid,
                                                  ledger::SignatureState::kInvalid};
  auto block = l->apply(body({sign(a_penalty("v1")), sign(a_penalty("v2"))}, kBlockTime),
                        &verdicts);
  REQUIRE(block.is_ok());
  expect_accepted(block->receipts(0));
  expect_rejected(block->receipts(1), v1::BAD_SIGNATURE);
}

TEST_CASE("a key id no agency holds is rejected as UNKNOWN_KEY", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, sign_with(a_penalty("k-ok"), key_id_of(kSamr), keys_of(kSamr))));
  expect_rejected(submit(l, sign_with(a_penalty("k-bad"), "rogue-k1", rogue_keys())),
                  v1::UNKNOWN_KEY);
  expect_rejected(submit(l, sign_with(a_penalty("k-empty"), "", keys_of(kSamr))), v1::UNKNOWN_KEY);
}

TEST_CASE("a key of another agency is rejected as KEY_NOT_OF_ISSUER", "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent e = a_penalty("kni");
  expect_rejected(submit(l, sign_with(e, key_id_of(kSta), keys_of(kSta))),
                  v1::KEY_NOT_OF_ISSUER);
  expect_accepted(submit(l, sign_with(e, key_id_of(kSamr), keys_of(kSamr))));
}

TEST_CASE("an issuer that is not a consortium agency is rejected as UNKNOWN_AGENCY",
          "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent e = a_penalty("ua");
  e.set_issuer("mofcom");
  expect_rejected(submit(l, sign_with(e, key_id_of(kSamr), keys_of(kSamr))), v1::UNKNOWN_AGENCY);
  e.set_issuer("");
  e.set_event_id("ua2");
  expect_rejected(submit(l, sign_with(e, key_id_of(kSamr), keys_of(kSamr))), v1::UNKNOWN_AGENCY);
  e.set_issuer(std::string(kSamr));
  expect_accepted(submit(l, e));
}

// ---- mandate ----

TEST_CASE("a kind outside the agency's mandate is rejected as OUT_OF_MANDATE_KIND",
          "[ledger][validation]") {
  TestLedger l;
  expect_rejected(submit(l, penalty("court-p", kCourt, kFirm, v1::GENERAL, v1::MINOR, kT0, 30)),
                  v1::OUT_OF_MANDATE_KIND);
  expect_rejected(
      submit(l, make_event("sta-cc", kSta, kFirm, v1::CREDIT_COMMITMENT, v1::TAXATION, kT0)),
      v1::OUT_OF_MANDATE_KIND);
  expect_accepted(submit(l, blacklist_entry("court-b", kCourt, kFirm, v1::GENERAL, kT0, 30)));
  expect_accepted(
      submit(l, make_event("samr-cc", kSamr, kFirm, v1::CREDIT_COMMITMENT, v1::GENERAL, kT0)));
}

TEST_CASE("a referring kind outside the mandate is rejected as OUT_OF_MANDATE_KIND",
          "[ledger][validation]") {
  v1::ConsortiumConfig config = test_config();
  // A consortium in which the court may not restore.
  for (v1::Agency& a : *config.mutable_agencies()) {
    if (a.id() != kCourt) continue;
    a.clear_mandate();
    v1::MandateGrant* g = a.add_mandate();
    g->add_kinds(v1::BLACKLIST_ENTRY);
    g->add_kinds(v1::BLACKLIST_REMOVAL);
    g->add_sectors(v1::GENERAL);
  }
  TestLedger l(make_consortium(config));
  expect_accepted(submit(l, blacklist_entry("cb", kCourt, kFirm, v1::GENERAL, kT0, 30)));
  expect_rejected(submit(l, referring("cr", kCourt, kFirm, v1::RESTORATION, "cb", kT0 + 1)),
                  v1::OUT_OF_MANDATE_KIND);
  expect_accepted(submit(l, referring("crm", kCourt, kFirm, v1::BLACKLIST_REMOVAL, "cb", kT0 + 1)));
}

TEST_CASE("a sector outside the agency's mandate is rejected as OUT_OF_MANDATE_SECTOR",
          "[ledger][validation]") {
  TestLedger l;
  expect_rejected(submit(l, penalty("s1", kSamr, kFirm, v1::TAXATION, v1::MINOR, kT0, 30)),
                  v1::OUT_OF_MANDATE_SECTOR);
  expect_rejected(submit(l, blacklist_entry("s2", kSta, kFirm, v1::REAL_ESTATE, kT0, 30)),
                  v1::OUT_OF_MANDATE_SECTOR);
  // Kind and sector granted separately do not combine: samr rates in GENERAL, not FOOD_AND_DRUG.
  expect_rejected(
      submit(l, make_event("s3", kSamr, kFirm, v1::CREDIT_RATING, v1::FOOD_AND_DRUG, kT0)),
      v1::OUT_OF_MANDATE_SECTOR);
  expect_accepted(submit(l, penalty("s4", kSamr, kFirm, v1::FOOD_AND_DRUG, v1::MINOR, kT0, 30)));
  expect_accepted(submit(l, make_event("s5", kSamr, kFirm, v1::CREDIT_RATING, v1::GENERAL, kT0)));
}

TEST_CASE("a restoration in a sector where the agency may not restore is OUT_OF_MANDATE_SECTOR",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, penalty("fd", kSamr, kFirm, v1::FOOD_AND_DRUG, v1::MINOR, kT0, 30)));
  expect_accepted(submit(l, penalty("gen", kSamr, kFirm, v1::GENERAL, v1::MINOR, kT0, 30)));
  expect_rejected(submit(l, referring("r-fd", kSamr, kFirm, v1::RESTORATION, "fd", kT0 + 1)),
                  v1::OUT_OF_MANDATE_SECTOR);
  expect_accepted(submit(l, referring("r-gen", kSamr, kFirm, v1::RESTORATION, "gen", kT0 + 1)));
}

// ---- legal basis and expiry ----

TEST_CASE("a penalty or blacklist entry without a legal basis is MISSING_LEGAL_BASIS",
          "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent p = a_penalty("lb1");
  p.mutable_legal_basis()->clear_code();
  expect_rejected(submit(l, p), v1::MISSING_LEGAL_BASIS);
  v1::CreditEvent b = blacklist_entry("lb2", kSamr, kFirm, v1::GENERAL, kT0, 30);
  b.clear_legal_basis();
  expect_rejected(submit(l, b), v1::MISSING_LEGAL_BASIS);
  expect_accepted(submit(l, a_penalty("lb3")));
  // Kinds that need no legal basis are fine without one.
  expect_accepted(submit(l, make_event("lb4", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0)));
}

TEST_CASE("a legal-basis code not in the catalog is UNKNOWN_LEGAL_BASIS", "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent p = a_penalty("ub1");
  p.mutable_legal_basis()->set_code("APL-2021-art99");
  expect_rejected(submit(l, p), v1::UNKNOWN_LEGAL_BASIS);
  p.mutable_legal_basis()->set_code(std::string(kBasisFoodSafety));
  expect_accepted(submit(l, p));
}

TEST_CASE("a penalty or blacklist entry without expiry is MISSING_EXPIRY", "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent p = a_penalty("me1");
  p.set_expires_at_ms(0);
  expect_rejected(submit(l, p), v1::MISSING_EXPIRY);
  v1::CreditEvent b = blacklist_entry("me2", kCourt, kFirm, v1::FINANCE, kT0, 30);
  b.clear_expires_at_ms();
  expect_rejected(submit(l, b), v1::MISSING_EXPIRY);
  // A commendation may run forever.
  expect_accepted(submit(l, make_event("me3", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0)));
}

TEST_CASE("an expiry at or before the effective time is EXPIRY_BEFORE_EFFECT",
          "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent p = a_penalty("eb1");
  p.set_expires_at_ms(p.effective_at_ms());
  expect_rejected(submit(l, p), v1::EXPIRY_BEFORE_EFFECT);
  p.set_event_id("eb2");
  p.set_expires_at_ms(p.effective_at_ms() - kDayMs);
  expect_rejected(submit(l, p), v1::EXPIRY_BEFORE_EFFECT);
  v1::CreditEvent c = make_event("eb3", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0);
  c.set_expires_at_ms(kT0 - 1);
  expect_rejected(submit(l, c), v1::EXPIRY_BEFORE_EFFECT);
  p.set_event_id("eb4");
  p.set_expires_at_ms(p.effective_at_ms() + 1);
  expect_accepted(submit(l, p));
  c.set_event_id("eb5");
  c.set_expires_at_ms(kT0 + 1);
  expect_accepted(submit(l, c));
}

TEST_CASE("an expiry beyond the legal basis' maximum publicity is EXPIRY_BEYOND_MAX_PUBLICITY",
          "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent p = a_penalty("mp1");  // kBasisPenaltyLaw: 365 days
  p.set_expires_at_ms(p.effective_at_ms() + kPenaltyLawDays * kDayMs);
  expect_accepted(submit(l, p));
  p.set_event_id("mp2");
  p.set_expires_at_ms(p.effective_at_ms() + kPenaltyLawDays * kDayMs + 1);
  const v1::Receipt r = submit(l, p);
  expect_rejected(r, v1::EXPIRY_BEYOND_MAX_PUBLICITY);
  CHECK_THAT(r.message(), Catch::Contains("365"));
  // The same period is fine under a basis that allows longer publicity.
  p.set_event_id("mp3");
  p.mutable_legal_basis()->set_code(std::string(kBasisFoodSafety));
  expect_accepted(submit(l, p));
  expect_accepted(submit(l, penalty("mp4", kSta, kFirm, v1::TAXATION, v1::MINOR, kT0, 1095)));
  expect_rejected(submit(l, penalty("mp5", kSta, kFirm, v1::TAXATION, v1::MINOR, kT0, 1096)),
                  v1::EXPIRY_BEYOND_MAX_PUBLICITY);
  expect_rejected(submit(l, blacklist_entry("mp6", kCourt, kFirm, v1::FINANCE, kT0, 731)),
                  v1::EXPIRY_BEYOND_MAX_PUBLICITY);
}

// ---- subjects ----

TEST_CASE("an organisation id that is not a valid USCC is INVALID_SUBJECT_ID",
          "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent e = a_penalty("us1");
  std::string id = kFirm.id();
  id[17] = id[17] == '0' ? '1' : '0';
  e.mutable_subject()->set_id(id);
  const v1::Receipt r = submit(l, e);
  expect_rejected(r, v1::INVALID_SUBJECT_ID);
  CHECK_THAT(r.message(), Catch::Contains("position 18"));
  e.set_event_id("us2");
  e.mutable_subject()->set_id("91350100M000100Y4");
  expect_rejected(submit(l, e), v1::INVALID_SUBJECT_ID);
  e.set_event_id("us3");
  e.mutable_subject()->set_kind(v1::SUBJECT_KIND_UNSPECIFIED);
  e.mutable_subject()->set_id(kFirm.id());
  expect_rejected(submit(l, e), v1::INVALID_SUBJECT_ID);
  e.set_event_id("us4");
  e.mutable_subject()->set_kind(v1::GOVERNMENT_AGENCY);
  std::string agency_code = uscc_for(77);  // registration authority 1, category 1: an organ
  agency_code[0] = '1';
  agency_code[1] = '1';
  agency_code[17] = ledger::uscc_check_character(std::string_view(agency_code).substr(0, 17));
  e.mutable_subject()->set_id(agency_code);
  expect_accepted(submit(l, e));
  e.set_event_id("us5");
  e.mutable_subject()->set_kind(v1::ENTERPRISE);
  e.mutable_subject()->set_id("91350100M000100Y43");
  expect_accepted(submit(l, e));
}

TEST_CASE("an individual id that is not a 64-hex pseudonym is INVALID_SUBJECT_ID",
          "[ledger][validation]") {
  TestLedger l;
  auto with_subject = [](std::string id, v1::SubjectKind kind, std::string event_id) {
    v1::CreditEvent e = blacklist_entry(event_id, kCourt, kFirm, v1::FINANCE, kT0, 30);
    e.mutable_subject()->set_kind(kind);
    e.mutable_subject()->set_id(std::move(id));
    return e;
  };
  const std::string good = individual("110101199003074477").id();
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  // A raw national id never reaches the chain.
  expect_rejected(submit(l, with_subject("110101199003074477", v1::INDIVIDUAL, "i1")),
                  v1::INVALID_SUBJECT_ID);
  expect_rejected(submit(l, with_subject(upper, v1::INDIVIDUAL, "i2")), v1::INVALID_SUBJECT_ID);
  expect_rejected(submit(l, with_subject(good.substr(1), v1::INDIVIDUAL, "i3")),
                  v1::INVALID_SUBJECT_ID);
  expect_rejected(submit(l, with_subject(good.substr(0, 63) + "g", v1::PROFESSIONAL, "i4")),
                  v1::INVALID_SUBJECT_ID);
  expect_rejected(submit(l, with_subject(kFirm.id(), v1::INDIVIDUAL, "i5")),
                  v1::INVALID_SUBJECT_ID);
  // And an organisation kind with a pseudonym is no USCC.
  expect_rejected(submit(l, with_subject(good, v1::ENTERPRISE, "i6")), v1::INVALID_SUBJECT_ID);
  expect_accepted(submit(l, with_subject(good, v1::INDIVIDUAL, "i7")));
  expect_accepted(submit(l, with_subject(good, v1::PROFESSIONAL, "i8")));
}

// ---- references ----

TEST_CASE("a referring kind without refers_to is MISSING_REFERENCE", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("t")));
  for (v1::EventKind kind : {v1::RESTORATION, v1::CORRECTION, v1::OBJECTION,
                             v1::OBJECTION_RULING, v1::BLACKLIST_REMOVAL}) {
    v1::CreditEvent e = referring("mr-" + v1::EventKind_Name(kind), kSamr, kFirm, kind, "", kT0);
    INFO(v1::EventKind_Name(kind));
    expect_rejected(submit(l, e), v1::MISSING_REFERENCE);
  }
  expect_accepted(submit(l, referring("mr-ok", kSamr, kFirm, v1::RESTORATION, "t", kT0 + 1)));
}

TEST_CASE("a refers_to that names no accepted event is REFERS_TO_UNKNOWN", "[ledger][validation]") {
  TestLedger l;
  expect_rejected(submit(l, referring("u1", kSamr, kFirm, v1::RESTORATION, "nope", kT0)),
                  v1::REFERS_TO_UNKNOWN);
  // A rejected event is not a target either.
  v1::CreditEvent bad = a_penalty("rejected-target");
  bad.set_expires_at_ms(0);
  expect_rejected(submit(l, bad), v1::MISSING_EXPIRY);
  expect_rejected(
      submit(l, referring("u2", kSamr, kFirm, v1::RESTORATION, "rejected-target", kT0)),
      v1::REFERS_TO_UNKNOWN);
  expect_accepted(submit(l, a_penalty("real-target")));
  expect_accepted(submit(l, referring("u3", kSamr, kFirm, v1::RESTORATION, "real-target", kT0)));
}

TEST_CASE("a reference to the wrong kind of event is REFERS_TO_WRONG_KIND",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_accepted(submit(l, make_event("com", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0)));
  expect_accepted(submit(l, blacklist_entry("bl", kSamr, kFirm, v1::GENERAL, kT0, 30)));
  expect_accepted(submit(l, referring("obj", kSta, kFirm, v1::OBJECTION, "bl", kT0 + 1)));
  expect_accepted(submit(l, referring("res", kSamr, kFirm, v1::RESTORATION, "pen", kT0 + 1)));
  struct Case {
    v1::EventKind kind;
    const char* target;
  };
  const Case cases[] = {
      {v1::BLACKLIST_REMOVAL, "pen"},  // removal needs a blacklist entry
      {v1::RESTORATION, "com"},        // restoration needs a penalty or blacklist entry
      {v1::CORRECTION, "res"},         // corrections act on records, not on acts
      {v1::CORRECTION, "obj"},
      {v1::OBJECTION, "com"},          // objections to penalties, blacklist entries, ratings
      {v1::OBJECTION, "obj"},
      {v1::OBJECTION_RULING, "bl"},    // a ruling needs an objection
  };
  int n = 0;
  for (const Case& c : cases) {
    INFO(v1::EventKind_Name(c.kind) << " -> " << c.target);
    expect_rejected(submit(l, referring("wk" + std::to_string(n++), kSamr, kFirm, c.kind,
                                        c.target, kT0 + 2)),
                    v1::REFERS_TO_WRONG_KIND);
  }
  expect_accepted(submit(l, referring("wk-ok1", kSamr, kFirm, v1::CORRECTION, "com", kT0 + 2)));
  expect_accepted(
      submit(l, referring("wk-ok2", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2)));
  expect_accepted(submit(l, referring("wk-ok3", kSamr, kFirm, v1::BLACKLIST_REMOVAL, "bl", kT0 + 3)));
}

TEST_CASE("a reference to another subject's event is REFERS_TO_OTHER_SUBJECT",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_rejected(submit(l, referring("o1", kSamr, kOtherFirm, v1::RESTORATION, "pen", kT0 + 1)),
                  v1::REFERS_TO_OTHER_SUBJECT);
  // Same code, other subject kind: still another subject.
  v1::Subject org = kFirm;
  org.set_kind(v1::SOCIAL_ORGANIZATION);
  expect_rejected(submit(l, referring("o2", kSamr, org, v1::RESTORATION, "pen", kT0 + 1)),
                  v1::REFERS_TO_OTHER_SUBJECT);
  expect_rejected(submit(l, referring("o3", kCourt, kOtherFirm, v1::OBJECTION, "pen", kT0 + 1)),
                  v1::REFERS_TO_OTHER_SUBJECT);
  expect_accepted(submit(l, referring("o4", kSamr, kFirm, v1::RESTORATION, "pen", kT0 + 1)));
}

TEST_CASE("restoration, removal and correction by a non-issuing agency are "
          "REFERS_TO_NOT_PERMITTED",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("samr-pen")));
  expect_accepted(submit(l, blacklist_entry("court-bl", kCourt, kFirm, v1::GENERAL, kT0, 30)));
  expect_rejected(submit(l, referring("n1", kCourt, kFirm, v1::RESTORATION, "samr-pen", kT0 + 1)),
                  v1::REFERS_TO_NOT_PERMITTED);
  expect_rejected(
      submit(l, referring("n2", kSamr, kFirm, v1::BLACKLIST_REMOVAL, "court-bl", kT0 + 1)),
      v1::REFERS_TO_NOT_PERMITTED);
  expect_rejected(submit(l, referring("n3", kSta, kFirm, v1::CORRECTION, "samr-pen", kT0 + 1)),
                  v1::REFERS_TO_NOT_PERMITTED);
  expect_accepted(submit(l, referring("n4", kCourt, kFirm, v1::BLACKLIST_REMOVAL, "court-bl",
                                      kT0 + 1)));
  expect_accepted(submit(l, referring("n5", kSamr, kFirm, v1::CORRECTION, "samr-pen", kT0 + 1)));
}

TEST_CASE("an objection may come from any agency", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_accepted(submit(l, make_event("rat", kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kT0)));
  // Neither sta nor court holds OBJECTION in its mandate.
  expect_accepted(submit(l, referring("obj1", kCourt, kFirm, v1::OBJECTION, "pen", kT0 + 1)));
  expect_accepted(submit(l, referring("obj2", kSamr, kFirm, v1::OBJECTION, "rat", kT0 + 1)));
}

TEST_CASE("a ruling by an agency other than the entry's issuer is REFERS_TO_NOT_PERMITTED",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  // The objection is filed by sta; the ruling still belongs to samr, which issued the penalty.
  expect_accepted(submit(l, referring("obj", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 1)));
  expect_rejected(submit(l, referring("r1", kSta, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2)),
                  v1::REFERS_TO_NOT_PERMITTED);
  expect_rejected(submit(l, referring("r2", kCourt, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2)),
                  v1::REFERS_TO_NOT_PERMITTED);
  expect_accepted(submit(l, referring("r3", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2)));
}

TEST_CASE("acting on an entry that was already ended is TARGET_ALREADY_ENDED",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_accepted(submit(l, referring("res1", kSamr, kFirm, v1::RESTORATION, "pen", kT0 + 1)));
  const v1::Receipt again = submit(l, referring("res2", kSamr, kFirm, v1::RESTORATION, "pen", kT0 + 2));
  expect_rejected(again, v1::TARGET_ALREADY_ENDED);
  CHECK_THAT(again.message(), Catch::Contains("res1"));
  expect_rejected(submit(l, referring("cor", kSamr, kFirm, v1::CORRECTION, "pen", kT0 + 2)),
                  v1::TARGET_ALREADY_ENDED);
  expect_rejected(submit(l, referring("obj", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 2)),
                  v1::TARGET_ALREADY_ENDED);

  expect_accepted(submit(l, blacklist_entry("bl", kSamr, kFirm, v1::GENERAL, kT0, 30)));
  expect_accepted(submit(l, referring("cor-bl", kSamr, kFirm, v1::CORRECTION, "bl", kT0 + 1)));
  expect_rejected(
      submit(l, referring("rm-bl", kSamr, kFirm, v1::BLACKLIST_REMOVAL, "bl", kT0 + 2)),
      v1::TARGET_ALREADY_ENDED);
}

TEST_CASE("an entry overturned by a ruling cannot be acted on again", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, blacklist_entry("bl", kCourt, kFirm, v1::FINANCE, kT0, 300)));
  expect_accepted(submit(l, referring("obj", kSamr, kFirm, v1::OBJECTION, "bl", kT0 + 1)));
  v1::CreditEvent ruling = referring("rul", kCourt, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2);
  ruling.set_ruling(v1::OVERTURNED);
  expect_accepted(submit(l, ruling));
  expect_rejected(submit(l, referring("rm", kCourt, kFirm, v1::BLACKLIST_REMOVAL, "bl", kT0 + 3)),
                  v1::TARGET_ALREADY_ENDED);
}

TEST_CASE("a second objection while one is open is OBJECTION_ALREADY_OPEN",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_accepted(submit(l, referring("obj1", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 1)));
  expect_rejected(submit(l, referring("obj2", kCourt, kFirm, v1::OBJECTION, "pen", kT0 + 2)),
                  v1::OBJECTION_ALREADY_OPEN);
  expect_accepted(submit(l, referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj1", kT0 + 3)));
  // Upheld: the dispute is closed, and a new objection may be filed.
  expect_accepted(submit(l, referring("obj3", kCourt, kFirm, v1::OBJECTION, "pen", kT0 + 4)));
}

TEST_CASE("a second ruling on an objection is OBJECTION_ALREADY_RULED", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_accepted(submit(l, referring("obj", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 1)));
  expect_accepted(submit(l, referring("rul1", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2)));
  v1::CreditEvent second = referring("rul2", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 3);
  second.set_ruling(v1::OVERTURNED);
  expect_rejected(submit(l, second), v1::OBJECTION_ALREADY_RULED);
}

TEST_CASE("references resolve to earlier events of the same block", "[ledger][validation]") {
  TestLedger l;
  const v1::Block b = l.apply(
      {sign(a_penalty("pen")), sign(referring("obj", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 1)),
       sign(referring("obj2", kCourt, kFirm, v1::OBJECTION, "pen", kT0 + 1)),
       sign(referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2)),
       sign(referring("res", kSamr, kFirm, v1::RESTORATION, "pen", kT0 + 3)),
       sign(referring("res2", kSamr, kFirm, v1::RESTORATION, "pen", kT0 + 4))},
      kBlockTime);
  expect_accepted(b.receipts(0));
  expect_accepted(b.receipts(1));
  expect_rejected(b.receipts(2), v1::OBJECTION_ALREADY_OPEN);
  expect_accepted(b.receipts(3));
  expect_accepted(b.receipts(4));
  expect_rejected(b.receipts(5), v1::TARGET_ALREADY_ENDED);
}

// ---- identity, size, time ----

TEST_CASE("a repeated event_id is DUPLICATE_EVENT_ID", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("dup")));
  v1::CreditEvent other = make_event("dup", kSta, kOtherFirm, v1::COMMENDATION, v1::GENERAL, kT0);
  expect_rejected(submit(l, other), v1::DUPLICATE_EVENT_ID);
  // Re-submitting the identical signed event is also a duplicate.
  expect_rejected(submit(l, a_penalty("dup")), v1::DUPLICATE_EVENT_ID);
}

TEST_CASE("a repeated event_id within one block is DUPLICATE_EVENT_ID", "[ledger][validation]") {
  TestLedger l;
  const v1::Block b = l.apply({sign(a_penalty("same")), sign(a_penalty("other")),
                               sign(make_event("same", kSta, kFirm, v1::COMMENDATION,
                                               v1::TAXATION, kT0))},
                              kBlockTime);
  expect_accepted(b.receipts(0));
  expect_accepted(b.receipts(1));
  expect_rejected(b.receipts(2), v1::DUPLICATE_EVENT_ID);
  CHECK(b.header().accepted_count() == 2);
}

TEST_CASE("the id of a rejected event may be used again", "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent bad = a_penalty("retry");
  bad.clear_expires_at_ms();
  expect_rejected(submit(l, bad), v1::MISSING_EXPIRY);
  expect_accepted(submit(l, a_penalty("retry")));
}

TEST_CASE("an oversize payload is OVERSIZE", "[ledger][validation]") {
  TestLedger l;
  const int64_t max_bytes = test_consortium()->config().limits().max_event_bytes();
  v1::CreditEvent e = a_penalty("big");
  e.mutable_legal_basis()->set_document_ref(std::string(static_cast<size_t>(max_bytes), 'x'));
  const v1::SignedEvent s = sign(e);
  REQUIRE(static_cast<int64_t>(s.payload().size()) > max_bytes);
  expect_rejected(submit(l, s), v1::OVERSIZE);
  CHECK(static_reason(s) == v1::OVERSIZE);
  // Exactly at the limit is fine.
  v1::CreditEvent fit = a_penalty("fit");
  const size_t base = sign(fit).payload().size();
  const std::string ref = fit.legal_basis().document_ref();
  size_t pad = static_cast<size_t>(max_bytes) - base;
  v1::SignedEvent fs;
  for (int attempt = 0; attempt < 4; ++attempt) {  // the length prefix grows with the field
    fit.mutable_legal_basis()->set_document_ref(ref + std::string(pad, 'y'));
    fs = sign(fit);
    const int64_t over = static_cast<int64_t>(fs.payload().size()) - max_bytes;
    if (over <= 0) break;
    pad -= static_cast<size_t>(over);
  }
  REQUIRE(static_cast<int64_t>(fs.payload().size()) == max_bytes);
  expect_accepted(submit(l, fs));
}

TEST_CASE("an oversize summary is OVERSIZE", "[ledger][validation]") {
  TestLedger l;
  const int64_t max_summary = test_consortium()->config().limits().max_summary_bytes();
  v1::CreditEvent e = a_penalty("long");
  e.set_summary(std::string(static_cast<size_t>(max_summary) + 1, 's'));
  const v1::Receipt r = submit(l, e);
  expect_rejected(r, v1::OVERSIZE);
  CHECK_THAT(r.message(), Catch::Contains("summary"));
  e.set_event_id("fits");
  e.set_summary(std::string(static_cast<size_t>(max_summary), 's'));
  expect_accepted(submit(l, e));
}

TEST_CASE("issued_at beyond block time plus skew is ISSUED_IN_FUTURE", "[ledger][validation]") {
  TestLedger l;
  const int64_t skew = test_consortium()->config().limits().max_clock_skew_ms();
  v1::CreditEvent e = a_penalty("f1");
  e.set_issued_at_ms(kBlockTime + skew + 1);
  expect_rejected(submit(l, e, kBlockTime), v1::ISSUED_IN_FUTURE);
  e.set_event_id("f2");
  e.set_issued_at_ms(kBlockTime + skew);
  expect_accepted(submit(l, e, kBlockTime));
  // The block timestamp never goes back, so a later body with an older timestamp is judged at
  // the head time.
  e.set_event_id("f3");
  e.set_issued_at_ms(kBlockTime + skew);
  expect_accepted(submit(l, e, kT0));
}

// ---- malformed events and missing fields ----

TEST_CASE("random payload bytes are MALFORMED_EVENT", "[ledger][validation]") {
  TestLedger l;
  std::mt19937 rng(20260101);
  int malformed = 0;
  for (int i = 0; i < 40; ++i) {
    std::string payload(static_cast<size_t>(rng() % 200 + 1), '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    const v1::Receipt r = submit(l, sign_payload(payload, kSamr));
    CHECK_FALSE(r.accepted());
    if (r.reason() == v1::MALFORMED_EVENT) ++malformed;
  }
  CHECK(malformed >= 35);
  expect_rejected(submit(l, sign_payload("\xff\xff\xff", kSamr)), v1::MALFORMED_EVENT);
  expect_rejected(submit(l, sign_payload("", kSamr)), v1::MALFORMED_EVENT);
  expect_accepted(submit(l, a_penalty("valid")));
  CHECK(l->head().tree_size() == 1);
}

TEST_CASE("a payload with unknown fields is MALFORMED_EVENT", "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent e = a_penalty("unk1");
  std::string payload = sign(e).payload();
  payload += std::string("\xa0\x06\x01", 3);  // field 100, varint 1
  expect_rejected(submit(l, sign_payload(payload, kSamr)), v1::MALFORMED_EVENT);

  v1::CreditEvent nested = a_penalty("unk2");
  nested.mutable_subject()->GetReflection()->MutableUnknownFields(nested.mutable_subject())
      ->AddVarint(50, 1);
  expect_rejected(submit(l, nested), v1::MALFORMED_EVENT);
  v1::CreditEvent basis = a_penalty("unk3");
  basis.mutable_legal_basis()->GetReflection()->MutableUnknownFields(basis.mutable_legal_basis())
      ->AddLengthDelimited(9, "x");
  expect_rejected(submit(l, basis), v1::MALFORMED_EVENT);
  expect_accepted(submit(l, a_penalty("unk4")));
}

TEST_CASE("malformed ids, kinds, enums and times are MALFORMED_EVENT", "[ledger][validation]") {
  TestLedger l;
  int n = 0;
  auto variant = [&](auto change) {
    v1::CreditEvent e = a_penalty("mal-" + std::to_string(n++));
    change(e);
    return e;
  };
  const v1::CreditEvent cases[] = {
      variant([](v1::CreditEvent& e) { e.set_event_id(""); }),
      variant([](v1::CreditEvent& e) { e.set_event_id("has space"); }),
      variant([](v1::CreditEvent& e) { e.set_event_id("slash/id"); }),
      variant([](v1::CreditEvent& e) { e.set_event_id(std::string(129, 'a')); }),
      variant([](v1::CreditEvent& e) { e.set_kind(v1::EVENT_KIND_UNSPECIFIED); }),
      variant([](v1::CreditEvent& e) { e.set_kind(static_cast<v1::EventKind>(77)); }),
      variant([](v1::CreditEvent& e) { e.set_sector(static_cast<v1::Sector>(99)); }),
      variant([](v1::CreditEvent& e) { e.set_severity(static_cast<v1::Severity>(9)); }),
      variant([](v1::CreditEvent& e) { e.set_ruling(static_cast<v1::Ruling>(5)); }),
      variant([](v1::CreditEvent& e) {
        e.mutable_subject()->set_kind(static_cast<v1::SubjectKind>(42));
      }),
      variant([](v1::CreditEvent& e) { e.set_issued_at_ms(0); }),
      variant([](v1::CreditEvent& e) { e.set_issued_at_ms(-5); }),
      variant([](v1::CreditEvent& e) { e.set_effective_at_ms(0); }),
  };
  for (const v1::CreditEvent& e : cases) {
    INFO(e.ShortDebugString().substr(0, 200));
    expect_rejected(submit(l, e), v1::MALFORMED_EVENT);
  }
  expect_accepted(submit(l, a_penalty(std::string(128, 'a'))));
  expect_accepted(submit(l, a_penalty("Az09._:-")));
}

TEST_CASE("a penalty without severity is MISSING_SEVERITY", "[ledger][validation]") {
  TestLedger l;
  v1::CreditEvent e = a_penalty("sev");
  e.clear_severity();
  expect_rejected(submit(l, e), v1::MISSING_SEVERITY);
  CHECK(static_reason(sign(e)) == v1::MISSING_SEVERITY);
  e.set_severity(v1::VERY_SERIOUS);
  expect_accepted(submit(l, e));
  // A blacklist entry needs none.
  expect_accepted(submit(l, blacklist_entry("bl", kSamr, kFirm, v1::GENERAL, kT0, 30)));
}

TEST_CASE("a rating outside A B C D is INVALID_RATING", "[ledger][validation]") {
  TestLedger l;
  int n = 0;
  for (const char* rating : {"", "E", "a", "AA", "A+"}) {
    v1::CreditEvent e =
        make_event("rat" + std::to_string(n++), kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kT0);
    e.set_rating(rating);
    INFO("rating '" << rating << "'");
    expect_rejected(submit(l, e), v1::INVALID_RATING);
  }
  for (const char* rating : {"A", "B", "C", "D"}) {
    v1::CreditEvent e =
        make_event("rat" + std::to_string(n++), kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kT0);
    e.set_rating(rating);
    expect_accepted(submit(l, e));
  }
}

TEST_CASE("a ruling without UPHELD or OVERTURNED is MISSING_RULING", "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  expect_accepted(submit(l, referring("obj", kSta, kFirm, v1::OBJECTION, "pen", kT0 + 1)));
  v1::CreditEvent r = referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kT0 + 2);
  r.set_ruling(v1::RULING_UNSPECIFIED);
  expect_rejected(submit(l, r), v1::MISSING_RULING);
  CHECK(static_reason(sign(r)) == v1::MISSING_RULING);
  r.set_event_id("rul2");
  r.set_ruling(v1::OVERTURNED);
  expect_accepted(submit(l, r));
}

TEST_CASE("a record without a sector is MISSING_SECTOR", "[ledger][validation]") {
  TestLedger l;
  int n = 0;
  for (v1::EventKind kind : {v1::ADMINISTRATIVE_PENALTY, v1::BLACKLIST_ENTRY, v1::COMMENDATION,
                             v1::VOLUNTARY_DISCLOSURE, v1::CREDIT_COMMITMENT,
                             v1::CREDIT_RATING}) {
    v1::CreditEvent e = make_event("ns" + std::to_string(n++), kSamr, kFirm, kind, v1::GENERAL, kT0);
    e.clear_sector();
    INFO(v1::EventKind_Name(kind));
    expect_rejected(submit(l, e), v1::MISSING_SECTOR);
  }
  expect_accepted(submit(l, make_event("ns-ok", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0)));
}

TEST_CASE("refers_to on a kind that acts on nothing is UNEXPECTED_REFERENCE",
          "[ledger][validation]") {
  TestLedger l;
  expect_accepted(submit(l, a_penalty("pen")));
  v1::CreditEvent e = a_penalty("pen2");
  e.set_refers_to("pen");
  expect_rejected(submit(l, e), v1::UNEXPECTED_REFERENCE);
  v1::CreditEvent c = make_event("com", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kT0);
  c.set_refers_to("anything");
  expect_rejected(submit(l, c), v1::UNEXPECTED_REFERENCE);
  CHECK(static_reason(sign(c)) == v1::UNEXPECTED_REFERENCE);
  c.clear_refers_to();
  expect_accepted(submit(l, c));
}

TEST_CASE("check_event_static accepts what apply accepts and needs no ledger",
          "[ledger][validation]") {
  CHECK_FALSE(static_reason(sign(a_penalty("x"))).has_value());
  CHECK(static_reason(sign_with(a_penalty("x"), "rogue-k1", rogue_keys())) == v1::UNKNOWN_KEY);
  CHECK(static_reason(sign_payload("garbage\xff", kSamr)) == v1::MALFORMED_EVENT);
  // Stateful rules are not static: an unknown reference passes the static check.
  CHECK_FALSE(static_reason(sign(referring("r", kSamr, kFirm, v1::RESTORATION, "nope", kT0)))
                  .has_value());
  ledger::StaticCheck c = ledger::check_event_static(*test_consortium(), sign(a_penalty("x")),
                                                     ledger::SignatureState::kUnchecked);
  CHECK(c.parsed);
  CHECK(c.event.event_id() == "x");
}

// ---- what a rejection leaves behind ----

TEST_CASE("a rejected event changes neither the view nor the Merkle log", "[ledger][validation]") {
  TestLedger l;
  const v1::Block first = l.apply({sign(a_penalty("pen")),
                                   sign(blacklist_entry("bl", kSamr, kFirm, v1::GENERAL, kT0, 30))},
                                  kBlockTime);
  REQUIRE(first.header().tree_size() == 2);
  const v1::SubjectStatus before = l.status(kFirm, kBlockTime);
  const auto history_before = l->history(kFirm, "", 100);
  REQUIRE(history_before.is_ok());

  // One block full of rejected events, some acting on the accepted ones.
  v1::CreditEvent no_expiry = a_penalty("bad1");
  no_expiry.clear_expires_at_ms();
  const v1::Block rejected = l.apply(
      {sign(no_expiry), sign(referring("bad2", kCourt, kFirm, v1::RESTORATION, "pen", kT0 + 1)),
       sign(referring("bad3", kSamr, kOtherFirm, v1::BLACKLIST_REMOVAL, "bl", kT0 + 1)),
       sign(a_penalty("pen")),
       sign_with(referring("bad4", kSamr, kFirm, v1::RESTORATION, "pen", kT0), "rogue-k1",
                 rogue_keys())},
      kBlockTime + 1);
  for (const v1::Receipt& r : rejected.receipts()) CHECK_FALSE(r.accepted());
  CHECK(rejected.header().tree_size() == 2);
  CHECK(rejected.header().accepted_count() == 0);
  CHECK(rejected.header().event_count() == 5);
  CHECK(rejected.header().merkle_root() == first.header().merkle_root());
  CHECK(rejected.header().state_root() != first.header().state_root());

  const v1::SubjectStatus after = l.status(kFirm, kBlockTime);
  CHECK(after.score() == before.score());
  CHECK(after.active_penalties_size() == 1);
  CHECK(after.blacklist_entries_size() == 1);
  CHECK(after.event_count() == 2);
  const auto history_after = l->history(kFirm, "", 100);
  REQUIRE(history_after.is_ok());
  REQUIRE(history_after->entries.size() == history_before->entries.size());
  for (size_t i = 0; i < history_after->entries.size(); ++i) {
    CHECK(history_after->entries[i].SerializeAsString() ==
          history_before->entries[i].SerializeAsString());
  }
  CHECK(l.status(kOtherFirm, kBlockTime).event_count() == 0);
  // The accepted event under the reused id is still the original.
  auto rec = l->event("pen");
  REQUIRE(rec.is_ok());
  CHECK(rec->location.receipt().accepted());
  CHECK(rec->location.height() == first.header().height());
}
