// Peer transport: Raft messages to other nodes over long-lived gRPC client streams.
//
// One sender thread per peer drains a bounded queue into that peer's PeerService.Raft stream,
// reconnecting with exponential back-off. The queue is only a buffer, never shared state: the
// Raft loop enqueues and forgets. When a queue is full, new messages are dropped; Raft already
// tolerates lost messages (it retries on heartbeats), and a dead peer must not grow our memory.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "consensus/raft.h"
#include "proto/api.grpc.pb.h"

namespace node {

namespace v1 = credledger::v1;

// Conversions between the core's messages and their wire form.
v1::RaftMessage encode_message(const consensus::Message& m);
base::Result<consensus::Message> decode_message(const v1::RaftMessage& m);

struct TransportOptions {
  size_t queue_messages_max = 4096;
  // Bounds of one write on a peer's stream (one RaftBatch): messages and encoded bytes. A
  // message larger than batch_bytes_max alone still goes, alone (its size is bounded where it is
  // made: consensus::Config::max_entry_bytes below limits.grpc_max_message_bytes).
  size_t batch_messages_max = 512;
  uint64_t batch_bytes_max = 4ULL << 20;
  // Called with the size of every batch written (metrics); may be empty.
  std::function<void(uint64_t bytes)> observe_write_bytes;
  uint64_t backoff_initial_ms = 50;
  uint64_t backoff_max_ms = 2000;
  // Headers sent on every stream (plaintext development mode names the node's role here).
  std::vector<std::pair<std::string, std::string>> metadata;
};

class PeerTransport {
 public:
  using ChannelFactory = std::function<std::shared_ptr<grpc::Channel>(const std::string& address)>;

  PeerTransport(consensus::NodeId self, ChannelFactory make_channel, TransportOptions options);
  ~PeerTransport();

  // Adds a peer or changes its address. Thread-safe.
  void set_peer(consensus::NodeId id, const std::string& address);
  void remove_peer(consensus::NodeId id);
  std::optional<std::string> address(consensus::NodeId id) const;
  std::map<consensus::NodeId, std::string> addresses() const;
  // A channel to the peer for other RPCs (forwarding, catch-up); null if unknown.
  std::shared_ptr<grpc::Channel> channel(consensus::NodeId id) const;

  // Queues messages for their destinations; unknown destinations are dropped.
  void send(const std::vector<consensus::Message>& messages);
  uint64_t dropped() const;
  void stop();

 private:
  struct Peer;
  void run(Peer* peer);

  const consensus::NodeId self_;
  const ChannelFactory make_channel_;
  const TransportOptions options_;
  mutable std::mutex mu_;
  std::map<consensus::NodeId, std::unique_ptr<Peer>> peers_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> dropped_{0};
  bool stopped_ = false;  // GUARDED_BY(mu_)
};

}  // namespace node
