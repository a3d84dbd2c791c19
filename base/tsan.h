// Happens-before edges that ThreadSanitizer cannot see by itself.
#pragma once

#include <utility>

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace base {

// Debian's gRPC is not built with ThreadSanitizer, so TSan does not see the locks inside it
// that order one callback of a call after another on a different thread (gRPC guarantees, for
// instance, that a reactor's OnDone runs after all its other reactions). Objects gRPC creates on
// one thread and destroys on another mark the hand-off with these: tsan_release(this) after the
// last write of one side, tsan_acquire(this) before the first access of the other. Only in the
// SANITIZE=thread build; elsewhere they compile to nothing.
inline void tsan_release(const void* object) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(object));
#else
  (void)object;
#endif
}

inline void tsan_acquire(const void* object) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(object));
#else
  (void)object;
#endif
}

// For the body of a gRPC reaction (OnReadDone, OnWriteDone, Intercept, ...): sees what earlier
// reactions and the thread that started the operation did, and hands on what this one does.
class TsanReaction {
 public:
  explicit TsanReaction(const void* object) : object_(object) { tsan_acquire(object_); }
  ~TsanReaction() { tsan_release(object_); }
  TsanReaction(const TsanReaction&) = delete;
  TsanReaction& operator=(const TsanReaction&) = delete;

 private:
  const void* object_;
};

// Wraps a callback handed to gRPC (an async client call's completion): the callback object
// travels from our thread into gRPC's std::function and is run and destroyed on a gRPC thread.
// Each copy or move acquires from the old object and releases on the new one, and running or
// destroying it acquires first, so reads of its captures are ordered after their writes. Outside
// the SANITIZE=thread build it is the callback itself.
#if defined(__SANITIZE_THREAD__)
template <typename F>
class TsanHandoff {
 public:
  explicit TsanHandoff(F f) : f_(std::move(f)) { tsan_release(this); }
  TsanHandoff(const TsanHandoff& other) : f_((tsan_acquire(&other), other.f_)) {
    tsan_release(this);
  }
  TsanHandoff(TsanHandoff&& other) noexcept : f_((tsan_acquire(&other), std::move(other.f_))) {
    tsan_release(this);
  }
  TsanHandoff& operator=(const TsanHandoff&) = delete;
  TsanHandoff& operator=(TsanHandoff&&) = delete;
  ~TsanHandoff() { tsan_acquire(this); }

  template <typename... Args>
  decltype(auto) operator()(Args&&... args) const {
    tsan_acquire(this);
    return f_(std::forward<Args>(args)...);
  }

 private:
  F f_;
};
template <typename F>
TsanHandoff<F> tsan_handoff(F f) {
  return TsanHandoff<F>(std::move(f));
}
#else
template <typename F>
F tsan_handoff(F f) {
  return f;
}
#endif

}  // namespace base
