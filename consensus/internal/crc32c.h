// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every record the
// RocksDB log store writes. Table driven, one byte at a time: log records are small and the
// store's cost is the synced write, not the checksum. crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstdint>
#include <string_view>

namespace consensus::internal {

// The CRC-32C of `data` continued from `crc`, the CRC of the bytes before it (0 for none), so
// crc32c_extend(crc32c(a), b) == crc32c(a + b).
uint32_t crc32c_extend(uint32_t crc, std::string_view data);

inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

}  // namespace consensus::internal
