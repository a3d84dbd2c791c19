#include "ledger/uscc.h"

#include <array>

namespace ledger {
namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static_assert(kAlphabet.size() == 31);
constexpr std::array<int, 17> kWeights = {1, 3, 9, 27, 19, 26, 16, 17, 20,
                                          29, 25, 13, 8, 24, 10, 30, 28};

int alphabet_value(char c) {
  const size_t pos = kAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// GB 11714 values: digits 0-9, letters A=10 .. Z=35.
int org_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

}  // namespace

char uscc_check_character(std::string_view first17) {
  LEDGER_ASSERT(first17.size() == 17);
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    const int v = alphabet_value(first17[i]);
    LEDGER_ASSERT(v >= 0);
    sum += v * kWeights[i];
  }
  const int check = (31 - sum % 31) % 31;
  return kAlphabet[static_cast<size_t>(check)];
}

char organization_code_check_character(std::string_view first8) {
  LEDGER_ASSERT(first8.size() == 8);
  static constexpr std::array<int, 8> kOrgWeights = {3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (size_t i = 0; i < 8; ++i) {
    const int v = org_value(first8[i]);
    LEDGER_ASSERT(v >= 0);
    sum += v * kOrgWeights[i];
  }
  const int check = 11 - sum % 11;
  if (check == 10) return 'X';
  if (check == 11) return '0';
  return static_cast<char>('0' + check);
}

base::Status check_uscc(std::string_view code) {
  if (code.size() != 18) {
    return base::Status::invalid_argument("a unified social credit code has 18 characters, got " +
                                          std::to_string(code.size()));
  }
  for (size_t i = 0; i < 18; ++i) {
    if (alphabet_value(code[i]) < 0) {
      return base::Status::invalid_argument(
          "character '" + std::string(1, code[i]) + "' at position " + std::to_string(i + 1) +
          " is not in the code alphabet (0-9, A-Z without I, O, S, V, Z)");
    }
  }
  for (size_t i = 2; i < 8; ++i) {
    if (code[i] < '0' || code[i] > '9') {
      return base::Status::invalid_argument("position " + std::to_string(i + 1) +
                                            " belongs to the administrative division code and "
                                            "must be a digit");
    }
  }
  const char org_check = organization_code_check_character(code.substr(8, 8));
  if (code[16] != org_check) {
    return base::Status::invalid_argument(
        std::string("organisation code check character (position 17) should be '") + org_check +
        "', got '" + code[16] + "'");
  }
  const char check = uscc_check_character(code.substr(0, 17));
  if (code[17] != check) {
    return base::Status::invalid_argument(
        std::string("check character (position 18) should be '") + check + "', got '" +
        code[17] + "'");
  }
  return base::Status::ok();
}

}  // namespace ledger
