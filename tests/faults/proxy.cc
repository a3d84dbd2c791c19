// Byte-pumping TCP proxies on one Asio thread. Every connection pumps its two directions
// independently (read some, write all, repeat); a direction stops before its next read or write
// while its link is not in kPass, and resumes from where it stopped when the link passes again.
#include "tests/faults/proxy.h"

#include <array>
#include <future>
#include <set>
#include <stdexcept>

namespace faults {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

const char* link_mode_name(LinkMode mode) {
  switch (mode) {
    case LinkMode::kPass:
      return "pass";
    case LinkMode::kRefuse:
      return "refuse";
    case LinkMode::kBlackhole:
      return "blackhole";
  }
  return "?";
}

namespace {

// Runs `fn` on the io thread and waits for it.
template <typename Fn>
auto on_io(asio::io_context& io, Fn fn) -> decltype(fn()) {
  std::packaged_task<decltype(fn())()> task(std::move(fn));
  auto result = task.get_future();
  asio::post(io, [&task] { task(); });
  return result.get();
}

}  // namespace

struct ProxyNet::Link {
  explicit Link(asio::io_context& io) : acceptor(io) {}
  tcp::acceptor acceptor;
  tcp::endpoint target;
  LinkMode mode = LinkMode::kPass;
  std::set<std::shared_ptr<Connection>> connections;
};

// Invariant: `stalled[d]` is true iff direction d has no read or write outstanding and waits
// for the link to pass; then `pending[d]` bytes of `buffer[d]` are read but not yet written.
// Direction 0 is client -> target, 1 is target -> client.
struct ProxyNet::Connection : std::enable_shared_from_this<Connection> {
  Connection(asio::io_context& io, std::shared_ptr<Link> l, ProxyNet* n)
      : client(io), upstream(io), link(std::move(l)), net(n) {}

  tcp::socket client;
  tcp::socket upstream;
  std::shared_ptr<Link> link;
  ProxyNet* net;
  bool connected = false;
  bool connecting = false;
  bool closed = false;
  std::array<std::array<char, 64 * 1024>, 2> buffer;
  std::array<size_t, 2> pending{0, 0};
  std::array<bool, 2> stalled{false, false};

  tcp::socket& source(int d) { return d == 0 ? client : upstream; }
  tcp::socket& sink(int d) { return d == 0 ? upstream : client; }

  void start() {
    if (link->mode != LinkMode::kPass) {
      stalled = {true, true};  // connect once the link passes
      return;
    }
    connect();
  }

  void connect() {
    connecting = true;
    auto self = shared_from_this();
    upstream.async_connect(link->target, [self](const boost::system::error_code& ec) {
      self->connecting = false;
      if (ec || self->closed) return self->close();
      boost::system::error_code ignored;
      self->upstream.set_option(tcp::no_delay(true), ignored);
      self->connected = true;
      self->stalled = {false, false};
      self->read(0);
      self->read(1);
    });
  }

  void read(int d) {
    if (closed) return;
    if (link->mode != LinkMode::kPass) {
      stalled[d] = true;
      return;
    }
    auto self = shared_from_this();
    source(d).async_read_some(asio::buffer(buffer[d]),
                              [self, d](const boost::system::error_code& ec, size_t n) {
                                if (ec) return self->close();
                                self->write(d, n);
                              });
  }

  void write(int d, size_t n) {
    if (closed) return;
    if (link->mode != LinkMode::kPass) {
      pending[d] = n;
      stalled[d] = true;
      return;
    }
    auto self = shared_from_this();
    asio::async_write(sink(d), asio::buffer(buffer[d].data(), n),
                      [self, d](const boost::system::error_code& ec, size_t) {
                        if (ec) return self->close();
                        self->read(d);
                      });
  }

  // The link passes again: pick up each stalled direction where it stopped.
  void resume() {
    if (closed) return;
    if (!connected) {
      if (!connecting) connect();
      return;
    }
    for (int d = 0; d < 2; ++d) {
      if (!stalled[d]) continue;
      stalled[d] = false;
      const size_t n = pending[d];
      pending[d] = 0;
      if (n > 0) {
        write(d, n);
      } else {
        read(d);
      }
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    client.shutdown(tcp::socket::shutdown_both, ignored);
    client.close(ignored);
    upstream.shutdown(tcp::socket::shutdown_both, ignored);
    upstream.close(ignored);
    link->connections.erase(shared_from_this());
  }
};

ProxyNet::ProxyNet() : work_(asio::make_work_guard(io_)) {
  thread_ = std::thread([this] { io_.run(); });
}

ProxyNet::~ProxyNet() {
  on_io(io_, [this] {
    for (auto& [key, link] : links_) {
      boost::system::error_code ignored;
      link->acceptor.close(ignored);
      const auto connections = link->connections;  // close() erases from the set
      for (const auto& c : connections) c->close();
    }
    return 0;
  });
  work_.reset();
  io_.stop();
  thread_.join();
}

std::string ProxyNet::add_link(uint64_t from, uint64_t to, const std::string& target) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("target without port: " + target);
  const tcp::endpoint endpoint(asio::ip::make_address(target.substr(0, colon)),
                               static_cast<uint16_t>(std::stoul(target.substr(colon + 1))));
  return on_io(io_, [&]() -> std::string {
    auto link = std::make_shared<Link>(io_);
    link->target = endpoint;
    const tcp::endpoint listen(asio::ip::make_address("127.0.0.1"), 0);
    link->acceptor.open(listen.protocol());
    link->acceptor.set_option(tcp::acceptor::reuse_address(true));
    link->acceptor.bind(listen);
    link->acceptor.listen();
    const uint16_t port = link->acceptor.local_endpoint().port();
    links_[{from, to}] = link;
    accept_next(link);
    return "127.0.0.1:" + std::to_string(port);
  });
}

void ProxyNet::accept_next(const std::shared_ptr<Link>& link) {
  auto connection = std::make_shared<Connection>(io_, link, this);
  link->acceptor.async_accept(connection->client,
                              [this, link, connection](const boost::system::error_code& ec) {
                                if (ec) {
                                  if (!link->acceptor.is_open()) return;
                                  return accept_next(link);
                                }
                                accepted_.fetch_add(1);
                                if (link->mode == LinkMode::kRefuse) {
                                  boost::system::error_code ignored;
                                  connection->client.close(ignored);
                                } else {
                                  boost::system::error_code ignored;
                                  connection->client.set_option(tcp::no_delay(true), ignored);
                                  link->connections.insert(connection);
                                  connection->start();
                                }
                                accept_next(link);
                              });
}

void ProxyNet::set_mode(uint64_t from, uint64_t to, LinkMode mode) {
  on_io(io_, [&] {
    auto it = links_.find({from, to});
    if (it == links_.end()) throw std::invalid_argument("no such link");
    Link& link = *it->second;
    if (link.mode == mode) return 0;
    link.mode = mode;
    const auto connections = link.connections;  // close() erases from the set
    for (const auto& c : connections) {
      if (mode == LinkMode::kRefuse) {
        cut_.fetch_add(1);
        c->close();
      } else if (mode == LinkMode::kPass) {
        c->resume();
      }
      // kBlackhole: each direction stalls at its next step.
    }
    return 0;
  });
}

}  // namespace faults
