#include "ledger/scoring.h"

#include <algorithm>
#include <map>

#include "ledger/internal/saturating.h"

namespace ledger {
namespace {

constexpr int64_t kMsPerDay = 24LL * 60 * 60 * 1000;

// A capped bonus: each event adds `bonus` until the running total reaches `cap`.
struct BonusCounter {
  int64_t bonus;
  int64_t cap;
  int64_t total = 0;
  int64_t take() {
    const int64_t delta = std::max<int64_t>(0, std::min(bonus, cap - total));
    total += delta;
    return delta;
  }
};

}  // namespace

bool entry_active_at(const v1::ViewEntry& entry, int64_t as_of_ms) {
  if (entry.ended_by_kind() == v1::CORRECTION) return false;  // it never should have counted
  if (entry.effective_at_ms() > as_of_ms) return false;
  if (entry.expires_at_ms() != 0 && as_of_ms >= entry.expires_at_ms()) return false;
  if (entry.ended_at_ms() != 0 && as_of_ms >= entry.ended_at_ms()) return false;
  return true;
}

bool entry_disputed_at(const v1::ViewEntry& entry, int64_t as_of_ms) {
  for (const v1::Dispute& d : entry.disputes()) {
    if (d.from_ms() <= as_of_ms && (d.until_ms() == 0 || as_of_ms < d.until_ms())) return true;
  }
  return false;
}

std::optional<v1::ViewEntry> entry_at_height(const v1::ViewEntry& entry, uint64_t height,
                                             const EntryLookup& find) {
  if (entry.height() > height) return std::nullopt;
  auto recorded_by = [&](const std::string& event_id) {
    if (event_id.empty()) return false;
    std::optional<v1::ViewEntry> e = find(event_id);
    return e.has_value() && e->height() <= height;
  };
  v1::ViewEntry out = entry;
  if (!out.ended_by_event_id().empty() && !recorded_by(out.ended_by_event_id())) {
    out.clear_ended_at_ms();
    out.clear_ended_by_kind();
    out.clear_ended_by_event_id();
    if (out.kind() == v1::OBJECTION) out.clear_ruling();  // the ruling set it
  }
  out.clear_disputes();
  for (const v1::Dispute& d : entry.disputes()) {
    std::optional<v1::ViewEntry> objection = find(d.objection_event_id());
    if (!objection.has_value() || objection->height() > height) continue;
    v1::Dispute* kept = out.add_disputes();
    *kept = d;
    // The objection's ender is its ruling.
    if (d.until_ms() != 0 && !recorded_by(objection->ended_by_event_id())) {
      kept->clear_until_ms();
      kept->clear_ruling();
    }
  }
  return out;
}

std::vector<v1::ViewEntry> entries_at_height(const std::vector<v1::ViewEntry>& entries,
                                             uint64_t height) {
  std::map<std::string, const v1::ViewEntry*> by_id;  // ordered: no hash-order dependence
  for (const v1::ViewEntry& e : entries) by_id.emplace(e.event_id(), &e);
  const EntryLookup find = [&](const std::string& id) -> std::optional<v1::ViewEntry> {
    auto it = by_id.find(id);
    if (it == by_id.end()) return std::nullopt;
    return *it->second;
  };
  std::vector<v1::ViewEntry> out;
  for (const v1::ViewEntry& e : entries) {
    // Sequence order is height order: nothing after the first entry above `height` is kept.
    if (e.height() > height) break;
    if (auto at = entry_at_height(e, height, find)) out.push_back(std::move(*at));
  }
  return out;
}

v1::SubjectStatus evaluate_subject(const Consortium& consortium, const v1::Subject& subject,
                                   const std::vector<v1::ViewEntry>& entries, int64_t as_of_ms) {
  const v1::ScoringRules& rules = consortium.config().scoring();
  v1::SubjectStatus out;
  *out.mutable_subject() = subject;
  out.set_as_of_ms(as_of_ms);
  out.set_event_count(static_cast<uint32_t>(entries.size()));

  int64_t score = rules.base_score();
  BonusCounter commendations{rules.commendation_bonus(), rules.commendation_bonus_cap()};
  BonusCounter disclosures{rules.disclosure_bonus(), rules.disclosure_bonus_cap()};
  BonusCounter commitments{rules.commitment_bonus(), rules.commitment_bonus_cap()};
  std::map<int, const v1::ViewEntry*> latest_rating;  // by sector; ordered map: deterministic
  std::vector<int> blacklisted_sectors;

  auto explain = [&](const v1::ViewEntry& e, int64_t delta, std::string reason) {
    if (delta == 0) return;
    score += delta;
    v1::ScoreItem* item = out.add_explanation();
    item->set_event_id(e.event_id());
    item->set_kind(e.kind());
    item->set_delta(delta);
    item->set_reason(std::move(reason));
  };
  auto in_bonus_window = [&](const v1::ViewEntry& e) {
    return rules.bonus_window_days() == 0 ||
           as_of_ms < internal::saturating_add(
                          e.effective_at_ms(),
                          internal::saturating_mul(rules.bonus_window_days(), kMsPerDay));
  };

  for (const v1::ViewEntry& e : entries) {
    if (!entry_active_at(e, as_of_ms)) continue;
    const bool disputed = entry_disputed_at(e, as_of_ms);
    if (disputed) out.add_disputed_event_ids(e.event_id());
    const std::string disputed_note = disputed ? " (under objection)" : "";
    switch (e.kind()) {
      case v1::ADMINISTRATIVE_PENALTY:
        *out.add_active_penalties() = e;
        explain(e, -consortium.penalty_deduction(e.severity()),
                "active " + v1::Severity_Name(e.severity()) + " penalty in " +
                    v1::Sector_Name(e.sector()) + " under " + e.legal_basis().code() +
                    disputed_note);
        break;
      case v1::BLACKLIST_ENTRY:
        *out.add_blacklist_entries() = e;
        if (std::find(blacklisted_sectors.begin(), blacklisted_sectors.end(), e.sector()) ==
            blacklisted_sectors.end()) {
          blacklisted_sectors.push_back(e.sector());
        }
        explain(e, -rules.blacklist_deduction(),
                "on the " + v1::Sector_Name(e.sector()) + " blacklist under " +
                    e.legal_basis().code() + disputed_note);
        break;
      case v1::COMMENDATION:
        *out.add_commendations() = e;
        if (in_bonus_window(e)) {
          explain(e, commendations.take(), "commendation (redlist) in " + v1::Sector_Name(e.sector()));
        }
        break;
      case v1::VOLUNTARY_DISCLOSURE:
        if (in_bonus_window(e)) explain(e, disclosures.take(), "voluntary disclosure");
        break;
      case v1::CREDIT_COMMITMENT:
        if (in_bonus_window(e)) explain(e, commitments.take(), "credit commitment");
        break;
      case v1::CREDIT_RATING:
        latest_rating[e.sector()] = &e;  // entries come in sequence order: the last one wins
        break;
      default:
        break;  // referring kinds act through the entries they changed
    }
  }

  const bool blacklisted = !blacklisted_sectors.empty();
  out.set_blacklisted(blacklisted);
  std::sort(blacklisted_sectors.begin(), blacklisted_sectors.end());
  for (int s : blacklisted_sectors) out.add_blacklisted_sectors(static_cast<v1::Sector>(s));
  for (const auto& [sector, entry] : latest_rating) *out.add_ratings() = *entry;

  if (score < rules.score_min()) {
    v1::ScoreItem* item = out.add_explanation();
    item->set_delta(rules.score_min() - score);
    item->set_reason("score floor " + std::to_string(rules.score_min()));
    score = rules.score_min();
  } else if (score > rules.score_max()) {
    v1::ScoreItem* item = out.add_explanation();
    item->set_delta(rules.score_max() - score);
    item->set_reason("score ceiling " + std::to_string(rules.score_max()));
    score = rules.score_max();
  }
  out.set_score(score);
  if (blacklisted) {
    out.set_grade("D");  // a blacklist entry forces grade D whatever the score
  } else if (score >= rules.grade_a_min()) {
    out.set_grade("A");
  } else if (score >= rules.grade_b_min()) {
    out.set_grade("B");
  } else if (score >= rules.grade_c_min()) {
    out.set_grade("C");
  } else {
    out.set_grade("D");
  }
  return out;
}

}  // namespace ledger
