// A subject's status at a point in time, and its explainable score (DESIGN.md decision 10).
//
// Pure functions of the subject's view entries, the consortium's integer rules and the time
// "as of": no clock, no floating point, entries taken in sequence order. Every answer lists each
// event that moved the score and by how much.
#pragma once

#include <vector>

#include "ledger/consortium.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

// effective <= t < expiry (if any), and not ended (removed, restored, corrected, overturned)
// at or before t.
bool entry_active_at(const v1::ViewEntry& entry, int64_t as_of_ms);
// Under an objection that was open at t.
bool entry_disputed_at(const v1::ViewEntry& entry, int64_t as_of_ms);

// REQUIRES: entries are all the subject's accepted events, in sequence order.
v1::SubjectStatus evaluate_subject(const Consortium& consortium, const v1::Subject& subject,
                                   const std::vector<v1::ViewEntry>& entries, int64_t as_of_ms);

}  // namespace ledger
