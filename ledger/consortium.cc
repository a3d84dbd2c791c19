#include "ledger/consortium.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "ledger/block.h"
#include "ledger/checkpoint.h"

namespace ledger {
namespace {

template <typename Enum>
base::Result<Enum> parse_enum(std::string_view text, const google::protobuf::EnumDescriptor* desc,
                              const char* what) {
  std::string name(text);
  for (char& c : name) c = (c == '-') ? '_' : static_cast<char>(std::toupper(c));
  const auto* value = desc->FindValueByName(name);
  if (value == nullptr || value->number() == 0) {
    std::string valid;
    for (int i = 1; i < desc->value_count(); ++i) {
      if (!valid.empty()) valid += ", ";
      valid += desc->value(i)->name();
    }
    return base::Status::invalid_argument(std::string("unknown ") + what + " '" +
                                          std::string(text) + "'; valid: " + valid);
  }
  return static_cast<Enum>(value->number());
}

}  // namespace

base::Result<v1::EventKind> parse_event_kind(std::string_view text) {
  return parse_enum<v1::EventKind>(text, v1::EventKind_descriptor(), "event kind");
}
base::Result<v1::Sector> parse_sector(std::string_view text) {
  return parse_enum<v1::Sector>(text, v1::Sector_descriptor(), "sector");
}
base::Result<v1::Severity> parse_severity(std::string_view text) {
  return parse_enum<v1::Severity>(text, v1::Severity_descriptor(), "severity");
}
base::Result<v1::SubjectKind> parse_subject_kind(std::string_view text) {
  return parse_enum<v1::SubjectKind>(text, v1::SubjectKind_descriptor(), "subject kind");
}
base::Result<v1::Ruling> parse_ruling(std::string_view text) {
  return parse_enum<v1::Ruling>(text, v1::Ruling_descriptor(), "ruling");
}

void Consortium::apply_defaults(v1::ConsortiumConfig& config) {
  if (!config.has_scoring()) {
    v1::ScoringRules& s = *config.mutable_scoring();
    s.set_base_score(1000);
    const std::pair<v1::Severity, int64_t> deductions[] = {
        {v1::MINOR, 20}, {v1::MODERATE, 60}, {v1::SERIOUS, 150}, {v1::VERY_SERIOUS, 300}};
    for (const auto& [severity, points] : deductions) {
      auto* d = s.add_penalty_deductions();
      d->set_severity(severity);
      d->set_points(points);
    }
    s.set_blacklist_deduction(300);
    s.set_commendation_bonus(30);
    s.set_commendation_bonus_cap(90);
    s.set_disclosure_bonus(10);
    s.set_disclosure_bonus_cap(30);
    s.set_commitment_bonus(5);
    s.set_commitment_bonus_cap(10);
    s.set_grade_a_min(900);
    s.set_grade_b_min(700);
    s.set_grade_c_min(500);
    s.set_score_min(0);
    s.set_score_max(1100);
    s.set_bonus_window_days(1095);
  }
  if (!config.has_limits()) {
    v1::Limits& l = *config.mutable_limits();
    l.set_max_event_bytes(4096);
    l.set_max_summary_bytes(1024);
    l.set_max_clock_skew_ms(5 * 60 * 1000);
    l.set_max_events_per_block(4096);
  }
}

base::Result<std::string> Consortium::to_genesis(const v1::ConsortiumConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(config, &out, options);
  if (!status.ok()) {
    return base::Status::invalid_argument("cannot print config: " + std::string(status.message()));
  }
  return out;
}

base::Result<std::shared_ptr<const Consortium>> Consortium::from_genesis(std::string bytes) {
  std::shared_ptr<Consortium> c(new Consortium());
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(bytes, &c->config_, options);
  if (!status.ok()) {
    return base::Status::invalid_argument("genesis is not a valid ConsortiumConfig: " +
                                          std::string(status.message()));
  }
  c->genesis_state_root_ = ledger::genesis_state_root(bytes);
  c->genesis_bytes_ = std::move(bytes);
  RETURN_IF_ERROR(c->index());
  return std::shared_ptr<const Consortium>(std::move(c));
}

base::Result<std::shared_ptr<const Consortium>> Consortium::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::Status::not_found("cannot open genesis file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto result = from_genesis(ss.str());
  if (!result.is_ok()) return result.status().with_context(path);
  return result;
}

base::Status Consortium::index() {
  const v1::ConsortiumConfig& cfg = config_;
  auto bad = [](const std::string& msg) { return base::Status::invalid_argument(msg); };
  if (cfg.consortium_id().empty()) return bad("consortium_id is empty");
  if (cfg.agencies().empty()) return bad("no agencies");
  if (!cfg.has_scoring()) return bad("scoring rules are missing");
  if (!cfg.has_limits()) return bad("limits are missing");
  for (const v1::Agency& agency : cfg.agencies()) {
    if (agency.id().empty()) return bad("an agency has an empty id");
    if (!agencies_.emplace(agency.id(), &agency).second) {
      return bad("agency id '" + agency.id() + "' appears twice");
    }
    if (agency.keys().empty()) return bad("agency '" + agency.id() + "' has no keys");
    for (const v1::AgencyKey& key : agency.keys()) {
      if (key.public_key().size() != kPublicKeyBytes) {
        return bad("agency '" + agency.id() + "' key '" + key.key_id() +
                   "' is not a 32-byte Ed25519 public key");
      }
      if (key.key_id().empty()) return bad("agency '" + agency.id() + "' has a key without id");
      // The key id is the key name of this key's checkpoint cosignatures (ledger/checkpoint.h),
      // and C2SP signed notes forbid spaces and '+' there: refuse it now rather than at the
      // node's first cosignature.
      if (!valid_note_key_name(key.key_id())) {
        return bad("agency '" + agency.id() + "' key '" + key.key_id() +
                   "' cannot be a signed-note key name (it must be non-empty UTF-8 without "
                   "spaces, '+' or control characters), which checkpoint cosignatures need");
      }
      if (!keys_.emplace(key.key_id(), KeyInfo{&agency, key.public_key()}).second) {
        return bad("key id '" + key.key_id() + "' appears twice");
      }
    }
    for (const v1::MandateGrant& grant : agency.mandate()) {
      if (grant.kinds().empty() || grant.sectors().empty()) {
        return bad("agency '" + agency.id() + "' has a mandate grant without kinds or sectors");
      }
    }
  }
  for (const v1::LegalBasisEntry& entry : cfg.catalog()) {
    if (entry.code().empty()) return bad("a legal-basis catalog entry has an empty code");
    if (entry.max_publicity_days() <= 0) {
      return bad("legal basis '" + entry.code() + "' needs max_publicity_days > 0");
    }
    if (!catalog_.emplace(entry.code(), &entry).second) {
      return bad("legal basis code '" + entry.code() + "' appears twice");
    }
  }
  const v1::ScoringRules& s = cfg.scoring();
  // Scores are int64 sums of these over a subject's entries: bounding each value keeps every
  // sum far from overflow (tests/fuzz found INT64_MIN deductions being negated).
  constexpr int64_t kScoringValueMax = 1000000000;
  auto out_of_range = [&](int64_t v) { return v < -kScoringValueMax || v > kScoringValueMax; };
  for (int64_t v : {s.base_score(), s.blacklist_deduction(), s.commendation_bonus(),
                    s.commendation_bonus_cap(), s.disclosure_bonus(), s.disclosure_bonus_cap(),
                    s.commitment_bonus(), s.commitment_bonus_cap(), s.grade_a_min(),
                    s.grade_b_min(), s.grade_c_min(), s.score_min(), s.score_max(),
                    s.bonus_window_days()}) {
    if (out_of_range(v)) return bad("scoring values must lie within +-1000000000");
  }
  for (const v1::SeverityDeduction& d : s.penalty_deductions()) {
    if (out_of_range(d.points())) return bad("scoring values must lie within +-1000000000");
  }
  if (!(s.grade_a_min() > s.grade_b_min() && s.grade_b_min() > s.grade_c_min())) {
    return bad("scoring grade thresholds must satisfy grade_a_min > grade_b_min > grade_c_min");
  }
  if (s.score_min() > s.score_max()) return bad("scoring score_min exceeds score_max");
  if (s.base_score() < s.score_min() || s.base_score() > s.score_max()) {
    return bad("scoring base_score lies outside [score_min, score_max]");
  }
  const v1::Limits& l = cfg.limits();
  if (l.max_event_bytes() <= 0 || l.max_summary_bytes() <= 0 || l.max_clock_skew_ms() < 0 ||
      l.max_events_per_block() <= 0) {
    return bad("limits must be positive (max_event_bytes, max_summary_bytes, "
               "max_events_per_block) and max_clock_skew_ms must not be negative");
  }
  return base::Status::ok();
}

const Consortium::KeyInfo* Consortium::find_key(std::string_view key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

const v1::Agency* Consortium::find_agency(std::string_view agency_id) const {
  auto it = agencies_.find(agency_id);
  return it == agencies_.end() ? nullptr : it->second;
}

const v1::LegalBasisEntry* Consortium::find_legal_basis(std::string_view code) const {
  auto it = catalog_.find(code);
  return it == catalog_.end() ? nullptr : it->second;
}

bool Consortium::mandate_allows_kind(const v1::Agency& agency, v1::EventKind kind) const {
  for (const v1::MandateGrant& grant : agency.mandate()) {
    for (int k : grant.kinds()) {
      if (k == kind) return true;
    }
  }
  return false;
}

bool Consortium::mandate_allows(const v1::Agency& agency, v1::EventKind kind,
                                v1::Sector sector) const {
  for (const v1::MandateGrant& grant : agency.mandate()) {
    const bool kind_ok = std::find(grant.kinds().begin(), grant.kinds().end(), kind) !=
                         grant.kinds().end();
    const bool sector_ok = std::find(grant.sectors().begin(), grant.sectors().end(), sector) !=
                           grant.sectors().end();
    if (kind_ok && sector_ok) return true;
  }
  return false;
}

int64_t Consortium::penalty_deduction(v1::Severity severity) const {
  for (const v1::SeverityDeduction& d : config_.scoring().penalty_deductions()) {
    if (d.severity() == severity) return d.points();
  }
  return 0;
}

}  // namespace ledger
