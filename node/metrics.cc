#include "node/metrics.h"

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sstream>

namespace node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

void Histogram::observe_us(uint64_t us) {
  size_t i = 0;
  while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::ostringstream out;
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsUs.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out << name << "_bucket{le=\"" << static_cast<double>(kBoundsUs[i]) / 1e6 << "\"} "
        << cumulative << "\n";
  }
  cumulative += buckets_[kBoundsUs.size()].load(std::memory_order_relaxed);
  out << name << "_bucket{le=\"+Inf\"} " << cumulative << "\n";
  out << name << "_sum " << static_cast<double>(sum_us_.load()) / 1e6 << "\n";
  out << name << "_count " << count_.load() << "\n";
  return out.str();
}

void Metrics::count_rejected(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++rejected_by_reason_[reason];
}

void Metrics::set_peer_lag(uint64_t peer, uint64_t lag) {
  std::lock_guard<std::mutex> lock(mu_);
  peer_lag_[peer] = lag;
}

const char* Metrics::path_name(Path path) {
  switch (path) {
    case Path::kRaft: return "raft";
    case Path::kBlocks: return "blocks";
    case Path::kCatchUp: return "catch_up";
    case Path::kCosign: return "cosign";
    case Path::kForwardSubmit: return "forward_submit";
    case Path::kForwardRead: return "forward_read";
  }
  return "unknown";
}

void Metrics::observe_message_bytes(Path path, uint64_t bytes) {
  std::atomic<uint64_t>& max = message_bytes_max_[static_cast<size_t>(path)];
  uint64_t seen = max.load();
  while (bytes > seen && !max.compare_exchange_weak(seen, bytes)) {
  }
}

uint64_t Metrics::message_bytes_max(Path path) const {
  return message_bytes_max_[static_cast<size_t>(path)].load();
}

std::string Metrics::render() const {
  std::ostringstream out;
  auto gauge = [&](const char* name, const char* help, uint64_t v) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
        << name << " " << v << "\n";
  };
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << v << "\n";
  };
  gauge("credledger_raft_term", "Current Raft term.", term.load());
  gauge("credledger_raft_is_leader", "1 if this node is the leader.", is_leader.load());
  gauge("credledger_raft_leader_id", "Node id of the known leader (0 = none).", leader_id.load());
  gauge("credledger_raft_commit_index", "Raft commit index.", commit_index.load());
  gauge("credledger_raft_applied_index", "Last Raft index applied to the ledger.",
        applied_index.load());
  gauge("credledger_chain_height", "Height of the last applied block.", height.load());
  gauge("credledger_merkle_tree_size", "Accepted events in the Merkle log.", tree_size.load());
  counter("credledger_events_accepted_total", "Events accepted into blocks.",
          events_accepted.load());
  counter("credledger_submits_refused_total", "Submit calls refused before consensus.",
          submits_refused.load());
  counter("credledger_proposals_total", "Raft entries proposed by this node as leader.",
          proposals.load());
  gauge("credledger_storage_degraded",
        "1 while this node refuses writes because its disk is full.", storage_degraded.load());
  counter("credledger_individual_queries_total", "Queries about individuals (access-logged).",
          individual_queries.load());
  {
    std::lock_guard<std::mutex> lock(mu_);
    out << "# HELP credledger_events_rejected_total Events rejected, by reason.\n"
        << "# TYPE credledger_events_rejected_total counter\n";
    for (const auto& [reason, n] : rejected_by_reason_) {
      out << "credledger_events_rejected_total{reason=\"" << reason << "\"} " << n << "\n";
    }
    out << "# HELP credledger_peer_lag_entries Leader's view of each follower's lag.\n"
        << "# TYPE credledger_peer_lag_entries gauge\n";
    for (const auto& [peer, lag] : peer_lag_) {
      out << "credledger_peer_lag_entries{peer=\"" << peer << "\"} " << lag << "\n";
    }
  }
  out << "# HELP credledger_message_bytes_max Largest message sent, by path.\n"
      << "# TYPE credledger_message_bytes_max gauge\n";
  for (size_t i = 0; i < kPathCount; ++i) {
    out << "credledger_message_bytes_max{path=\"" << path_name(static_cast<Path>(i)) << "\"} "
        << message_bytes_max_[i].load() << "\n";
  }
  out << submit_latency.render("credledger_submit_latency_seconds",
                               "Submit latency from receipt to answer.");
  out << query_latency.render("credledger_query_latency_seconds", "Status query latency.");
  return out.str();
}

struct MetricsServer::Impl {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  asio::ip::tcp::endpoint endpoint;
  std::atomic<bool> stopping{false};
  std::thread thread;
};

MetricsServer::MetricsServer(const Metrics& metrics) : metrics_(metrics) {}

MetricsServer::~MetricsServer() { stop(); }

base::Status MetricsServer::start(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  impl_ = std::make_unique<Impl>();
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host_port.substr(0, colon), ec);
  if (ec) return base::Status::invalid_argument("metrics_listen host: " + ec.message());
  const asio::ip::tcp::endpoint endpoint(
      address, static_cast<unsigned short>(std::stoul(host_port.substr(colon + 1))));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return base::Status::unavailable("cannot listen for metrics on " + host_port + ": " +
                                     ec.message());
  }
  impl_->endpoint = impl_->acceptor.local_endpoint(ec);
  impl_->thread = std::thread([this] {
    // One request per connection, answered synchronously: metrics scrapes are rare and small.
    for (;;) {
      boost::system::error_code ec2;
      asio::ip::tcp::socket socket(impl_->io);
      impl_->acceptor.accept(socket, ec2);
      if (impl_->stopping.load()) return;
      if (ec2) continue;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec2);
      if (ec2) continue;
      http::response<http::string_body> response;
      response.version(request.version());
      response.keep_alive(false);
      if (request.target() == "/metrics") {
        response.result(http::status::ok);
        response.set(http::field::content_type, "text/plain; version=0.0.4");
        response.body() = metrics_.render();
      } else if (request.target() == "/healthz") {
        response.result(http::status::ok);
        response.body() = "ok\n";
      } else {
        response.result(http::status::not_found);
        response.body() = "try /metrics\n";
      }
      response.prepare_payload();
      http::write(socket, response, ec2);
      socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec2);
    }
  });
  return base::Status::ok();
}

void MetricsServer::stop() {
  if (!impl_) return;
  boost::system::error_code ec;
  // A blocking accept() is not woken by closing the acceptor from another thread: connect to
  // it once so that it returns and sees the flag.
  impl_->stopping.store(true);
  if (impl_->thread.joinable()) {
    asio::io_context io;
    asio::ip::tcp::socket poke(io);
    poke.connect(impl_->endpoint, ec);
    impl_->thread.join();
  }
  impl_->acceptor.close(ec);
  impl_.reset();
}

}  // namespace node
