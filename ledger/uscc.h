// Unified Social Credit Code (GB 32100-2015), the 18-character identifier of every organisation.
//
// Layout: [1] registration authority, [2] entity category, [3-8] administrative division (digits),
// [9-17] organisation code (GB 11714, whose 9th character is its own check character),
// [18] check character. Characters come from the 31-symbol alphabet 0-9 A-Z without I O S V Z.
// The check character makes sum(value(c_i) * w_i) + value(c_18) = 0 (mod 31), with weights
// w_i = 3^(i-1) mod 31.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace ledger {

// kOk if code is a well-formed USCC with both check characters right; otherwise
// kInvalidArgument saying exactly what is wrong (length, character at position, check).
base::Status check_uscc(std::string_view code);

// The check character for the first 17 characters. REQUIRES: 17 characters of the alphabet.
char uscc_check_character(std::string_view first17);

// The GB 11714 check character for an 8-character organisation code body.
char organization_code_check_character(std::string_view first8);

}  // namespace ledger
