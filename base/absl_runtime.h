// Runtime settings for the abseil library inside gRPC.
#pragma once

#include <absl/synchronization/mutex.h>

namespace base {

// gRPC locks absl::Mutex on every call, and Debian's abseil is built with deadlock detection
// on: each lock updates a global lock graph and may record a stack trace. Under query load
// that was 5% of a node's CPU (perf: GraphCycles::GetId, UpdateStackTrace). It is a debugging
// aid for abseil's users; our own code does not use absl::Mutex. Call once, first thing.
inline void disable_absl_deadlock_detection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace base
