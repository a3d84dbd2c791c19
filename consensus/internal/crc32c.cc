#include "consensus/internal/crc32c.h"

#include <array>

namespace consensus::internal {
namespace {

constexpr uint32_t kPolynomialReflected = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) != 0 ? (crc >> 1) ^ kPolynomialReflected : crc >> 1;
    }
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  // The standard pre- and post-inversion, so extending composes.
  uint32_t state = ~crc;
  for (const char c : data) {
    state = kTable[(state ^ static_cast<uint8_t>(c)) & 0xFFu] ^ (state >> 8);
  }
  return ~state;
}

}  // namespace consensus::internal
