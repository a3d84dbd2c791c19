// The materialized view and the chain store of Ledger: status as of any time (penalties,
// per-sector blacklists ended by removal, restoration, correction or an overturning ruling,
// disputes, capped bonuses, grades and the score explanation), paginated history and blacklists,
// event lookup, block round trips, block sync with apply_block, and refusal of tampered blocks.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "ledger/block.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;

const v1::Subject kFirm = enterprise(2001);
constexpr int64_t kEffect = kT0 + 10 * kDayMs;
constexpr int64_t kBlockTime = kT0 + 11 * kDayMs;

void require_accepted(const v1::Block& block) {
  for (const v1::Receipt& r : block.receipts()) {
    INFO(r.event_id() << ": " << v1::RejectReason_Name(r.reason()) << " " << r.message());
    REQUIRE(r.accepted());
  }
}

v1::Block apply_ok(TestLedger& l, std::vector<v1::CreditEvent> events, int64_t ts = kBlockTime) {
  std::vector<v1::SignedEvent> signed_events;
  for (const auto& e : events) signed_events.push_back(sign(e));
  v1::Block b = l.apply(signed_events, ts);
  require_accepted(b);
  return b;
}

int64_t explanation_sum(const v1::SubjectStatus& s) {
  int64_t sum = 0;
  for (const v1::ScoreItem& item : s.explanation()) sum += item.delta();
  return sum;
}

std::vector<std::string> ids(const std::vector<v1::ViewEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.event_id());
  return out;
}

}  // namespace

TEST_CASE("a new ledger is at block 0, which commits to the genesis", "[ledger][view]") {
  TestLedger l;
  const v1::BlockHeader head = l->head();
  CHECK(head.height() == 0);
  CHECK(head.tree_size() == 0);
  CHECK(head.state_root() == ledger::to_string(test_consortium()->genesis_state_root()));
  CHECK(head.prev_hash() == std::string(32, '\0'));
  auto b0 = l->block(0);
  REQUIRE(b0.is_ok());
  CHECK(b0->events_size() == 0);
  CHECK(l->block(1).status().code() == base::Code::kNotFound);
  const v1::SubjectStatus s = l.status(kFirm, kT0);
  CHECK(s.score() == 1000);
  CHECK(s.grade() == "A");
  CHECK_FALSE(s.blacklisted());
  CHECK(s.explanation_size() == 0);
}

TEST_CASE("a penalty counts from its effective time until its expiry", "[ledger][view]") {
  TestLedger l;
  apply_ok(l, {penalty("pen", kSamr, kFirm, v1::GENERAL, v1::SERIOUS, kEffect, 100)});
  const int64_t expiry = kEffect + 100 * kDayMs;
  const v1::SubjectStatus before = l.status(kFirm, kEffect - 1);
  CHECK(before.active_penalties_size() == 0);
  CHECK(before.score() == 1000);
  CHECK(before.event_count() == 1);
  for (int64_t t : {kEffect, kEffect + 50 * kDayMs, expiry - 1}) {
    const v1::SubjectStatus during = l.status(kFirm, t);
    REQUIRE(during.active_penalties_size() == 1);
    CHECK(during.active_penalties(0).event_id() == "pen");
    CHECK(during.score() == 850);
    CHECK(during.grade() == "B");
    REQUIRE(during.explanation_size() == 1);
    CHECK(during.explanation(0).event_id() == "pen");
    CHECK(during.explanation(0).delta() == -150);
  }
  const v1::SubjectStatus after = l.status(kFirm, expiry);
  CHECK(after.active_penalties_size() == 0);
  CHECK(after.score() == 1000);
  CHECK(after.as_of_ms() == expiry);
  CHECK(after.height() == 1);
}

TEST_CASE("penalty deductions follow the severity table", "[ledger][view]") {
  TestLedger l;
  const std::pair<v1::Severity, int64_t> table[] = {
      {v1::MINOR, 20}, {v1::MODERATE, 60}, {v1::SERIOUS, 150}, {v1::VERY_SERIOUS, 300}};
  int n = 0;
  for (const auto& [severity, points] : table) {
    const v1::Subject s = enterprise(3000 + static_cast<uint64_t>(n));
    apply_ok(l, {penalty("sev" + std::to_string(n++), kSamr, s, v1::GENERAL, severity, kEffect,
                         30)});
    CHECK(l.status(s, kEffect).score() == 1000 - points);
  }
}

TEST_CASE("blacklists are per sector and force grade D", "[ledger][view]") {
  TestLedger l;
  apply_ok(l, {blacklist_entry("food", kSamr, kFirm, v1::FOOD_AND_DRUG, kEffect, 100),
               blacklist_entry("fin", kCourt, kFirm, v1::FINANCE, kEffect + kDayMs, 100)});
  const v1::SubjectStatus one = l.status(kFirm, kEffect);
  CHECK(one.blacklisted());
  REQUIRE(one.blacklisted_sectors_size() == 1);
  CHECK(one.blacklisted_sectors(0) == v1::FOOD_AND_DRUG);
  CHECK(one.score() == 700);  // grade B by score
  CHECK(one.grade() == "D");
  const v1::SubjectStatus two = l.status(kFirm, kEffect + kDayMs);
  REQUIRE(two.blacklisted_sectors_size() == 2);
  CHECK(two.blacklisted_sectors(0) == v1::FINANCE);  // sorted by sector number
  CHECK(two.blacklisted_sectors(1) == v1::FOOD_AND_DRUG);
  CHECK(two.blacklist_entries_size() == 2);
  CHECK(two.score() == 400);
  CHECK(two.grade() == "D");
  const v1::SubjectStatus none = l.status(kFirm, kEffect - 1);
  CHECK_FALSE(none.blacklisted());
  CHECK(none.grade() == "A");
}

// A correction is not among them: it says the entry never should have counted (#12,
// time_axes_test.cc).
TEST_CASE("a blacklist entry ends at the effective time of its removal, restoration or "
          "overturning ruling",
          "[ledger][view]") {
  struct Case {
    const char* name;
    std::vector<v1::CreditEvent> enders;
  };
  const int64_t end = kEffect + 20 * kDayMs;
  v1::CreditEvent overturn = referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", end);
  overturn.set_ruling(v1::OVERTURNED);
  const Case cases[] = {
      {"removal", {referring("end", kSamr, kFirm, v1::BLACKLIST_REMOVAL, "bl", end)}},
      {"restoration", {referring("end", kSamr, kFirm, v1::RESTORATION, "bl", end)}},
      {"overturned", {referring("obj", kCourt, kFirm, v1::OBJECTION, "bl", kEffect + kDayMs),
                      overturn}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    TestLedger l;
    apply_ok(l, {blacklist_entry("bl", kSamr, kFirm, v1::REAL_ESTATE, kEffect, 100)});
    apply_ok(l, c.enders, kBlockTime + kDayMs);
    const v1::SubjectStatus before = l.status(kFirm, end - 1);
    CHECK(before.blacklisted());
    CHECK(before.grade() == "D");
    const v1::SubjectStatus after = l.status(kFirm, end);
    CHECK_FALSE(after.blacklisted());
    CHECK(after.blacklist_entries_size() == 0);
    CHECK(after.score() == 1000);
    CHECK(after.grade() == "A");
    auto bl = l->blacklist(v1::REAL_ESTATE, end - 1, "", 10);
    REQUIRE(bl.is_ok());
    CHECK(ids(bl->entries) == std::vector<std::string>{"bl"});
    bl = l->blacklist(v1::REAL_ESTATE, end, "", 10);
    REQUIRE(bl.is_ok());
    CHECK(bl->entries.empty());
    auto rec = l->event("bl");
    REQUIRE(rec.is_ok());
    REQUIRE(rec->entry.has_value());
    CHECK(rec->entry->ended_at_ms() == end);
    CHECK(rec->entry->ended_by_event_id() == (std::string(c.name) == "overturned" ? "rul" : "end"));
  }
}

TEST_CASE("an upheld ruling leaves the entry in force", "[ledger][view]") {
  TestLedger l;
  apply_ok(l, {blacklist_entry("bl", kSamr, kFirm, v1::REAL_ESTATE, kEffect, 100),
               referring("obj", kSta, kFirm, v1::OBJECTION, "bl", kEffect + kDayMs),
               referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", kEffect + 2 * kDayMs)});
  CHECK(l.status(kFirm, kEffect + 50 * kDayMs).blacklisted());
}

TEST_CASE("an entry under an open objection is flagged disputed until the ruling",
          "[ledger][view]") {
  TestLedger l;
  const int64_t objected = kEffect + 5 * kDayMs;
  const int64_t ruled = kEffect + 9 * kDayMs;
  apply_ok(l, {penalty("pen", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect, 100),
               referring("obj", kCourt, kFirm, v1::OBJECTION, "pen", objected)});
  CHECK(l.status(kFirm, objected - 1).disputed_event_ids_size() == 0);
  const v1::SubjectStatus open = l.status(kFirm, objected);
  REQUIRE(open.disputed_event_ids_size() == 1);
  CHECK(open.disputed_event_ids(0) == "pen");
  CHECK_THAT(open.explanation(0).reason(), Catch::Contains("under objection"));
  CHECK(open.active_penalties_size() == 1);  // disputed, still in force
  apply_ok(l, {referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", ruled)},
           kBlockTime + kDayMs);
  CHECK(l.status(kFirm, ruled - 1).disputed_event_ids_size() == 1);
  const v1::SubjectStatus closed = l.status(kFirm, ruled);
  CHECK(closed.disputed_event_ids_size() == 0);
  CHECK(closed.active_penalties_size() == 1);
  auto rec = l->event("pen");
  REQUIRE(rec.is_ok());
  REQUIRE(rec->entry->disputes_size() == 1);
  CHECK(rec->entry->disputes(0).objection_event_id() == "obj");
  CHECK(rec->entry->disputes(0).from_ms() == objected);
  CHECK(rec->entry->disputes(0).until_ms() == ruled);
  CHECK(rec->entry->disputes(0).ruling() == v1::UPHELD);
}

TEST_CASE("commendation bonuses are capped and end with the bonus window", "[ledger][view]") {
  TestLedger l;
  std::vector<v1::CreditEvent> events;
  for (int i = 0; i < 5; ++i) {
    events.push_back(make_event("com" + std::to_string(i), kSamr, kFirm, v1::COMMENDATION,
                                v1::GENERAL, kEffect + i));
  }
  apply_ok(l, events);
  const v1::SubjectStatus s = l.status(kFirm, kEffect + 10);
  CHECK(s.commendations_size() == 5);
  CHECK(s.score() == 1090);  // 3 x 30, then the cap of 90
  REQUIRE(s.explanation_size() == 3);
  CHECK(s.explanation(0).event_id() == "com0");
  CHECK(s.explanation(2).event_id() == "com2");
  for (const auto& item : s.explanation()) CHECK(item.delta() == 30);
  // After 1095 days the bonus window is over (the commendations themselves do not expire).
  const v1::SubjectStatus late = l.status(kFirm, kEffect + 1096 * kDayMs);
  CHECK(late.commendations_size() == 5);
  CHECK(late.score() == 1000);
}

TEST_CASE("disclosure and commitment bonuses are capped separately", "[ledger][view]") {
  TestLedger l;
  std::vector<v1::CreditEvent> events;
  for (int i = 0; i < 4; ++i) {
    events.push_back(make_event("dis" + std::to_string(i), kSamr, kFirm, v1::VOLUNTARY_DISCLOSURE,
                                v1::GENERAL, kEffect));
    events.push_back(make_event("cc" + std::to_string(i), kSamr, kFirm, v1::CREDIT_COMMITMENT,
                                v1::GENERAL, kEffect));
  }
  apply_ok(l, events);
  const v1::SubjectStatus s = l.status(kFirm, kEffect);
  CHECK(s.score() == 1000 + 30 + 10);
  CHECK(explanation_sum(s) == 40);
}

TEST_CASE("the score ceiling is explained as an item", "[ledger][view]") {
  v1::ConsortiumConfig config = test_config();
  config.mutable_scoring()->set_commendation_bonus_cap(500);
  config.mutable_scoring()->set_commendation_bonus(60);
  TestLedger l(make_consortium(config));
  std::vector<v1::CreditEvent> events;
  for (int i = 0; i < 3; ++i) {
    events.push_back(make_event("c" + std::to_string(i), kSamr, kFirm, v1::COMMENDATION,
                                v1::GENERAL, kEffect));
  }
  apply_ok(l, events);
  const v1::SubjectStatus s = l.status(kFirm, kEffect);
  CHECK(s.score() == 1100);
  REQUIRE(s.explanation_size() == 4);
  CHECK(s.explanation(3).event_id().empty());
  CHECK(s.explanation(3).delta() == -80);
  CHECK(explanation_sum(s) == s.score() - 1000);
}

TEST_CASE("the explanation lists every moving event and sums to score minus base",
          "[ledger][view]") {
  TestLedger l;
  apply_ok(l, {penalty("p1", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect, 100),
               penalty("p2", kSta, kFirm, v1::TAXATION, v1::MODERATE, kEffect, 100),
               blacklist_entry("b1", kCourt, kFirm, v1::FINANCE, kEffect, 100),
               make_event("c1", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect),
               make_event("r1", kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kEffect),
               make_event("d1", kSta, kFirm, v1::VOLUNTARY_DISCLOSURE, v1::TAXATION, kEffect)});
  const v1::SubjectStatus s = l.status(kFirm, kEffect);
  CHECK(s.score() == 1000 - 20 - 60 - 300 + 30 + 10);
  CHECK(explanation_sum(s) == s.score() - 1000);
  std::vector<std::pair<std::string, int64_t>> items;
  for (const auto& item : s.explanation()) items.emplace_back(item.event_id(), item.delta());
  CHECK(items == std::vector<std::pair<std::string, int64_t>>{
                     {"p1", -20}, {"p2", -60}, {"b1", -300}, {"c1", 30}, {"d1", 10}});
  REQUIRE(s.ratings_size() == 1);
  CHECK(s.ratings(0).rating() == "B");
}

TEST_CASE("the score floor is explained as an item", "[ledger][view]") {
  TestLedger l;
  std::vector<v1::CreditEvent> events;
  for (int i = 0; i < 4; ++i) {
    events.push_back(
        penalty("vs" + std::to_string(i), kSamr, kFirm, v1::GENERAL, v1::VERY_SERIOUS, kEffect, 30));
  }
  apply_ok(l, events);
  const v1::SubjectStatus s = l.status(kFirm, kEffect);
  CHECK(s.score() == 0);
  CHECK(s.grade() == "D");
  REQUIRE(s.explanation_size() == 5);
  CHECK(s.explanation(4).event_id().empty());
  CHECK(s.explanation(4).delta() == 200);
  CHECK_THAT(s.explanation(4).reason(), Catch::Contains("floor"));
  CHECK(explanation_sum(s) == s.score() - 1000);
}

TEST_CASE("grades follow the thresholds", "[ledger][view]") {
  TestLedger l;
  // 1000 - x: A >= 900, B >= 700, C >= 500, else D.
  const std::vector<std::pair<std::vector<v1::Severity>, std::string>> cases = {
      {{v1::MODERATE}, "A"},                         // 940
      {{v1::SERIOUS}, "B"},                          // 850
      {{v1::VERY_SERIOUS}, "B"},                     // 700
      {{v1::VERY_SERIOUS, v1::MINOR}, "C"},          // 680
      {{v1::VERY_SERIOUS, v1::SERIOUS, v1::MINOR}, "C"},  // 530
      {{v1::VERY_SERIOUS, v1::VERY_SERIOUS}, "D"},        // 400
  };
  int n = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    const v1::Subject s = enterprise(4000 + c);
    std::vector<v1::CreditEvent> events;
    for (v1::Severity sev : cases[c].first) {
      events.push_back(penalty("g" + std::to_string(n++), kSamr, s, v1::GENERAL, sev, kEffect, 30));
    }
    apply_ok(l, events);
    const v1::SubjectStatus st = l.status(s, kEffect);
    int64_t expected_score = 1000;
    for (v1::Severity sev : cases[c].first) {
      expected_score -= test_consortium()->penalty_deduction(sev);
    }
    CHECK(st.score() == expected_score);
    CHECK(st.grade() == cases[c].second);
  }
}

TEST_CASE("the latest rating per sector is reported", "[ledger][view]") {
  TestLedger l;
  v1::CreditEvent r1 = make_event("r1", kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kEffect);
  r1.set_rating("A");
  v1::CreditEvent r2 = make_event("r2", kSta, kFirm, v1::CREDIT_RATING, v1::TAXATION, kEffect);
  r2.set_rating("C");
  v1::CreditEvent r3 = make_event("r3", kSamr, kFirm, v1::CREDIT_RATING, v1::GENERAL, kEffect);
  r3.set_rating("D");
  apply_ok(l, {r1, r2, r3});
  const v1::SubjectStatus s = l.status(kFirm, kEffect);
  REQUIRE(s.ratings_size() == 2);
  CHECK(s.ratings(0).event_id() == "r3");  // GENERAL before TAXATION
  CHECK(s.ratings(1).event_id() == "r2");
  CHECK(s.score() == 1000);  // ratings do not move the score
}

TEST_CASE("status refuses an invalid subject id", "[ledger][view]") {
  TestLedger l;
  v1::Subject bad = kFirm;
  bad.set_id("91350100M000100Y44");
  CHECK(l->status(bad, kT0).status().code() == base::Code::kInvalidArgument);
  CHECK(l->history(bad, "", 10).status().code() == base::Code::kInvalidArgument);
}

TEST_CASE("history pages through a subject's events in sequence order", "[ledger][view]") {
  TestLedger l;
  const v1::Subject other = enterprise(2002);
  std::vector<std::string> expected;
  for (int b = 0; b < 5; ++b) {
    std::vector<v1::CreditEvent> events;
    for (int i = 0; i < 5; ++i) {
      const std::string id = "h" + std::to_string(b * 5 + i);
      events.push_back(make_event(id, kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect));
      events.push_back(make_event(id + "x", kSamr, other, v1::COMMENDATION, v1::GENERAL, kEffect));
      expected.push_back(id);
    }
    apply_ok(l, events, kBlockTime + b);
  }
  std::vector<std::string> got;
  std::string token;
  int pages = 0;
  do {
    auto page = l->history(kFirm, token, 10);
    REQUIRE(page.is_ok());
    CHECK(page->entries.size() <= 10);
    for (const auto& e : page->entries) got.push_back(e.event_id());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  CHECK(pages == 3);
  CHECK(got == expected);
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i - 1] != got[i]);
  auto exact = l->history(kFirm, "", 25);
  REQUIRE(exact.is_ok());
  CHECK(exact->entries.size() == 25);
  CHECK(l->history(kFirm, "zz", 10).status().code() == base::Code::kInvalidArgument);
  CHECK(l->history(kFirm, "00", 10).status().code() == base::Code::kInvalidArgument);
  auto empty = l->history(enterprise(9999), "", 10);
  REQUIRE(empty.is_ok());
  CHECK(empty->entries.empty());
  CHECK(empty->next_page_token.empty());
}

TEST_CASE("a sector's blacklist pages through entries active at as_of", "[ledger][view]") {
  TestLedger l;
  // 30 subjects: entry i is effective from kEffect + i days for 10 + i days; every third one is
  // in another sector; every fifth one is removed 3 days after it starts.
  std::vector<v1::CreditEvent> events;
  std::vector<v1::CreditEvent> removals;
  for (int i = 0; i < 30; ++i) {
    const v1::Subject s = enterprise(5000 + static_cast<uint64_t>(i));
    const v1::Sector sector = i % 3 == 2 ? v1::CONSTRUCTION : v1::REAL_ESTATE;
    events.push_back(blacklist_entry("bl" + std::to_string(i), kSamr, s, sector,
                                     kEffect + i * kDayMs, 10 + i));
    if (i % 5 == 0) {
      removals.push_back(referring("rm" + std::to_string(i), kSamr, s, v1::BLACKLIST_REMOVAL,
                                   "bl" + std::to_string(i), kEffect + (i + 3) * kDayMs));
    }
  }
  apply_ok(l, events);
  apply_ok(l, removals, kBlockTime + 1);
  for (int64_t day : {0, 5, 12, 20, 35, 60}) {
    const int64_t as_of = kEffect + day * kDayMs;
    std::set<std::string> expected;
    for (int i = 0; i < 30; ++i) {
      if (i % 3 == 2) continue;
      const int64_t from = kEffect + i * kDayMs;
      int64_t until = from + (10 + i) * kDayMs;
      if (i % 5 == 0) until = std::min(until, kEffect + (i + 3) * kDayMs);
      if (from <= as_of && as_of < until) expected.insert("bl" + std::to_string(i));
    }
    for (size_t limit : {1u, 4u, 100u}) {
      std::vector<v1::ViewEntry> all;
      std::string token;
      int pages = 0;
      do {
        auto page = l->blacklist(v1::REAL_ESTATE, as_of, token, limit);
        REQUIRE(page.is_ok());
        REQUIRE(page->entries.size() <= limit);
        all.insert(all.end(), page->entries.begin(), page->entries.end());
        token = page->next_page_token;
        REQUIRE(++pages < 100);
      } while (!token.empty());
      INFO("day " << day << " limit " << limit);
      const std::vector<std::string> got = ids(all);
      CHECK(std::set<std::string>(got.begin(), got.end()) == expected);
      CHECK(got.size() == expected.size());
      // Ordered by subject.
      for (size_t i = 1; i < all.size(); ++i) {
        CHECK(all[i - 1].subject().id() < all[i].subject().id());
      }
      for (const auto& e : all) CHECK(e.sector() == v1::REAL_ESTATE);
    }
  }
}

TEST_CASE("event() finds accepted and rejected events with their receipts", "[ledger][view]") {
  TestLedger l;
  v1::CreditEvent bad = penalty("bad", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect, 30);
  bad.clear_expires_at_ms();
  const v1::Block b = l.apply({sign(penalty("good", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect,
                                            30)),
                               sign(bad)},
                              kBlockTime);
  auto good = l->event("good");
  REQUIRE(good.is_ok());
  CHECK(good->location.height() == 1);
  CHECK(good->location.index() == 0);
  CHECK(good->location.receipt().accepted());
  CHECK(good->location.receipt().sequence() == 0);
  CHECK(good->location.subject().id() == kFirm.id());
  CHECK(good->signed_event.SerializeAsString() == b.events(0).SerializeAsString());
  REQUIRE(good->entry.has_value());
  CHECK(good->entry->recorded_at_ms() == kBlockTime);
  CHECK(good->entry->ended_at_ms() == 0);

  auto rejected = l->event("bad");
  REQUIRE(rejected.is_ok());
  CHECK(rejected->location.index() == 1);
  CHECK_FALSE(rejected->location.receipt().accepted());
  CHECK(rejected->location.receipt().reason() == v1::MISSING_EXPIRY);
  CHECK_FALSE(rejected->entry.has_value());

  CHECK(l->event("never").status().code() == base::Code::kNotFound);
}

TEST_CASE("block(h) returns what apply returned", "[ledger][chain]") {
  TestLedger l;
  std::vector<v1::Block> applied;
  for (int b = 0; b < 5; ++b) {
    std::vector<v1::SignedEvent> events;
    for (int i = 0; i <= b; ++i) {
      events.push_back(sign(make_event("e" + std::to_string(b) + "-" + std::to_string(i), kSamr,
                                       enterprise(static_cast<uint64_t>(i)), v1::COMMENDATION,
                                       v1::GENERAL, kEffect)));
    }
    events.push_back(sign_payload("junk", kSamr));
    applied.push_back(l.apply(events, kBlockTime + b * 1000));
  }
  for (const v1::Block& want : applied) {
    auto got = l->block(want.header().height());
    REQUIRE(got.is_ok());
    CHECK(got->SerializeAsString() == want.SerializeAsString());
    auto header = l->header(want.header().height());
    REQUIRE(header.is_ok());
    CHECK(header->SerializeAsString() == want.header().SerializeAsString());
  }
  CHECK(l->head().SerializeAsString() == applied.back().header().SerializeAsString());
  CHECK(l->head_hash() == *ledger::block_hash(applied.back().header()));
}

TEST_CASE("block timestamps never decrease and blocks link by hash", "[ledger][chain]") {
  TestLedger l;
  const int64_t stamps[] = {kBlockTime, kBlockTime - 5000, kBlockTime + 10, 0, kBlockTime + 20};
  int n = 0;
  int64_t last = 0;
  for (int64_t ts : stamps) {
    const v1::Block b = l.apply(
        {sign(make_event("t" + std::to_string(n++), kSamr, kFirm, v1::COMMENDATION, v1::GENERAL,
                         kEffect))},
        ts);
    CHECK(b.header().timestamp_ms() >= last);
    CHECK(b.header().timestamp_ms() == std::max(ts, last));
    last = b.header().timestamp_ms();
  }
  for (uint64_t h = 1; h <= l->head().height(); ++h) {
    auto parent = l->header(h - 1);
    auto child = l->header(h);
    REQUIRE(parent.is_ok());
    REQUIRE(child.is_ok());
    CHECK(child->prev_hash() == ledger::to_string(*ledger::block_hash(*parent)));
    CHECK(child->timestamp_ms() >= parent->timestamp_ms());
    CHECK(child->first_sequence() == parent->tree_size());
  }
}

TEST_CASE("apply_block of another ledger's blocks reproduces identical headers",
          "[ledger][chain]") {
  TestLedger leader;
  TestLedger follower;
  std::vector<v1::Block> blocks;
  blocks.push_back(apply_ok(leader, {penalty("p", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect, 30),
                                     blacklist_entry("b", kCourt, kFirm, v1::FINANCE, kEffect, 30)}));
  blocks.push_back(leader.apply({sign(referring("o", kSta, kFirm, v1::OBJECTION, "b", kEffect)),
                                 sign(referring("x", kSta, kFirm, v1::RESTORATION, "p", kEffect))},
                                kBlockTime - 100));
  blocks.push_back(leader.apply({}, kBlockTime + 100));
  for (const v1::Block& b : blocks) {
    base::Status s = follower->apply_block(b);
    INFO(s.to_string());
    REQUIRE(s.is_ok());
    CHECK(follower->head().SerializeAsString() == b.header().SerializeAsString());
  }
  CHECK(follower->head_hash() == leader->head_hash());
  CHECK(follower.status(kFirm, kEffect).SerializeAsString() ==
        leader.status(kFirm, kEffect).SerializeAsString());
  // A block body alone (no receipts) also applies: replay computes them.
  TestLedger bare;
  for (v1::Block b : blocks) {
    b.clear_receipts();
    REQUIRE(bare->apply_block(b).is_ok());
  }
  CHECK(bare->head_hash() == leader->head_hash());
}

TEST_CASE("apply_block refuses a block that is not the next height", "[ledger][chain]") {
  TestLedger leader;
  TestLedger follower;
  apply_ok(leader, {make_event("a", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)});
  const v1::Block second =
      apply_ok(leader, {make_event("b", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)});
  CHECK(follower->apply_block(second).code() == base::Code::kInvalidArgument);
  CHECK(follower->head().height() == 0);
}

// Regression (fault soak, seed 738878015): a follower's block sync applied blocks for entries
// 2711..2713 without moving the cursor; its Raft loop then committed those same entries, found
// them above the cursor and applied them again as three new blocks of duplicates: a fork.
TEST_CASE("apply_block records the block's log index in the cursor, atomically, never back",
          "[ledger][chain]") {
  TestLedger leader;
  TestLedger follower;
  std::vector<v1::Block> blocks;
  const uint64_t log_indexes[] = {10, 11, 13};
  int n = 0;
  for (uint64_t log_index : log_indexes) {
    const std::string id = "c" + std::to_string(n++);
    auto block = leader->apply(
        body({sign(make_event(id, kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect))},
             kBlockTime + n),
        nullptr, log_index);
    REQUIRE(block.is_ok());
    REQUIRE(block->log_index() == log_index);
    blocks.push_back(*block);
  }
  REQUIRE(follower->cursor() == 0);
  for (const v1::Block& b : blocks) {
    REQUIRE(follower->apply_block(b, nullptr, b.log_index()).is_ok());
    CHECK(follower->cursor() == b.log_index());
  }
  // The owner skips entries at or below the cursor: entry 12 (no block) and 13 are in already.
  CHECK(follower->cursor() == 13);
  // Written with the block: a restart (or crash after the write) sees the same position.
  follower.reopen();
  CHECK(follower->cursor() == 13);
  CHECK(follower->head().height() == 3);

  // A lower log index (or none) never moves the cursor back.
  auto fourth = leader->apply(
      body({sign(make_event("c3", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect))},
           kBlockTime + 10),
      nullptr, 14);
  REQUIRE(fourth.is_ok());
  REQUIRE(follower->set_cursor(20).is_ok());
  REQUIRE(follower->apply_block(*fourth, nullptr, fourth->log_index()).is_ok());
  CHECK(follower->cursor() == 20);
  follower.reopen();
  CHECK(follower->cursor() == 20);
  CHECK(follower->head_hash() == leader->head_hash());
}

TEST_CASE("apply_block refuses tampered blocks with kCorruption and writes nothing",
          "[ledger][chain]") {
  TestLedger leader;
  const v1::Block first =
      apply_ok(leader, {make_event("a", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)});
  v1::CreditEvent bad = make_event("bad", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect);
  bad.set_refers_to("a");
  const v1::Block good = leader.apply(
      {sign(penalty("p", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect, 30)), sign(bad),
       sign(make_event("c", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect))},
      kBlockTime + 10);
  REQUIRE(good.receipts(0).accepted());
  REQUIRE_FALSE(good.receipts(1).accepted());

  std::vector<std::pair<std::string, v1::Block>> tampered;
  auto add = [&](std::string name, auto change) {
    v1::Block b = good;
    change(b);
    tampered.emplace_back(std::move(name), std::move(b));
  };
  add("receipt accepted flag", [](v1::Block& b) { b.mutable_receipts(1)->set_accepted(true); });
  add("receipt reason", [](v1::Block& b) { b.mutable_receipts(1)->set_reason(v1::OVERSIZE); });
  add("receipt sequence", [](v1::Block& b) { b.mutable_receipts(2)->set_sequence(7); });
  add("receipt count", [](v1::Block& b) { b.mutable_receipts()->RemoveLast(); });
  add("state root", [](v1::Block& b) {
    (*b.mutable_header()->mutable_state_root())[0] ^= 1;
  });
  add("merkle root", [](v1::Block& b) {
    (*b.mutable_header()->mutable_merkle_root())[5] ^= 1;
  });
  add("events root", [](v1::Block& b) {
    (*b.mutable_header()->mutable_events_root())[31] ^= 1;
  });
  add("prev hash", [](v1::Block& b) { (*b.mutable_header()->mutable_prev_hash())[0] ^= 1; });
  add("timestamp before the parent's",
      [](v1::Block& b) { b.mutable_header()->set_timestamp_ms(kBlockTime - 1); });
  add("tree size", [](v1::Block& b) { b.mutable_header()->set_tree_size(9); });
  add("accepted count", [](v1::Block& b) { b.mutable_header()->set_accepted_count(3); });
  add("event dropped", [](v1::Block& b) { b.mutable_events()->RemoveLast(); });
  add("events swapped", [](v1::Block& b) { b.mutable_events()->SwapElements(0, 2); });
  add("event payload", [](v1::Block& b) { b.mutable_events(2)->mutable_payload()->back() ^= 1; });
  add("event signature", [](v1::Block& b) { (*b.mutable_events(0)->mutable_signature())[3] ^= 1; });

  for (const auto& [name, block] : tampered) {
    INFO(name);
    TestLedger follower;
    REQUIRE(follower->apply_block(first).is_ok());
    const v1::BlockHeader before = follower->head();
    base::Status s = follower->apply_block(block);
    INFO(s.to_string());
    CHECK(s.code() == base::Code::kCorruption);
    CHECK(follower->head().SerializeAsString() == before.SerializeAsString());
    CHECK(follower->event("p").status().code() == base::Code::kNotFound);
    CHECK(follower->block(2).status().code() == base::Code::kNotFound);
    // The genuine block still applies afterwards.
    REQUIRE(follower->apply_block(good).is_ok());
    CHECK(follower->head_hash() == leader->head_hash());
  }
}

TEST_CASE("reopening a database with another genesis is kInvalidArgument", "[ledger][chain]") {
  TestLedger l;
  apply_ok(l, {make_event("a", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)});
  v1::ConsortiumConfig other = test_config();
  other.set_consortium_id("another-consortium");
  base::Status s = l.try_reopen(make_consortium(other));
  CHECK(s.code() == base::Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("another genesis"));
  l.reopen();
  CHECK(l->head().height() == 1);
}

TEST_CASE("a block with a changed but self-consistent header is caught by the next hash link",
          "[ledger][chain]") {
  // apply_block replays a block from its own timestamp and events: it checks that the block is
  // internally consistent, not that it is the block the leader made. A later timestamp changes
  // nothing else, so only the block hash differs, and the next block no longer links.
  TestLedger leader;
  const v1::Block first =
      apply_ok(leader, {make_event("a", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)});
  const v1::Block second =
      apply_ok(leader, {make_event("b", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)},
               kBlockTime + 10);
  TestLedger follower;
  v1::Block forged = first;
  forged.mutable_header()->set_timestamp_ms(first.header().timestamp_ms() + 1);
  REQUIRE(follower->apply_block(forged).is_ok());
  CHECK(follower->head_hash() != *ledger::block_hash(first.header()));
  const base::Status s = follower->apply_block(second);
  CHECK(s.code() == base::Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("prev_hash"));
}
