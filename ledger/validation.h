// The rules every node applies, identically, to decide whether an event is accepted
// (DESIGN.md decision 8). Each rejection has its own reason code and a message naming the rule.
//
// Rules split in two: static rules depend only on the event and the consortium config (they can
// run on worker threads before consensus); stateful rules need the ledger's state at the block
// being applied (duplicates, references, block time) and run inside apply().
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "ledger/consortium.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

struct Rejection {
  v1::RejectReason reason;
  std::string message;
};

// Whether the caller already checked the signature (on a worker pool) and with what outcome.
enum class SignatureState { kUnchecked, kValid, kInvalid };

// True if the signature verifies under the key the event names (false for an unknown key).
bool verify_event_signature(const Consortium& consortium, const v1::SignedEvent& signed_event);

struct StaticCheck {
  std::optional<Rejection> rejection;  // empty: every static rule holds
  bool parsed = false;                 // event below is meaningful
  v1::CreditEvent event;
};

StaticCheck check_event_static(const Consortium& consortium, const v1::SignedEvent& signed_event,
                               SignatureState signature);

// What the stateful rules need to know about the ledger so far (including earlier events of the
// block being applied).
struct LedgerLookup {
  // True if an event with this id was accepted.
  std::function<bool(const std::string& event_id)> exists;
  // The accepted event with this id as the view keeps it (with what later events did to it).
  std::function<std::optional<v1::ViewEntry>(const std::string& event_id)> find;
};

std::optional<Rejection> check_event_stateful(const Consortium& consortium,
                                              const v1::CreditEvent& event,
                                              int64_t block_timestamp_ms,
                                              const LedgerLookup& lookup);

// The event id an event's payload claims, for messages about an event that failed a rule before
// its payload was read (OVERSIZE, UNKNOWN_KEY, BAD_SIGNATURE): the id if the payload parses and
// the id is a valid one, otherwise "?". Only for naming the event to its sender: it is not
// signed by anyone known, so nothing may be decided on it.
std::string claimed_event_id(const v1::SignedEvent& signed_event);

// Subject id rule alone (USCC for organisations, 64-hex pseudonym for individuals).
std::optional<Rejection> check_subject(const v1::Subject& subject);

// Kinds that act on another event through refers_to.
bool is_referring_kind(v1::EventKind kind);

}  // namespace ledger
