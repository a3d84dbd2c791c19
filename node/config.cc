#include "node/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace node {

base::Status check_host_port(const std::string& address, const std::string& what) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return base::Status::invalid_argument(what + " '" + address + "' is not host:port");
  }
  const std::string port = address.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) == 0 || std::stoul(port) > 65535) {
    return base::Status::invalid_argument(what + " '" + address + "' has an invalid port");
  }
  return base::Status::ok();
}

bool is_loopback_address(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    static const in6_addr kLoopback = IN6ADDR_LOOPBACK_INIT;
    return std::memcmp(&v6, &kLoopback, sizeof v6) == 0;  // ::1
  }
  return false;
}

base::Status NodeConfig::validate() const {
  auto bad = [](const std::string& m) { return base::Status::invalid_argument(m); };
  if (node_id == 0) return bad("node_id must be a positive integer");
  if (data_dir.empty()) return bad("data_dir is required");
  if (genesis_file.empty()) return bad("genesis is required");
  RETURN_IF_ERROR(check_host_port(listen, "listen"));
  if (!metrics_listen.empty()) RETURN_IF_ERROR(check_host_port(metrics_listen, "metrics_listen"));
  if (checkpoint_interval_ms < 10) return bad("checkpoint_interval_ms must be at least 10");
  if (peers.empty()) return bad("[peers] must list the cluster's members (id = \"host:port\")");
  for (const auto& [id, address] : peers) {
    if (id == 0) return bad("peer id 0 is reserved");
    RETURN_IF_ERROR(check_host_port(address, "peer " + std::to_string(id)));
  }
  if (!join && peers.count(node_id) == 0) {
    return bad("[peers] must include this node (" + std::to_string(node_id) +
               ") unless join = true");
  }
  if (!tls.insecure_plaintext &&
      (tls.ca_file.empty() || tls.cert_file.empty() || tls.key_file.empty())) {
    return bad("[tls] needs ca, cert and key (or insecure_plaintext = true for local development)");
  }
  if (tls.insecure_plaintext) {
    // Without TLS a caller's role is whatever its x-credledger-role header claims, so a port
    // that other machines can reach would let anyone act as an operator or an agency.
    for (const auto& [what, address] :
         {std::pair<const char*, const std::string&>{"listen", listen},
          {"metrics_listen", metrics_listen}}) {
      if (address.empty() || is_loopback_address(address)) continue;
      return bad(std::string(what) + " '" + address +
                 "' is not a loopback address (127.0.0.0/8, ::1 or localhost); with [tls] "
                 "insecure_plaintext = true a caller's role comes from its x-credledger-role "
                 "header, so anyone who reached this port could act as an operator or an "
                 "agency. Configure [tls] ca, cert and key, or listen on loopback only");
    }
  }
  if (raft.tick_ms == 0 || raft.tick_ms > 10000) return bad("raft.tick_ms must be in 1..10000");
  if (raft.election_ticks <= raft.heartbeat_ticks) {
    return bad("raft.election_ticks must exceed raft.heartbeat_ticks");
  }
  if (batch.max_events == 0 || batch.max_bytes == 0) {
    return bad("batch.max_events and batch.max_bytes must be positive");
  }
  // A whole batch travels in one Raft entry, so in one append message and one gRPC message.
  if (batch.max_bytes + kMessageEnvelopeBytes > limits.grpc_max_message_bytes) {
    return bad("batch.max_bytes must stay 64 KiB below limits.grpc_max_message_bytes");
  }
  if (raft.max_size_per_msg_bytes + kMessageEnvelopeBytes > limits.grpc_max_message_bytes) {
    return bad("raft.max_size_per_msg_bytes must stay 64 KiB below limits.grpc_max_message_bytes");
  }
  if (batch.max_bytes + kMessageEnvelopeBytes > raft.max_size_per_msg_bytes) {
    return bad("batch.max_bytes must stay 64 KiB below raft.max_size_per_msg_bytes (a block's "
               "entry goes in one append message)");
  }
  // A proposal the size of one gRPC message must fit in the leader's uncommitted budget.
  if (raft.max_uncommitted_bytes < limits.grpc_max_message_bytes) {
    return bad("raft.max_uncommitted_bytes must be at least limits.grpc_max_message_bytes");
  }
  static const char* const kLevels[] = {"trace", "debug", "info", "warning", "warn",
                                        "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), log_level) == std::end(kLevels)) {
    return bad("log_level '" + log_level +
               "' is not one of trace, debug, info, warning, error, critical, off");
  }
  if (log_format != "text" && log_format != "json") {
    return bad("log_format '" + log_format + "' is not text or json");
  }
  if (limits.max_events_per_submit == 0 || limits.max_subjects_per_check == 0) {
    return bad("limits.max_events_per_submit and max_subjects_per_check must be positive");
  }
  return base::Status::ok();
}

base::Result<NodeConfig> parse_config(const std::string& text, const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << origin << ": " << e.description() << " (line " << e.source().begin.line << ")";
    return base::Status::invalid_argument(msg.str());
  }
  NodeConfig c;
  std::string error;
  auto fail = [&](const std::string& key, const std::string& what) {
    if (error.empty()) error = origin + ": " + key + " " + what;
  };
  auto get_u64 = [&](const toml::node_view<toml::node>& v, const std::string& key, uint64_t& out) {
    if (!v) return;
    // value_exact: value<int64_t>() would also convert a float, and casting one beyond the
    // int64 range is undefined behaviour inside toml++ (found by tests/fuzz).
    auto i = v.value_exact<int64_t>();
    if (!i || *i < 0) return fail(key, "must be a non-negative integer");
    out = static_cast<uint64_t>(*i);
  };
  auto get_str = [&](const toml::node_view<toml::node>& v, const std::string& key,
                     std::string& out) {
    if (!v) return;
    auto s = v.value<std::string>();
    if (!s) return fail(key, "must be a string");
    out = *s;
  };
  auto get_bool = [&](const toml::node_view<toml::node>& v, const std::string& key, bool& out) {
    if (!v) return;
    auto b = v.value<bool>();
    if (!b) return fail(key, "must be true or false");
    out = *b;
  };

  get_u64(t["node_id"], "node_id", c.node_id);
  get_str(t["data_dir"], "data_dir", c.data_dir);
  get_str(t["genesis"], "genesis", c.genesis_file);
  get_str(t["agency_key"], "agency_key", c.agency_key_file);
  get_str(t["listen"], "listen", c.listen);
  get_str(t["metrics_listen"], "metrics_listen", c.metrics_listen);
  get_str(t["log_level"], "log_level", c.log_level);
  get_str(t["log_format"], "log_format", c.log_format);
  get_u64(t["checkpoint_interval_ms"], "checkpoint_interval_ms", c.checkpoint_interval_ms);
  get_bool(t["join"], "join", c.join);
  if (auto* peers = t["peers"].as_table()) {
    for (const auto& [key, value] : *peers) {
      const std::string k(key.str());
      uint64_t id = 0;
      // from_chars, not stoull: a 30-digit key must be a config error, not an exception.
      const auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), id);
      if (k.empty() || k.find_first_not_of("0123456789") != std::string::npos ||
          ec != std::errc() || end != k.data() + k.size()) {
        fail("peers." + k, "must be a numeric node id below 2^64");
        continue;
      }
      auto address = value.value<std::string>();
      if (!address) {
        fail("peers." + k, "must be a \"host:port\" string");
        continue;
      }
      c.peers[id] = *address;
    }
  } else if (t.contains("peers")) {
    fail("peers", "must be a table of id = \"host:port\"");
  }
  get_str(t["tls"]["ca"], "tls.ca", c.tls.ca_file);
  get_str(t["tls"]["cert"], "tls.cert", c.tls.cert_file);
  get_str(t["tls"]["key"], "tls.key", c.tls.key_file);
  get_bool(t["tls"]["insecure_plaintext"], "tls.insecure_plaintext", c.tls.insecure_plaintext);
  get_u64(t["raft"]["tick_ms"], "raft.tick_ms", c.raft.tick_ms);
  get_u64(t["raft"]["election_ticks"], "raft.election_ticks", c.raft.election_ticks);
  get_u64(t["raft"]["heartbeat_ticks"], "raft.heartbeat_ticks", c.raft.heartbeat_ticks);
  get_u64(t["raft"]["max_inflight_msgs"], "raft.max_inflight_msgs", c.raft.max_inflight_msgs);
  get_u64(t["raft"]["max_size_per_msg_bytes"], "raft.max_size_per_msg_bytes",
          c.raft.max_size_per_msg_bytes);
  get_u64(t["raft"]["max_uncommitted_bytes"], "raft.max_uncommitted_bytes",
          c.raft.max_uncommitted_bytes);
  get_u64(t["raft"]["auto_compact_entries"], "raft.auto_compact_entries",
          c.raft.auto_compact_entries);
  get_u64(t["batch"]["max_events"], "batch.max_events", c.batch.max_events);
  get_u64(t["batch"]["max_bytes"], "batch.max_bytes", c.batch.max_bytes);
  get_u64(t["batch"]["max_delay_us"], "batch.max_delay_us", c.batch.max_delay_us);
  get_u64(t["batch"]["max_pending_events"], "batch.max_pending_events", c.batch.max_pending_events);
  get_u64(t["limits"]["grpc_max_message_bytes"], "limits.grpc_max_message_bytes",
          c.limits.grpc_max_message_bytes);
  get_u64(t["limits"]["max_events_per_submit"], "limits.max_events_per_submit",
          c.limits.max_events_per_submit);
  get_u64(t["limits"]["max_subjects_per_check"], "limits.max_subjects_per_check",
          c.limits.max_subjects_per_check);
  get_u64(t["limits"]["submit_timeout_ms"], "limits.submit_timeout_ms",
          c.limits.submit_timeout_ms);
  get_u64(t["limits"]["verify_threads"], "limits.verify_threads", c.limits.verify_threads);
  get_u64(t["limits"]["max_watchers"], "limits.max_watchers", c.limits.max_watchers);
  get_u64(t["limits"]["min_free_disk_bytes"], "limits.min_free_disk_bytes",
          c.limits.min_free_disk_bytes);
  if (!error.empty()) return base::Status::invalid_argument(error);
  if (auto s = c.validate(); !s.is_ok()) return s.with_context(origin);
  return c;
}

base::Result<NodeConfig> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return base::Status::not_found("cannot open config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace node
