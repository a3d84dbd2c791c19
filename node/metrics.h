// Prometheus text metrics, served over plain HTTP (Boost.Beast) on metrics_listen.
//
// Counters and gauges are atomics, so any thread may update them; histograms use fixed
// microsecond buckets. Rendering reads them without stopping writers (values are each
// consistent, the page as a whole is approximate, as Prometheus expects).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"

namespace node {

class Histogram {
 public:
  // Upper bounds in microseconds.
  static constexpr std::array<uint64_t, 14> kBoundsUs = {
      100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
      5000000};
  void observe_us(uint64_t us);
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

struct Metrics {
  std::atomic<uint64_t> term{0};
  std::atomic<uint64_t> is_leader{0};
  std::atomic<uint64_t> leader_id{0};
  std::atomic<uint64_t> commit_index{0};
  std::atomic<uint64_t> applied_index{0};
  std::atomic<uint64_t> height{0};
  std::atomic<uint64_t> tree_size{0};
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> submits_refused{0};
  std::atomic<uint64_t> proposals{0};
  std::atomic<uint64_t> individual_queries{0};
  std::atomic<uint64_t> storage_degraded{0};  // 1 while the disk is full (read-only)
  Histogram submit_latency;
  Histogram query_latency;

  // The largest message this node sent on each path, in bytes: each path has a configured bound
  // (issue #12), and this shows how close it came. kRaft is one write of the peer stream (a
  // RaftBatch), kBlocks one block of a GetBlocks stream (block sync and auditors).
  enum class Path : size_t { kRaft, kBlocks, kCatchUp, kCosign, kForwardSubmit, kForwardRead };
  static constexpr size_t kPathCount = 6;
  static const char* path_name(Path path);
  void observe_message_bytes(Path path, uint64_t bytes);
  uint64_t message_bytes_max(Path path) const;

  void count_rejected(const std::string& reason);
  void set_peer_lag(uint64_t peer, uint64_t lag);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> rejected_by_reason_;  // GUARDED_BY(mu_)
  std::map<uint64_t, uint64_t> peer_lag_;               // GUARDED_BY(mu_)
  std::array<std::atomic<uint64_t>, kPathCount> message_bytes_max_{};
};

// Serves GET /metrics (and /healthz) on one thread until stopped.
class MetricsServer {
 public:
  explicit MetricsServer(const Metrics& metrics);
  ~MetricsServer();
  base::Status start(const std::string& host_port);
  void stop();

 private:
  struct Impl;
  const Metrics& metrics_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace node
