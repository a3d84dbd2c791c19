// How an accepted event becomes its entry in the view. Internal to the ledger; the fuzz targets
// use it to build the view their stateful rules read, so they check against the real conversion.
#pragma once

#include <cstdint>

#include "proto/ledger.pb.h"

namespace ledger::internal {

namespace v1 = credledger::v1;

v1::ViewEntry make_entry(const v1::CreditEvent& event, uint64_t sequence, uint64_t height,
                         int64_t block_time_ms);

}  // namespace ledger::internal
