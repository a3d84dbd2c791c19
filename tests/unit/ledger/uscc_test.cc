// Unified Social Credit Code validation (GB 32100-2015): real published codes pass, and every way
// a code can be wrong (length, alphabet, division digits, organisation-code check, final check)
// is refused with a message that names the problem. Codes made by the generators pass too.
#include <catch2/catch.hpp>
#include <string>

#include "ledger/uscc.h"
#include "tests/unit/ledger/fixture.h"

namespace {

using ledger::check_uscc;

// Codes as published in the national enterprise credit information publicity system.
const char* const kRealCodes[] = {
    "91350100M000100Y43",  // the standard's worked example (Fuzhou)
    "914403001922038216",  // Huawei Technologies Co., Ltd.
    "91440300192317458F",  // BYD Co., Ltd.
    "91440300100012316L",  // Ping An Insurance (Group) Company of China
    "9144030010001686XA",  // China Merchants Bank
    "91440300192181490G",  // China Vanke Co., Ltd.
    "9144030027939873X7",  // ZTE Corporation
    "911000001000013428",  // Bank of China
    "91100000100003962T",  // Industrial and Commercial Bank of China
    "9144030071526726XG",  // Shenzhen Tencent Computer Systems Co., Ltd.
    "91110108551385082Q",  // Beijing Xiaomi Technology Co., Ltd.
};

}  // namespace

TEST_CASE("real published unified social credit codes are valid", "[ledger][uscc]") {
  for (const char* code : kRealCodes) {
    INFO(code);
    base::Status s = check_uscc(code);
    INFO(s.to_string());
    CHECK(s.is_ok());
  }
}

TEST_CASE("check characters computed by the library reproduce real codes", "[ledger][uscc]") {
  for (std::string code : kRealCodes) {
    INFO(code);
    CHECK(ledger::organization_code_check_character(code.substr(8, 8)) == code[16]);
    CHECK(ledger::uscc_check_character(code.substr(0, 17)) == code[17]);
  }
}

TEST_CASE("generated test subjects are valid codes", "[ledger][uscc]") {
  for (uint64_t n = 0; n < 2000; ++n) {
    const std::string code = ledger_test::uscc_for(n * 7919);
    INFO(code);
    REQUIRE(check_uscc(code).is_ok());
  }
  CHECK(check_uscc(ledger_test::social_organization(42).id()).is_ok());
}

TEST_CASE("a code of the wrong length is refused and the length named", "[ledger][uscc]") {
  for (std::string code : {std::string(""), std::string("91350100M000100Y4"),
                           std::string("91350100M000100Y433"), std::string(36, '9')}) {
    INFO(code);
    base::Status s = check_uscc(code);
    REQUIRE(s.code() == base::Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("18 characters"));
    CHECK_THAT(s.message(), Catch::Contains("got " + std::to_string(code.size())));
  }
}

TEST_CASE("letters I O S V Z, lower case and symbols are refused with their position",
          "[ledger][uscc]") {
  const std::string valid = "91350100M000100Y43";
  for (char bad : {'I', 'O', 'S', 'V', 'Z', 'm', '-', ' '}) {
    for (size_t pos : {0u, 8u, 15u, 17u}) {
      std::string code = valid;
      code[pos] = bad;
      INFO(code);
      base::Status s = check_uscc(code);
      REQUIRE(s.code() == base::Code::kInvalidArgument);
      CHECK_THAT(s.message(), Catch::Contains("position " + std::to_string(pos + 1)));
      CHECK_THAT(s.message(), Catch::Contains("alphabet"));
    }
  }
}

TEST_CASE("a letter in the administrative division code is refused", "[ledger][uscc]") {
  for (size_t pos = 2; pos < 8; ++pos) {
    std::string code = "91350100M000100Y43";
    code[pos] = 'A';
    INFO(code);
    base::Status s = check_uscc(code);
    REQUIRE(s.code() == base::Code::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::Contains("administrative division"));
    CHECK_THAT(s.message(), Catch::Contains("position " + std::to_string(pos + 1)));
  }
}

TEST_CASE("a wrong organisation-code check character is refused", "[ledger][uscc]") {
  std::string code = "914403001922038216";
  code[16] = code[16] == '1' ? '2' : '1';
  // Keep the final check right so that only the organisation-code check is wrong.
  code[17] = ledger::uscc_check_character(std::string_view(code).substr(0, 17));
  base::Status s = check_uscc(code);
  REQUIRE(s.code() == base::Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("organisation code check character"));
  CHECK_THAT(s.message(), Catch::Contains("should be '1'"));
}

TEST_CASE("a wrong final check character is refused and the right one named", "[ledger][uscc]") {
  for (const char* real : kRealCodes) {
    const std::string valid = real;
    for (char c : std::string_view("0123456789ABCDEFGHJKLMNPQRTUWXY")) {
      if (c == valid[17]) continue;
      std::string code = valid;
      code[17] = c;
      INFO(code);
      base::Status s = check_uscc(code);
      REQUIRE(s.code() == base::Code::kInvalidArgument);
      CHECK_THAT(s.message(), Catch::Contains("position 18"));
      CHECK_THAT(s.message(), Catch::Contains(std::string("should be '") + valid[17] + "'"));
    }
  }
}

TEST_CASE("a single changed character in the body is caught by a check character",
          "[ledger][uscc]") {
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  for (const char* real : kRealCodes) {
    for (size_t pos = 0; pos < 17; ++pos) {
      for (char c : alphabet) {
        std::string code = real;
        if (code[pos] == c) continue;
        if (pos >= 2 && pos < 8 && (c < '0' || c > '9')) continue;  // division: digits only
        code[pos] = c;
        INFO(code);
        CHECK_FALSE(check_uscc(code).is_ok());
      }
    }
  }
}

TEST_CASE("two adjacent characters swapped are caught", "[ledger][uscc]") {
  for (const char* real : kRealCodes) {
    for (size_t pos = 0; pos + 1 < 18; ++pos) {
      std::string code = real;
      if (code[pos] == code[pos + 1]) continue;
      std::swap(code[pos], code[pos + 1]);
      INFO(code);
      CHECK_FALSE(check_uscc(code).is_ok());
    }
  }
}
