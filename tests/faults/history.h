// The record of every client operation of a fault run: what was asked of which node, when it
// started and ended (microseconds on one steady clock from the start of the run), and what came
// back. The checker (checker.h) judges the cluster against it after the run.
//
// Threads: History::add may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "proto/api.pb.h"

namespace faults {

namespace v1 = credledger::v1;

enum class OpKind { kSubmit, kReadLinearizable, kReadLocal };
const char* op_kind_name(OpKind kind);

struct Op {
  uint64_t id = 0;
  size_t client = 0;
  OpKind kind = OpKind::kSubmit;
  uint64_t node = 0;  // the node the client called
  int64_t start_us = 0;
  int64_t end_us = 0;
  // ok: the node answered OK. A failed submit may still have committed (timeouts, a leader lost
  // mid-call): the checker treats its events as "at most once".
  bool ok = false;
  std::string error;  // the gRPC status of a failed call
  int attempt = 0;    // submits: 0 for the first try of these events, then 1, 2, ...

  // kSubmit: the events, their subjects (ledger_test::enterprise numbers) and, when ok, one
  // receipt per event in request order.
  std::vector<std::string> event_ids;
  std::vector<uint64_t> event_subjects;
  std::vector<v1::Receipt> receipts;

  // Reads: the subject asked about and what the answer showed: every active penalty and
  // blacklist entry (all events of the harness stay active), the accepted-event count and the
  // height the view was at.
  uint64_t subject = 0;
  std::vector<std::string> seen_event_ids;
  uint32_t event_count = 0;
  uint64_t height = 0;
};

// One line describing an operation, for failure reports.
std::string describe(const Op& op);

class History {
 public:
  History();
  // Microseconds since the History was made.
  int64_t now_us() const;
  // Assigns the op its id and keeps it.
  void add(Op op);
  std::vector<Op> snapshot() const;

 private:
  const int64_t origin_ns_;
  mutable std::mutex mu_;
  std::vector<Op> ops_;  // GUARDED_BY(mu_)
};

}  // namespace faults
