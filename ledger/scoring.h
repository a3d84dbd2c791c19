// A subject's status at a point in time, and its explainable score (DESIGN.md decision 10).
//
// Pure functions of the subject's view entries, the consortium's integer rules and the time
// "as of": no clock, no floating point, entries taken in sequence order. Every answer lists each
// event that moved the score and by how much.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ledger/consortium.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

// Two time axes. Effective time ("as of" t) is when an entry has effect in the world; ledger
// height is what the ledger had recorded. A removal, restoration or overturning ruling ends an
// entry from its own effective time on: before that time the entry counted, and still does in
// every later answer about that time. A correction says the entry was wrong: from the
// correction's height on it never counted, at any effective time. Below that height it counted
// as recorded (entry_at_height gives the entry as it stood there).
//
// effective <= t < expiry (if any), not ended (removed, restored, overturned) at or before t,
// and not corrected.
bool entry_active_at(const v1::ViewEntry& entry, int64_t as_of_ms);
// Under an objection that was open at t.
bool entry_disputed_at(const v1::ViewEntry& entry, int64_t as_of_ms);

// The accepted event with this id as the view keeps it now (its height included), or nullopt.
using EntryLookup = std::function<std::optional<v1::ViewEntry>(const std::string& event_id)>;

// `entry` as the view held it once the ledger reached `height`: nullopt if it was recorded
// above `height`; otherwise with what events above `height` did to it undone (an ending, and
// the ruling of an objection, are cleared; a dispute opened above it is dropped, and one ruled
// above it is open again). `find` looks up the events that acted on it (all of the same subject).
std::optional<v1::ViewEntry> entry_at_height(const v1::ViewEntry& entry, uint64_t height,
                                             const EntryLookup& find);

// All of a subject's entries (in sequence order) as they stood at `height`, in sequence order.
std::vector<v1::ViewEntry> entries_at_height(const std::vector<v1::ViewEntry>& entries,
                                             uint64_t height);

// REQUIRES: entries are all the subject's accepted events, in sequence order.
v1::SubjectStatus evaluate_subject(const Consortium& consortium, const v1::Subject& subject,
                                   const std::vector<v1::ViewEntry>& entries, int64_t as_of_ms);

}  // namespace ledger
