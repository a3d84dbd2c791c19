#include "tests/faults/history.h"

#include <chrono>
#include <sstream>

namespace faults {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kSubmit:
      return "submit";
    case OpKind::kReadLinearizable:
      return "read-linearizable";
    case OpKind::kReadLocal:
      return "read-local";
  }
  return "?";
}

std::string describe(const Op& op) {
  std::ostringstream o;
  o << "op " << op.id << " client " << op.client << " " << op_kind_name(op.kind) << " node "
    << op.node << " [" << op.start_us / 1000.0 << " ms, " << op.end_us / 1000.0 << " ms] "
    << (op.ok ? "ok" : "failed (" + op.error + ")");
  if (op.kind == OpKind::kSubmit) {
    o << " attempt " << op.attempt << " events";
    for (size_t i = 0; i < op.event_ids.size(); ++i) {
      o << " " << op.event_ids[i];
      if (i < op.receipts.size()) {
        const v1::Receipt& r = op.receipts[i];
        o << "@" << r.height() << "/" << r.index() << "#" << r.sequence();
      }
    }
  } else {
    o << " subject " << op.subject;
    if (op.ok) {
      o << " height " << op.height << " event_count " << op.event_count << " saw "
        << op.seen_event_ids.size() << " events";
    }
  }
  return o.str();
}

History::History() : origin_ns_(steady_ns()) {}

int64_t History::now_us() const { return (steady_ns() - origin_ns_) / 1000; }

void History::add(Op op) {
  std::lock_guard<std::mutex> lock(mu_);
  op.id = ops_.size();
  ops_.push_back(std::move(op));
}

std::vector<Op> History::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_;
}

}  // namespace faults
