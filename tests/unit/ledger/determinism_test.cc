// Determinism of the state machine (DESIGN.md decision 4): the same block bodies applied to two
// fresh databases give identical blocks, roots and view answers, and a long randomized stream
// (fixed seeds; valid and invalid events of every kind, references to earlier events) applied
// incrementally equals a rebuild of the view from the chain alone with apply_block.
#include <catch2/catch.hpp>
#include <random>

#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;

// Makes a stream of blocks from a seed: mostly plausible events, some broken on purpose.
class StreamGenerator {
 public:
  explicit StreamGenerator(uint64_t seed) : rng_(seed) {
    for (uint64_t i = 0; i < 40; ++i) subjects_.push_back(enterprise(7000 + i * 13));
    for (int i = 0; i < 8; ++i) subjects_.push_back(individual("1101011990030" + std::to_string(1000 + i)));
    subjects_.push_back(social_organization(3));
  }

  const std::vector<v1::Subject>& subjects() const { return subjects_; }

  v1::BlockBody next_block(int events, int64_t timestamp_ms) {
    std::vector<v1::SignedEvent> out;
    for (int i = 0; i < events; ++i) out.push_back(next_event());
    return body(std::move(out), timestamp_ms);
  }

 private:
  uint64_t pick(uint64_t n) { return rng_() % n; }
  bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }

  v1::SignedEvent next_event() {
    static const v1::EventKind kKinds[] = {
        v1::ADMINISTRATIVE_PENALTY, v1::ADMINISTRATIVE_PENALTY, v1::BLACKLIST_ENTRY,
        v1::BLACKLIST_ENTRY,        v1::BLACKLIST_REMOVAL,      v1::COMMENDATION,
        v1::VOLUNTARY_DISCLOSURE,   v1::CREDIT_COMMITMENT,      v1::CREDIT_RATING,
        v1::RESTORATION,            v1::CORRECTION,             v1::OBJECTION,
        v1::OBJECTION,              v1::OBJECTION_RULING,       v1::OBJECTION_RULING};
    static const v1::Sector kSectors[] = {v1::GENERAL,   v1::TAXATION,      v1::FOOD_AND_DRUG,
                                          v1::FINANCE,   v1::REAL_ESTATE,   v1::LEGAL_SERVICES,
                                          v1::ENERGY};
    static const std::string_view kAgencies[] = {kSamr, kSta, kCourt};
    static const char* kRatings[] = {"A", "B", "C", "D", "E"};

    const v1::EventKind kind = kKinds[pick(std::size(kKinds))];
    const std::string_view issuer = kAgencies[pick(3)];
    std::string id = "ev-" + std::to_string(next_id_++);
    if (!ids_.empty() && chance(2)) id = ids_[pick(ids_.size())];  // duplicate
    v1::Subject subject = subjects_[pick(subjects_.size())];
    const int64_t effective = kT0 + static_cast<int64_t>(pick(400)) * kDayMs +
                              static_cast<int64_t>(pick(kDayMs));
    v1::CreditEvent e =
        make_event(id, issuer, subject, kind, kSectors[pick(std::size(kSectors))], effective);
    if (issuer == kSta && !ledger::is_referring_kind(kind) && chance(70)) e.set_sector(v1::TAXATION);
    if (issuer == kCourt && !ledger::is_referring_kind(kind) && chance(50)) e.set_sector(v1::FINANCE);
    if (e.kind() == v1::ADMINISTRATIVE_PENALTY) {
      e.set_severity(static_cast<v1::Severity>(1 + pick(4)));
    }
    if (e.has_legal_basis()) e.set_expires_at_ms(effective + static_cast<int64_t>(1 + pick(400)) * kDayMs);
    if (kind == v1::CREDIT_RATING) e.set_rating(kRatings[pick(5)]);
    if (kind == v1::OBJECTION_RULING && chance(50)) e.set_ruling(v1::OVERTURNED);
    if (ledger::is_referring_kind(kind)) {
      if (!refs_.empty() && chance(90)) {
        const auto& [target, target_subject] = refs_[pick(refs_.size())];
        e.set_refers_to(target);
        if (chance(90)) *e.mutable_subject() = target_subject;
      } else {
        e.set_refers_to("nowhere-" + std::to_string(pick(5)));
      }
    }
    // Deliberate faults.
    bool bad_signature = false;
    switch (pick(40)) {
      case 0: e.mutable_subject()->set_id("91350100M000100Y44"); break;
      case 1: e.set_issued_at_ms(kT0 + 1000 * kDayMs); break;
      case 2: e.clear_legal_basis(); break;
      case 3: e.set_summary(std::string(1100, 's')); break;
      case 4: bad_signature = true; break;
      case 5: e.set_issuer("nobody"); break;
      default: break;
    }
    v1::SignedEvent s = sign(e);
    if (bad_signature) (*s.mutable_signature())[0] ^= 1;
    if (chance(1)) s = sign_payload("\x0a\x03" "abc\x99", issuer);
    ids_.push_back(id);
    refs_.emplace_back(id, e.subject());
    return s;
  }

  std::mt19937_64 rng_;
  std::vector<v1::Subject> subjects_;
  std::vector<std::string> ids_;
  std::vector<std::pair<std::string, v1::Subject>> refs_;
  uint64_t next_id_ = 0;
};

void require_same_status(TestLedger& a, TestLedger& b, const std::vector<v1::Subject>& subjects,
                         std::initializer_list<int64_t> times) {
  for (const v1::Subject& s : subjects) {
    for (int64_t t : times) {
      const v1::SubjectStatus x = a.status(s, t);
      const v1::SubjectStatus y = b.status(s, t);
      INFO(s.id() << " at " << t);
      REQUIRE(x.SerializeAsString() == y.SerializeAsString());
    }
  }
}

}  // namespace

TEST_CASE("the same bodies on two fresh databases give identical blocks and views",
          "[ledger][determinism]") {
  TestLedger a;
  TestLedger b;
  StreamGenerator gen(1);
  for (int h = 0; h < 20; ++h) {
    const v1::BlockBody next = gen.next_block(25, kT0 + h * 3600 * 1000);
    auto x = a->apply(next);
    auto y = b->apply(next);
    REQUIRE(x.is_ok());
    REQUIRE(y.is_ok());
    REQUIRE(x->SerializeAsString() == y->SerializeAsString());
  }
  CHECK(a->head().state_root() == b->head().state_root());
  CHECK(a->head_hash() == b->head_hash());
  require_same_status(a, b, gen.subjects(), {kT0, kT0 + 100 * kDayMs, kT0 + 500 * kDayMs});
}

TEST_CASE("pre-verified signatures give the same blocks as verifying in apply",
          "[ledger][determinism]") {
  TestLedger a;
  TestLedger b;
  StreamGenerator gen(2);
  for (int h = 0; h < 5; ++h) {
    const v1::BlockBody next = gen.next_block(40, kT0 + h * 1000);
    std::vector<ledger::SignatureState> verdicts;
    for (const auto& e : next.events()) {
      verdicts.push_back(ledger::verify_event_signature(*test_consortium(), e)
                             ? ledger::SignatureState::kValid
                             : ledger::SignatureState::kInvalid);
    }
    auto x = a->apply(next);
    auto y = b->apply(next, &verdicts);
    REQUIRE(x.is_ok());
    REQUIRE(y.is_ok());
    REQUIRE(x->SerializeAsString() == y->SerializeAsString());
  }
}

TEST_CASE("a randomized stream applied incrementally equals a rebuild from the chain",
          "[ledger][determinism]") {
  for (uint64_t seed : {11u, 12u}) {
    INFO("seed " << seed);
    TestLedger live;
    StreamGenerator gen(seed);
    std::map<int, int> reasons;
    int accepted = 0;
    int total = 0;
    int64_t ts = kT0;
    for (int h = 0; h < 60; ++h) {
      ts += static_cast<int64_t>(h % 7) * 3600 * 1000;  // sometimes the same timestamp
      const int count = h % 10 == 9 ? 0 : 20 + h % 50;
      auto block = live->apply(gen.next_block(count, ts));
      REQUIRE(block.is_ok());
      for (const auto& r : block->receipts()) {
        ++total;
        if (r.accepted()) {
          ++accepted;
        } else {
          reasons[r.reason()]++;
        }
      }
    }
    REQUIRE(total >= 2000);
    // The stream exercises both outcomes and many rules.
    CHECK(accepted > total / 8);
    CHECK(accepted < total);
    CHECK(reasons.size() >= 15);

    TestLedger rebuilt;
    const uint64_t height = live->head().height();
    for (uint64_t h = 1; h <= height; ++h) {
      auto block = live->block(h);
      REQUIRE(block.is_ok());
      base::Status s = rebuilt->apply_block(*block);
      INFO("height " << h << ": " << s.to_string());
      REQUIRE(s.is_ok());
      auto header = rebuilt->header(h);
      REQUIRE(header.is_ok());
      REQUIRE(header->SerializeAsString() == block->header().SerializeAsString());
    }
    CHECK(rebuilt->head_hash() == live->head_hash());
    require_same_status(live, rebuilt, gen.subjects(),
                        {kT0 - 1, kT0 + 30 * kDayMs, kT0 + 200 * kDayMs, kT0 + 399 * kDayMs,
                         kT0 + 900 * kDayMs});
    for (const v1::Subject& s : gen.subjects()) {
      auto x = live->history(s, "", 1000);
      auto y = rebuilt->history(s, "", 1000);
      REQUIRE(x.is_ok());
      REQUIRE(y.is_ok());
      REQUIRE(x->entries.size() == y->entries.size());
      for (size_t i = 0; i < x->entries.size(); ++i) {
        REQUIRE(x->entries[i].SerializeAsString() == y->entries[i].SerializeAsString());
      }
    }
    for (v1::Sector sector : {v1::FINANCE, v1::TAXATION, v1::GENERAL, v1::FOOD_AND_DRUG}) {
      auto x = live->blacklist(sector, kT0 + 200 * kDayMs, "", 10000);
      auto y = rebuilt->blacklist(sector, kT0 + 200 * kDayMs, "", 10000);
      REQUIRE(x.is_ok());
      REQUIRE(y.is_ok());
      REQUIRE(x->entries.size() == y->entries.size());
    }
  }
}
