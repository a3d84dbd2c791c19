// Fault-injecting TCP proxies for the links between credd nodes on 127.0.0.1.
//
// Each node dials each peer over gRPC (the Raft stream, CatchUp, Cosign, forwarded Submit and
// reads), always on connections it opens itself. The fault harness gives every directed link
// i -> j its own proxy (a listening port on 127.0.0.1 that forwards to j's real address) and
// writes that port into i's [peers]; cutting the proxy for i -> j silences everything i says to
// j while j -> i still works (a one-way partition); cutting both is a full one.
//
// Modes of a link:
//   kPass       bytes flow both ways on every connection;
//   kRefuse     existing connections are closed and new ones are accepted and closed at once
//               (the peer sees resets: a crashed or firewalled host with REJECT);
//   kBlackhole  connections stay open but nothing is read or written, new ones are accepted
//               and left silent (a cable pulled, a firewall with DROP); when the link passes
//               again, held bytes are delivered, as TCP would after the network heals.
//
// Threads: one Asio thread owned by the ProxyNet runs every connection. add_link and set_mode
// may be called from any thread; set_mode returns once the new mode is in force.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

// After <utility>: this Boost.Asio uses std::exchange without including it.
#include <boost/asio.hpp>

namespace faults {

enum class LinkMode { kPass, kRefuse, kBlackhole };
const char* link_mode_name(LinkMode mode);

class ProxyNet {
 public:
  ProxyNet();
  // Closes every connection and joins the thread.
  ~ProxyNet();
  ProxyNet(const ProxyNet&) = delete;
  ProxyNet& operator=(const ProxyNet&) = delete;

  // Listens on a fresh 127.0.0.1 port for the link from -> to, forwarding to `target`
  // ("127.0.0.1:port"). Returns the listening address. The link starts in kPass.
  std::string add_link(uint64_t from, uint64_t to, const std::string& target);
  // REQUIRES: the link was added.
  void set_mode(uint64_t from, uint64_t to, LinkMode mode);

  // Connections accepted over the whole run, and those closed because a link was cut.
  uint64_t connections_accepted() const { return accepted_.load(); }
  uint64_t connections_cut() const { return cut_.load(); }

 private:
  struct Link;
  struct Connection;
  void accept_next(const std::shared_ptr<Link>& link);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<Link>> links_;  // io thread only
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> cut_{0};
  std::thread thread_;
};

}  // namespace faults
