// The view's two time axes (#12): effective time ("as of") and ledger height ("at height").
// A restoration ends an entry from its own effective time; a correction makes the entry never
// have counted, at any effective time, from the correction's height on, while answers at a
// lower height still show it as recorded. Each case applies real blocks to a scratch ledger and
// asks status, history and the blacklist on both axes; the pure entry_at_height is also checked
// against a replay of the same events up to that height (the view of a shorter chain).
#include <catch2/catch.hpp>

#include "ledger/scoring.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using namespace ledger_test;

const v1::Subject kFirm = enterprise(3001);
constexpr int64_t kEffect = kT0 + 10 * kDayMs;
constexpr int64_t kBlockTime = kT0 + 11 * kDayMs;

// Applies each group of events as one block (heights 1, 2, ...), all accepted.
void apply_blocks(TestLedger& l, const std::vector<std::vector<v1::CreditEvent>>& blocks) {
  int64_t ts = kBlockTime;
  for (const auto& events : blocks) {
    std::vector<v1::SignedEvent> signed_events;
    for (const auto& e : events) signed_events.push_back(sign(e));
    const v1::Block b = l.apply(signed_events, ts);
    for (const v1::Receipt& r : b.receipts()) {
      INFO(r.event_id() << ": " << v1::RejectReason_Name(r.reason()) << " " << r.message());
      REQUIRE(r.accepted());
    }
    ts += kDayMs;
  }
}

v1::SubjectStatus status_at(TestLedger& l, int64_t as_of, uint64_t height) {
  auto s = l->status(kFirm, as_of, height);
  REQUIRE(s.is_ok());
  return *s;
}

}  // namespace

TEST_CASE("a correction means the entry never counted, at any effective time", "[ledger][view]") {
  TestLedger l;
  const int64_t corrected_at = kEffect + 20 * kDayMs;
  apply_blocks(l, {{blacklist_entry("bl", kSamr, kFirm, v1::REAL_ESTATE, kEffect, 100),
                    penalty("pen", kSamr, kFirm, v1::GENERAL, v1::SERIOUS, kEffect, 100)},
                   {referring("fix-bl", kSamr, kFirm, v1::CORRECTION, "bl", corrected_at),
                    referring("fix-pen", kSamr, kFirm, v1::CORRECTION, "pen", corrected_at)}});
  for (int64_t as_of : {kEffect, corrected_at - 1, corrected_at, corrected_at + kDayMs}) {
    INFO("as of " << as_of);
    const v1::SubjectStatus s = l.status(kFirm, as_of);
    CHECK_FALSE(s.blacklisted());
    CHECK(s.blacklist_entries_size() == 0);
    CHECK(s.active_penalties_size() == 0);
    CHECK(s.score() == 1000);
    CHECK(s.explanation_size() == 0);
    auto bl = l->blacklist(v1::REAL_ESTATE, as_of, "", 10);
    REQUIRE(bl.is_ok());
    CHECK(bl->entries.empty());
  }
}

TEST_CASE("a restoration ends an entry from its own effective time only", "[ledger][view]") {
  TestLedger l;
  const int64_t restored_at = kEffect + 20 * kDayMs;
  apply_blocks(l, {{blacklist_entry("bl", kSamr, kFirm, v1::REAL_ESTATE, kEffect, 100)},
                   {referring("rest", kSamr, kFirm, v1::RESTORATION, "bl", restored_at)}});
  CHECK(l.status(kFirm, restored_at - 1).blacklisted());
  CHECK_FALSE(l.status(kFirm, restored_at).blacklisted());
}

TEST_CASE("an answer at a height is what the ledger said there; later corrections do not count",
          "[ledger][view]") {
  TestLedger l;
  const int64_t corrected_at = kEffect + 20 * kDayMs;
  const int64_t asked = kEffect + 5 * kDayMs;
  // Height 1: the entry. Height 2: an unrelated commendation. Height 3: its correction.
  apply_blocks(l, {{blacklist_entry("bl", kSamr, kFirm, v1::REAL_ESTATE, kEffect, 100)},
                   {make_event("good", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, kEffect)},
                   {referring("fix", kSamr, kFirm, v1::CORRECTION, "bl", corrected_at)}});
  REQUIRE(l->head().height() == 3);

  // Below the correction's height the penalty counts, as recorded then.
  for (uint64_t h : {1u, 2u}) {
    INFO("height " << h);
    const v1::SubjectStatus s = status_at(l, asked, h);
    CHECK(s.height() == h);
    CHECK(s.blacklisted());
    CHECK(s.grade() == "D");
    REQUIRE(s.blacklist_entries_size() == 1);
    CHECK(s.blacklist_entries(0).ended_by_event_id().empty());
    CHECK(s.event_count() == h);
    auto bl = l->blacklist(v1::REAL_ESTATE, asked, "", 10, h);
    REQUIRE(bl.is_ok());
    REQUIRE(bl->entries.size() == 1);
    CHECK(bl->entries[0].event_id() == "bl");
    CHECK(bl->entries[0].ended_at_ms() == 0);
  }
  CHECK(status_at(l, asked, 1).commendations_size() == 0);  // recorded at height 2
  CHECK(status_at(l, asked, 2).commendations_size() == 1);

  // From its height on, the entry never counted: the same question gets the other answer.
  for (uint64_t h : {3u, 0u}) {
    INFO("height " << h);
    const v1::SubjectStatus s = status_at(l, asked, h);
    CHECK(s.height() == 3);
    CHECK_FALSE(s.blacklisted());
    CHECK(s.event_count() == 3);
    auto bl = l->blacklist(v1::REAL_ESTATE, asked, "", 10, h);
    REQUIRE(bl.is_ok());
    CHECK(bl->entries.empty());
  }

  // History at each height shows what was recorded by then, each event with its height.
  auto history_ids = [&](uint64_t h) {
    auto page = l->history(kFirm, "", 10, h);
    REQUIRE(page.is_ok());
    std::vector<std::string> out;
    for (const auto& e : page->entries) {
      out.push_back(e.event_id() + "@" + std::to_string(e.height()) +
                    (e.ended_by_event_id().empty() ? "" : " ended by " + e.ended_by_event_id()));
    }
    return out;
  };
  CHECK(history_ids(1) == std::vector<std::string>{"bl@1"});
  CHECK(history_ids(2) == std::vector<std::string>{"bl@1", "good@2"});
  CHECK(history_ids(3) == std::vector<std::string>{"bl@1 ended by fix", "good@2", "fix@3"});
  CHECK(history_ids(0) == history_ids(3));

  // A height not applied yet is not answered from an older view.
  auto beyond = l->status(kFirm, asked, 4);
  REQUIRE_FALSE(beyond.is_ok());
  CHECK(beyond.status().code() == base::Code::kUnavailable);
  CHECK_THAT(beyond.status().message(), Catch::Contains("height 4 is not applied"));
  CHECK(l->blacklist(v1::REAL_ESTATE, asked, "", 10, 4).status().code() ==
        base::Code::kUnavailable);
  CHECK(l->history(kFirm, "", 10, 4).status().code() == base::Code::kUnavailable);
}

TEST_CASE("disputes and rulings are undone above the height asked", "[ledger][view]") {
  TestLedger l;
  const int64_t objected = kEffect + 5 * kDayMs;
  const int64_t ruled = kEffect + 9 * kDayMs;
  v1::CreditEvent overturn = referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", ruled);
  overturn.set_ruling(v1::OVERTURNED);
  apply_blocks(l, {{penalty("pen", kSamr, kFirm, v1::GENERAL, v1::MINOR, kEffect, 100)},
                   {referring("obj", kCourt, kFirm, v1::OBJECTION, "pen", objected)},
                   {overturn}});
  const int64_t later = ruled + kDayMs;
  // Height 1: in force, undisputed. Height 2: in force, disputed (no ruling yet). Height 3: the
  // overturning ruling ended it at `ruled`.
  const v1::SubjectStatus h1 = status_at(l, later, 1);
  CHECK(h1.active_penalties_size() == 1);
  CHECK(h1.disputed_event_ids_size() == 0);
  const v1::SubjectStatus h2 = status_at(l, later, 2);
  CHECK(h2.active_penalties_size() == 1);
  REQUIRE(h2.disputed_event_ids_size() == 1);
  CHECK(h2.disputed_event_ids(0) == "pen");
  REQUIRE(h2.active_penalties(0).disputes_size() == 1);
  CHECK(h2.active_penalties(0).disputes(0).until_ms() == 0);
  CHECK(h2.active_penalties(0).disputes(0).ruling() == v1::RULING_UNSPECIFIED);
  const v1::SubjectStatus h3 = status_at(l, later, 3);
  CHECK(h3.active_penalties_size() == 0);
  CHECK(status_at(l, ruled - 1, 3).active_penalties_size() == 1);  // ended from `ruled` on

  // The objection entry itself: ruled only from height 3.
  auto page = l->history(kFirm, "", 10, 2);
  REQUIRE(page.is_ok());
  REQUIRE(page->entries.size() == 2);
  CHECK(page->entries[1].event_id() == "obj");
  CHECK(page->entries[1].ended_at_ms() == 0);
  CHECK(page->entries[1].ruling() == v1::RULING_UNSPECIFIED);
}

TEST_CASE("the view at a height equals the view of the chain cut at that height",
          "[ledger][view]") {
  // Every prefix of a chain with endings, objections, rulings and corrections: the full
  // ledger asked at height h answers exactly what a ledger holding only blocks 1..h answers.
  const int64_t t = kEffect;
  v1::CreditEvent overturn =
      referring("rul", kSamr, kFirm, v1::OBJECTION_RULING, "obj", t + 9 * kDayMs);
  overturn.set_ruling(v1::OVERTURNED);
  const std::vector<std::vector<v1::CreditEvent>> blocks = {
      {blacklist_entry("bl", kSamr, kFirm, v1::REAL_ESTATE, t, 100),
       penalty("pen", kSamr, kFirm, v1::GENERAL, v1::SERIOUS, t, 100)},
      {referring("obj", kCourt, kFirm, v1::OBJECTION, "pen", t + 2 * kDayMs),
       make_event("good", kSamr, kFirm, v1::COMMENDATION, v1::GENERAL, t + kDayMs)},
      {referring("fix", kSamr, kFirm, v1::CORRECTION, "good", t + 30 * kDayMs)},
      {overturn, referring("rest", kSamr, kFirm, v1::RESTORATION, "bl", t + 12 * kDayMs)},
  };
  TestLedger full;
  apply_blocks(full, blocks);
  for (size_t h = 1; h <= blocks.size(); ++h) {
    TestLedger cut;
    apply_blocks(cut, {blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(h)});
    for (int64_t as_of : {t, t + 3 * kDayMs, t + 10 * kDayMs, t + 20 * kDayMs, t + 40 * kDayMs}) {
      INFO("height " << h << " as of " << as_of);
      const v1::SubjectStatus want = cut.status(kFirm, as_of);
      const v1::SubjectStatus got = status_at(full, as_of, h);
      CHECK(got.SerializeAsString() == want.SerializeAsString());
      auto want_bl = cut->blacklist(v1::REAL_ESTATE, as_of, "", 10);
      auto got_bl = full->blacklist(v1::REAL_ESTATE, as_of, "", 10, h);
      REQUIRE(want_bl.is_ok());
      REQUIRE(got_bl.is_ok());
      REQUIRE(got_bl->entries.size() == want_bl->entries.size());
      for (size_t i = 0; i < got_bl->entries.size(); ++i) {
        CHECK(got_bl->entries[i].SerializeAsString() == want_bl->entries[i].SerializeAsString());
      }
    }
    auto want_history = cut->history(kFirm, "", 100);
    auto got_history = full->history(kFirm, "", 100, h);
    REQUIRE(want_history.is_ok());
    REQUIRE(got_history.is_ok());
    REQUIRE(got_history->entries.size() == want_history->entries.size());
    for (size_t i = 0; i < got_history->entries.size(); ++i) {
      CHECK(got_history->entries[i].SerializeAsString() ==
            want_history->entries[i].SerializeAsString());
    }
  }
}
