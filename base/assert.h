// Assertions for our own mistakes, on in every build type: stopping beats extending a wrong
// chain. Bad input from clients or peers is a Status, never an assertion.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace base::internal {
[[noreturn]] inline void assert_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "LEDGER_ASSERT failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}
}  // namespace base::internal

#define LEDGER_ASSERT(cond)                                                        \
  do {                                                                             \
    if (!(cond)) ::base::internal::assert_failed(#cond, __FILE__, __LINE__);       \
  } while (0)
