#include "ledger/validation.h"

#include "ledger/crypto.h"
#include "ledger/event.h"
#include "ledger/internal/saturating.h"
#include "ledger/uscc.h"

namespace ledger {
namespace {

constexpr int64_t kMsPerDay = 24LL * 60 * 60 * 1000;
constexpr size_t kEventIdBytesMax = 128;

std::optional<Rejection> reject(v1::RejectReason reason, std::string message) {
  return Rejection{reason, std::move(message)};
}

std::string kind_name(v1::EventKind kind) { return v1::EventKind_Name(kind); }
std::string sector_name(v1::Sector sector) { return v1::Sector_Name(sector); }

bool valid_event_id(const std::string& id) {
  if (id.empty() || id.size() > kEventIdBytesMax) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// An id as error messages quote it: whole if short, else its start and length (a caller's
// multi-megabyte id must not become a multi-megabyte message).
std::string quote_id(const std::string& id) {
  constexpr size_t kQuotedBytesMax = 64;
  if (id.size() <= kQuotedBytesMax) return "'" + id + "'";
  return "'" + id.substr(0, kQuotedBytesMax) + "...' (" + std::to_string(id.size()) + " bytes)";
}

bool is_lower_hex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool needs_legal_basis_and_expiry(v1::EventKind kind) {
  return kind == v1::ADMINISTRATIVE_PENALTY || kind == v1::BLACKLIST_ENTRY;
}

// Mandate of an event that names its own sector.
std::optional<Rejection> check_mandate(const Consortium& consortium, const v1::Agency& agency,
                                       v1::EventKind kind, v1::Sector sector) {
  if (!consortium.mandate_allows_kind(agency, kind)) {
    return reject(v1::OUT_OF_MANDATE_KIND,
                  "agency '" + agency.id() + "' may not issue " + kind_name(kind) + " events");
  }
  if (!consortium.mandate_allows(agency, kind, sector)) {
    return reject(v1::OUT_OF_MANDATE_SECTOR, "agency '" + agency.id() + "' may not issue " +
                                                 kind_name(kind) + " in sector " +
                                                 sector_name(sector));
  }
  return std::nullopt;
}

std::optional<Rejection> check_legal_basis_and_expiry(const Consortium& consortium,
                                                      const v1::CreditEvent& e) {
  if (e.legal_basis().code().empty()) {
    return reject(v1::MISSING_LEGAL_BASIS,
                  kind_name(e.kind()) + " must cite a legal-basis code from the catalog");
  }
  const v1::LegalBasisEntry* basis = consortium.find_legal_basis(e.legal_basis().code());
  if (basis == nullptr) {
    return reject(v1::UNKNOWN_LEGAL_BASIS,
                  "legal-basis code '" + e.legal_basis().code() + "' is not in the catalog");
  }
  if (e.expires_at_ms() == 0) {
    return reject(v1::MISSING_EXPIRY, kind_name(e.kind()) + " must have an expiry");
  }
  if (e.expires_at_ms() <= e.effective_at_ms()) {
    return reject(v1::EXPIRY_BEFORE_EFFECT, "expiry is not after the effective time");
  }
  const int64_t max_ms = internal::saturating_mul(basis->max_publicity_days(), kMsPerDay);
  if (e.expires_at_ms() - e.effective_at_ms() > max_ms) {
    return reject(v1::EXPIRY_BEYOND_MAX_PUBLICITY,
                  "expiry is " + std::to_string((e.expires_at_ms() - e.effective_at_ms()) / kMsPerDay) +
                      " days after effect; legal basis '" + basis->code() + "' allows at most " +
                      std::to_string(basis->max_publicity_days()) + " days");
  }
  return std::nullopt;
}

}  // namespace

bool is_referring_kind(v1::EventKind kind) {
  switch (kind) {
    case v1::BLACKLIST_REMOVAL:
    case v1::RESTORATION:
    case v1::CORRECTION:
    case v1::OBJECTION:
    case v1::OBJECTION_RULING:
      return true;
    default:
      return false;
  }
}

bool verify_event_signature(const Consortium& consortium, const v1::SignedEvent& signed_event) {
  const Consortium::KeyInfo* key = consortium.find_key(signed_event.key_id());
  if (key == nullptr) return false;
  return verify(kEventSignDomain, signed_event.payload(), signed_event.signature(),
                key->public_key);
}

std::optional<Rejection> check_subject(const v1::Subject& subject) {
  switch (subject.kind()) {
    case v1::ENTERPRISE:
    case v1::SOCIAL_ORGANIZATION:
    case v1::GOVERNMENT_AGENCY: {
      base::Status s = check_uscc(subject.id());
      if (!s.is_ok()) {
        return reject(v1::INVALID_SUBJECT_ID,
                      "subject id " + quote_id(subject.id()) +
                          " is not a valid unified social credit code: " +
                          s.message());
      }
      return std::nullopt;
    }
    case v1::INDIVIDUAL:
    case v1::PROFESSIONAL:
      if (subject.id().size() != 64 || !is_lower_hex(subject.id())) {
        return reject(v1::INVALID_SUBJECT_ID,
                      "individuals are identified by a 64-character lowercase hex pseudonym, "
                      "never by a raw personal id");
      }
      return std::nullopt;
    default:
      return reject(v1::INVALID_SUBJECT_ID,
                    subject.kind() == v1::SUBJECT_KIND_UNSPECIFIED
                        ? std::string("subject kind is missing")
                        : "subject kind " + std::to_string(subject.kind()) + " is unknown");
  }
}

std::string claimed_event_id(const v1::SignedEvent& signed_event) {
  auto parsed = parse_event_payload(signed_event.payload());
  if (!parsed.is_ok() || !valid_event_id(parsed->event_id())) return "?";
  return parsed->event_id();
}

StaticCheck check_event_static(const Consortium& consortium, const v1::SignedEvent& signed_event,
                               SignatureState signature) {
  StaticCheck out;
  const v1::Limits& limits = consortium.config().limits();
  if (static_cast<int64_t>(signed_event.payload().size()) > limits.max_event_bytes()) {
    out.rejection = reject(v1::OVERSIZE, "event payload is " +
                                             std::to_string(signed_event.payload().size()) +
                                             " bytes; the limit is " +
                                             std::to_string(limits.max_event_bytes()));
    return out;
  }
  const Consortium::KeyInfo* key = consortium.find_key(signed_event.key_id());
  if (key == nullptr) {
    out.rejection = reject(v1::UNKNOWN_KEY, "key id " + quote_id(signed_event.key_id()) +
                                                " is not a key of any consortium agency");
    return out;
  }
  if (signature == SignatureState::kUnchecked) {
    signature = verify(kEventSignDomain, signed_event.payload(), signed_event.signature(),
                       key->public_key)
                    ? SignatureState::kValid
                    : SignatureState::kInvalid;
  }
  if (signature != SignatureState::kValid) {
    out.rejection = reject(v1::BAD_SIGNATURE, "signature does not verify under key '" +
                                                  signed_event.key_id() + "'");
    return out;
  }
  auto parsed = parse_event_payload(signed_event.payload());
  if (!parsed.is_ok()) {
    out.rejection = reject(v1::MALFORMED_EVENT, parsed.status().message());
    return out;
  }
  out.parsed = true;
  out.event = std::move(parsed).value();
  const v1::CreditEvent& e = out.event;
  out.rejection = [&]() -> std::optional<Rejection> {
    if (!valid_event_id(e.event_id())) {
      return reject(v1::MALFORMED_EVENT,
                    "event_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : -");
    }
    if (e.kind() == v1::EVENT_KIND_UNSPECIFIED || !v1::EventKind_IsValid(e.kind())) {
      return reject(v1::MALFORMED_EVENT, "event kind is missing or unknown");
    }
    if (!v1::Sector_IsValid(e.sector()) || !v1::Severity_IsValid(e.severity()) ||
        !v1::Ruling_IsValid(e.ruling()) || !v1::SubjectKind_IsValid(e.subject().kind())) {
      return reject(v1::MALFORMED_EVENT, "an enum field holds an unknown value");
    }
    const v1::Agency* agency = consortium.find_agency(e.issuer());
    if (agency == nullptr) {
      return reject(v1::UNKNOWN_AGENCY, "issuer '" + e.issuer() + "' is not a consortium agency");
    }
    if (key->agency != agency) {
      return reject(v1::KEY_NOT_OF_ISSUER, "key '" + signed_event.key_id() + "' belongs to '" +
                                               key->agency->id() + "', not to issuer '" +
                                               e.issuer() + "'");
    }
    if (e.issued_at_ms() <= 0) return reject(v1::MALFORMED_EVENT, "issued_at is missing");
    if (e.effective_at_ms() <= 0) return reject(v1::MALFORMED_EVENT, "effective_at is missing");
    if (static_cast<int64_t>(e.summary().size()) > limits.max_summary_bytes()) {
      return reject(v1::OVERSIZE, "summary is " + std::to_string(e.summary().size()) +
                                      " bytes; the limit is " +
                                      std::to_string(limits.max_summary_bytes()));
    }
    if (auto r = check_subject(e.subject())) return r;

    if (is_referring_kind(e.kind())) {
      if (e.refers_to().empty()) {
        return reject(v1::MISSING_REFERENCE, kind_name(e.kind()) + " must name the event it "
                                                                   "acts on in refers_to");
      }
      if (e.kind() == v1::OBJECTION_RULING && e.ruling() == v1::RULING_UNSPECIFIED) {
        return reject(v1::MISSING_RULING, "OBJECTION_RULING must say UPHELD or OVERTURNED");
      }
      // Objections are filed by any agency on the subject's behalf; the other kinds need the
      // kind in the mandate here and the target's sector in the stateful check.
      if (e.kind() != v1::OBJECTION && !consortium.mandate_allows_kind(*agency, e.kind())) {
        return reject(v1::OUT_OF_MANDATE_KIND, "agency '" + agency->id() + "' may not issue " +
                                                   kind_name(e.kind()) + " events");
      }
      return std::nullopt;
    }

    if (!e.refers_to().empty()) {
      return reject(v1::UNEXPECTED_REFERENCE,
                    kind_name(e.kind()) + " does not act on another event; refers_to must be empty");
    }
    if (e.sector() == v1::SECTOR_UNSPECIFIED) {
      return reject(v1::MISSING_SECTOR, kind_name(e.kind()) + " must name a sector");
    }
    if (auto r = check_mandate(consortium, *agency, e.kind(), e.sector())) return r;
    if (e.kind() == v1::ADMINISTRATIVE_PENALTY && e.severity() == v1::SEVERITY_UNSPECIFIED) {
      return reject(v1::MISSING_SEVERITY, "ADMINISTRATIVE_PENALTY must have a severity");
    }
    if (needs_legal_basis_and_expiry(e.kind())) {
      if (auto r = check_legal_basis_and_expiry(consortium, e)) return r;
    } else if (e.expires_at_ms() != 0 && e.expires_at_ms() <= e.effective_at_ms()) {
      return reject(v1::EXPIRY_BEFORE_EFFECT, "expiry is not after the effective time");
    }
    if (e.kind() == v1::CREDIT_RATING) {
      const std::string& r = e.rating();
      if (r != "A" && r != "B" && r != "C" && r != "D") {
        return reject(v1::INVALID_RATING, "rating must be one of A, B, C, D; got '" + r + "'");
      }
    }
    return std::nullopt;
  }();
  return out;
}

std::optional<Rejection> check_event_stateful(const Consortium& consortium,
                                              const v1::CreditEvent& e,
                                              int64_t block_timestamp_ms,
                                              const LedgerLookup& lookup) {
  if (lookup.exists(e.event_id())) {
    return reject(v1::DUPLICATE_EVENT_ID, "event_id '" + e.event_id() + "' is already on the ledger");
  }
  const int64_t skew = consortium.config().limits().max_clock_skew_ms();
  if (e.issued_at_ms() > internal::saturating_add(block_timestamp_ms, skew)) {
    return reject(v1::ISSUED_IN_FUTURE,
                  "issued_at is " + std::to_string(internal::saturating_sub(e.issued_at_ms(), block_timestamp_ms)) +
                      " ms after the block time; at most " + std::to_string(skew) +
                      " ms of clock skew is allowed");
  }
  if (!is_referring_kind(e.kind())) return std::nullopt;

  std::optional<v1::ViewEntry> target = lookup.find(e.refers_to());
  if (!target) {
    return reject(v1::REFERS_TO_UNKNOWN,
                  "refers_to '" + e.refers_to() + "' is not an accepted event on the ledger");
  }
  if (target->subject().kind() != e.subject().kind() ||
      target->subject().id() != e.subject().id()) {
    return reject(v1::REFERS_TO_OTHER_SUBJECT,
                  "refers_to '" + e.refers_to() + "' concerns another subject");
  }
  auto wrong_kind = [&](const char* expected) {
    return reject(v1::REFERS_TO_WRONG_KIND, kind_name(e.kind()) + " must refer to " + expected +
                                                "; '" + e.refers_to() + "' is " +
                                                kind_name(target->kind()));
  };
  auto same_issuer = [&](const std::string& owner) -> std::optional<Rejection> {
    if (owner != e.issuer()) {
      return reject(v1::REFERS_TO_NOT_PERMITTED, "only '" + owner + "', which issued the entry, may issue " +
                                                     kind_name(e.kind()) + " for it");
    }
    return std::nullopt;
  };
  auto not_ended = [&]() -> std::optional<Rejection> {
    if (target->ended_at_ms() != 0) {
      return reject(v1::TARGET_ALREADY_ENDED, "'" + e.refers_to() + "' was already ended by " +
                                                  kind_name(target->ended_by_kind()) + " '" +
                                                  target->ended_by_event_id() + "'");
    }
    return std::nullopt;
  };
  auto in_target_sector = [&]() -> std::optional<Rejection> {
    const v1::Agency* agency = consortium.find_agency(e.issuer());
    LEDGER_ASSERT(agency != nullptr);  // the static check found it
    if (!consortium.mandate_allows(*agency, e.kind(), target->sector())) {
      return reject(v1::OUT_OF_MANDATE_SECTOR, "agency '" + agency->id() + "' may not issue " +
                                                   kind_name(e.kind()) + " in sector " +
                                                   sector_name(target->sector()));
    }
    return std::nullopt;
  };
  // An ending acts from its effective time on; ending an entry before the entry itself took
  // effect would rewrite what earlier "as of" answers said about a time it never covered.
  auto not_before_target = [&](const v1::ViewEntry& acted_on) -> std::optional<Rejection> {
    if (e.effective_at_ms() < acted_on.effective_at_ms()) {
      return reject(v1::EFFECT_BEFORE_TARGET,
                    kind_name(e.kind()) + " takes effect before '" + acted_on.event_id() +
                        "' does; it must not be earlier");
    }
    return std::nullopt;
  };
  auto open_dispute = [&]() -> bool {
    for (const v1::Dispute& d : target->disputes()) {
      if (d.until_ms() == 0) return true;
    }
    return false;
  };

  switch (e.kind()) {
    case v1::BLACKLIST_REMOVAL:
      if (target->kind() != v1::BLACKLIST_ENTRY) return wrong_kind("a BLACKLIST_ENTRY");
      if (auto r = same_issuer(target->issuer())) return r;
      if (auto r = in_target_sector()) return r;
      if (auto r = not_ended()) return r;
      return not_before_target(*target);
    case v1::RESTORATION:
      if (target->kind() != v1::ADMINISTRATIVE_PENALTY && target->kind() != v1::BLACKLIST_ENTRY) {
        return wrong_kind("an ADMINISTRATIVE_PENALTY or BLACKLIST_ENTRY");
      }
      if (auto r = same_issuer(target->issuer())) return r;
      if (auto r = in_target_sector()) return r;
      if (auto r = not_ended()) return r;
      return not_before_target(*target);
    case v1::CORRECTION:
      if (is_referring_kind(target->kind())) {
        return wrong_kind("a record (penalty, blacklist entry, commendation, disclosure, "
                          "commitment or rating)");
      }
      if (auto r = same_issuer(target->issuer())) return r;
      if (auto r = in_target_sector()) return r;
      if (auto r = not_ended()) return r;
      return not_before_target(*target);
    case v1::OBJECTION:
      if (target->kind() != v1::ADMINISTRATIVE_PENALTY && target->kind() != v1::BLACKLIST_ENTRY &&
          target->kind() != v1::CREDIT_RATING) {
        return wrong_kind("an ADMINISTRATIVE_PENALTY, BLACKLIST_ENTRY or CREDIT_RATING");
      }
      if (auto r = not_ended()) return r;
      if (open_dispute()) {
        return reject(v1::OBJECTION_ALREADY_OPEN,
                      "'" + e.refers_to() + "' is already under an open objection");
      }
      return std::nullopt;
    case v1::OBJECTION_RULING: {
      if (target->kind() != v1::OBJECTION) return wrong_kind("an OBJECTION");
      if (target->ended_at_ms() != 0) {
        return reject(v1::OBJECTION_ALREADY_RULED, "objection '" + e.refers_to() +
                                                       "' was already ruled on by '" +
                                                       target->ended_by_event_id() + "'");
      }
      // The ruling belongs to the agency that issued the objected entry.
      std::optional<v1::ViewEntry> entry = lookup.find(target->refers_to());
      LEDGER_ASSERT(entry.has_value());  // an accepted objection always names an accepted entry
      if (auto r = same_issuer(entry->issuer())) return r;
      const v1::Agency* agency = consortium.find_agency(e.issuer());
      if (!consortium.mandate_allows(*agency, e.kind(), entry->sector())) {
        return reject(v1::OUT_OF_MANDATE_SECTOR, "agency '" + agency->id() + "' may not issue " +
                                                     kind_name(e.kind()) + " in sector " +
                                                     sector_name(entry->sector()));
      }
      return not_before_target(*target);
    }
    default:
      LEDGER_ASSERT(false);
  }
  return std::nullopt;
}

}  // namespace ledger
