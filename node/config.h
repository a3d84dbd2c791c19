// credd's configuration: one TOML file per node (deploy/node.example.toml shows every key).
//
// Every bound the node enforces (batch sizes, queue depths, message sizes, timeouts) is a named
// field here, checked by validate() at startup so that a bad value stops the node with a clear
// message instead of misbehaving later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "base/status.h"

namespace node {

// Room a message needs beside its payload (entry data, events): message headers, field tags,
// length prefixes. One payload bound plus this must fit in the next bound up:
//   batch.max_bytes (one block's events, one Raft entry)
//     + envelope <= raft.max_size_per_msg_bytes (one append message, one peer-stream write)
//     + envelope <= limits.grpc_max_message_bytes (any gRPC message, sent or received).
inline constexpr uint64_t kMessageEnvelopeBytes = 64ULL << 10;

// Events one signature-check task of the verify pool takes: small enough that a large batch
// spreads over every core, large enough that handing a task over costs little beside it.
inline constexpr size_t kVerifyChunkEvents = 64;

struct TlsConfig {
  std::string ca_file;    // consortium CA: verifies peers' and clients' certificates
  std::string cert_file;  // this node's certificate (CN "node:<id>")
  std::string key_file;
  // Development only: no TLS, roles taken from the x-credledger-role header. validate() refuses
  // it unless listen and metrics_listen are loopback addresses (is_loopback_address).
  bool insecure_plaintext = false;
};

struct RaftConfig {
  uint64_t tick_ms = 100;
  uint64_t election_ticks = 10;
  uint64_t heartbeat_ticks = 1;
  uint64_t max_inflight_msgs = 256;
  // Bytes of entries in one append message, and of one write on a peer's Raft stream (plus
  // kMessageEnvelopeBytes): a follower catching up gets many such messages back to back.
  uint64_t max_size_per_msg_bytes = 4ULL << 20;
  uint64_t max_uncommitted_bytes = 256ULL << 20;
  // Compact the Raft log automatically once this many entries are applied beyond the last
  // compaction point (0 = only on operator command).
  uint64_t auto_compact_entries = 100000;
};

struct BatchConfig {
  // A leader groups pending events into one Raft entry (one block) bounded by count, bytes and
  // delay, whichever comes first.
  uint64_t max_events = 2000;
  uint64_t max_bytes = 2ULL << 20;
  uint64_t max_delay_us = 2000;
  // Entries proposed but not yet committed before Submit answers RESOURCE_EXHAUSTED.
  uint64_t max_pending_events = 100000;
};

struct LimitsConfig {
  uint64_t grpc_max_message_bytes = 16ULL << 20;
  uint64_t max_events_per_submit = 1000;
  uint64_t max_subjects_per_check = 1000;
  uint64_t submit_timeout_ms = 10000;  // a submit not committed by then answers UNAVAILABLE
  uint64_t verify_threads = 0;         // 0 = number of cores
  uint64_t max_watchers = 10000;
  // Below this many free bytes on data_dir's file system the node stops writing: it refuses
  // Submit (RESOURCE_EXHAUSTED), takes no part in Raft and keeps serving reads, until space
  // returns (node/storage_faults.cc). Stopping short of a full disk leaves room for RocksDB's
  // flushes and keeps its write-ahead log from failing mid-record. 0 = only on a full disk.
  uint64_t min_free_disk_bytes = 256ULL << 20;
};

struct NodeConfig {
  uint64_t node_id = 0;
  std::string data_dir;
  std::string genesis_file;
  std::string agency_key_file;  // the node's agency signing key (checkpoints)
  std::string listen;           // host:port for clients and peers (gRPC)
  std::string metrics_listen;   // host:port for Prometheus text metrics; empty = off
  std::string log_level = "info";
  std::string log_format = "text";  // text, or json: one JSON object per line
  // How often the node cosigns its head checkpoint and asks its peers to cosign it too.
  uint64_t checkpoint_interval_ms = 1000;
  // Initial voters and their addresses (id -> host:port). Must include this node if it is a
  // founding member; a node that joins later lists the current members and sets join = true.
  std::map<uint64_t, std::string> peers;
  bool join = false;
  TlsConfig tls;
  RaftConfig raft;
  BatchConfig batch;
  LimitsConfig limits;

  base::Status validate() const;
};

// The defaults keep the relations validate() checks.
static_assert(BatchConfig{}.max_bytes + kMessageEnvelopeBytes <= RaftConfig{}.max_size_per_msg_bytes);
static_assert(RaftConfig{}.max_size_per_msg_bytes + kMessageEnvelopeBytes <=
              LimitsConfig{}.grpc_max_message_bytes);
static_assert(RaftConfig{}.max_uncommitted_bytes >= LimitsConfig{}.grpc_max_message_bytes);

// kInvalidArgument naming the file, key and problem.
base::Result<NodeConfig> load_config(const std::string& path);
base::Result<NodeConfig> parse_config(const std::string& toml_text, const std::string& origin);

// "127.0.0.1:7001" -> host, port; kInvalidArgument otherwise.
base::Status check_host_port(const std::string& address, const std::string& what);
// True if the host of "host:port" is loopback: 127.0.0.0/8, ::1 ("[::1]:port") or localhost.
bool is_loopback_address(const std::string& address);

}  // namespace node
