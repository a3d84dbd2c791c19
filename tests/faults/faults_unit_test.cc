// The fault harness's own parts, without a cluster. The checker is fed a small hand-made chain
// and history that pass, then one defect at a time (a lost or misplaced acknowledged event, an
// event accepted twice, a diverging node, a stale linearizable read, a read of an uncommitted
// event) and must name each. The proxy is driven against an echo server on 127.0.0.1: bytes
// pass, a refused link resets connections and refuses new ones, a blackholed link holds bytes
// and delivers them when it passes again. The schedule is a function of its seed.
#include <array>
#include <catch2/catch.hpp>
#include <thread>

#include "tests/faults/checker.h"
#include "tests/faults/proxy.h"  // and Boost.Asio, for the echo server
#include "tests/faults/schedule.h"

namespace faults {
namespace {

v1::Receipt accepted(const std::string& id, uint64_t height, uint32_t index, uint64_t sequence) {
  v1::Receipt r;
  r.set_event_id(id);
  r.set_event_hash("hash-" + id);
  r.set_height(height);
  r.set_index(index);
  r.set_accepted(true);
  r.set_sequence(sequence);
  return r;
}

// Two blocks: e1, e2 in block 1; e3 in block 2. Subject 7 for all.
struct Fixture {
  std::vector<v1::Block> chain;
  std::vector<Op> ops;
  std::map<uint64_t, std::vector<v1::Block>> chains;
  std::map<uint64_t, v1::ClusterStatusResponse> heads;

  Fixture() {
    v1::Block b1;
    b1.mutable_header()->set_height(1);
    *b1.add_receipts() = accepted("e1", 1, 0, 0);
    *b1.add_receipts() = accepted("e2", 1, 1, 1);
    v1::Block b2;
    b2.mutable_header()->set_height(2);
    *b2.add_receipts() = accepted("e3", 2, 0, 2);
    chain = {b1, b2};

    Op submit;  // e1, e2 acknowledged at 100..200 us
    submit.kind = OpKind::kSubmit;
    submit.start_us = 100;
    submit.end_us = 200;
    submit.ok = true;
    submit.event_ids = {"e1", "e2"};
    submit.event_subjects = {7, 7};
    submit.receipts = {accepted("e1", 1, 0, 0), accepted("e2", 1, 1, 1)};
    Op unacked;  // e3: timed out, yet committed
    unacked.id = 1;
    unacked.kind = OpKind::kSubmit;
    unacked.start_us = 150;
    unacked.end_us = 900;
    unacked.error = "DEADLINE_EXCEEDED";
    unacked.event_ids = {"e3"};
    unacked.event_subjects = {7};
    Op read;  // after the acknowledgement: must see e1 and e2
    read.id = 2;
    read.kind = OpKind::kReadLinearizable;
    read.start_us = 300;
    read.end_us = 400;
    read.ok = true;
    read.subject = 7;
    read.seen_event_ids = {"e1", "e2"};
    ops = {submit, unacked, read};
  }

  CheckResult check() {
    chains.clear();
    heads.clear();
    for (uint64_t node : {1, 2, 3}) {
      chains[node] = chain;
      v1::ClusterStatusResponse s;
      s.set_node_id(node);
      s.set_height(chain.size());
      s.set_tree_size(3);
      s.set_head_hash("head");
      heads[node] = s;
    }
    return check_run(ops, chains, heads);
  }
};

std::string all(const CheckResult& r) {
  std::string out;
  for (const auto& v : r.violations) out += v.what + "\n";
  return out;
}

bool names(const CheckResult& r, const std::string& fragment) {
  return all(r).find(fragment) != std::string::npos;
}

}  // namespace

TEST_CASE("checker: a consistent history passes", "[faults]") {
  Fixture f;
  const CheckResult r = f.check();
  INFO(all(r));
  CHECK(r.ok());
  CHECK(r.stats.acknowledged_events == 2);
  CHECK(r.stats.unacknowledged_committed == 1);
  CHECK(r.stats.linearizable_reads_checked == 1);
}

TEST_CASE("checker: an acknowledged event missing from the chain", "[faults]") {
  Fixture f;
  f.chain[0].mutable_receipts()->RemoveLast();
  f.chain[1].mutable_receipts(0)->set_sequence(1);
  const CheckResult r = f.check();
  CHECK(names(r, "acknowledged event e2"));
  CHECK(names(r, "not on the chain"));
}

TEST_CASE("checker: an acknowledged event elsewhere than its receipt", "[faults]") {
  Fixture f;
  f.ops[0].receipts[1].set_index(5);
  CHECK(names(f.check(), "but the chain has it at"));
}

TEST_CASE("checker: an event accepted twice", "[faults]") {
  Fixture f;
  v1::Receipt again = accepted("e1", 2, 1, 3);
  *f.chain[1].add_receipts() = again;
  CHECK(names(f.check(), "event e1 is accepted 2 times"));
}

TEST_CASE("checker: a raced retry rejected as a duplicate is fine, another rejection is not",
          "[faults]") {
  Fixture f;
  v1::Receipt dup = accepted("e1", 2, 1, 0);
  dup.set_accepted(false);
  dup.set_reason(v1::DUPLICATE_EVENT_ID);
  *f.chain[1].add_receipts() = dup;
  CheckResult r = f.check();
  INFO(all(r));
  CHECK(r.ok());
  CHECK(r.stats.rejected_duplicates == 1);
  f.chain[1].mutable_receipts(1)->set_reason(v1::BAD_SIGNATURE);
  CHECK(names(f.check(), "rejected"));
}

TEST_CASE("checker: nodes with different blocks or roots", "[faults]") {
  Fixture f;
  f.check();
  f.chains[2][1].mutable_header()->set_timestamp_ms(1);
  f.heads[3].set_state_root("other");
  const CheckResult r = check_run(f.ops, f.chains, f.heads);
  CHECK(names(r, "node 2 block 2 differs"));
  CHECK(names(r, "node 3 has a different state root"));
}

TEST_CASE("checker: a linearizable read that misses an earlier acknowledgement", "[faults]") {
  Fixture f;
  f.ops[2].seen_event_ids = {"e1"};
  const CheckResult r = f.check();
  REQUIRE(names(r, "linearizable read of subject 7 missed 1 events"));
  CHECK(r.violations.front().ops == std::vector<uint64_t>{2, 0});
  // The same answer to a read that began before the acknowledgement is fine, and so is a
  // stale LOCAL read (counted, not a violation).
  f.ops[2].start_us = 150;
  CHECK(f.check().ok());
  f.ops[2].start_us = 300;
  f.ops[2].kind = OpKind::kReadLocal;
  const CheckResult local = f.check();
  CHECK(local.ok());
  CHECK(local.stats.local_reads_stale == 1);
}

TEST_CASE("checker: a read that saw an event not on the chain", "[faults]") {
  Fixture f;
  f.ops[2].seen_event_ids = {"e1", "e2", "e9"};
  CHECK(names(f.check(), "saw event e9, which is not accepted"));
}

// ---------------------------------------------------------------------------------------------

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Echoes every byte back, on its own thread, until destroyed.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    io_.stop();
    thread_.join();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      auto s = std::make_shared<tcp::socket>(std::move(socket));
      echo(s, std::make_shared<std::array<char, 4096>>());
      accept();
    });
  }
  void echo(std::shared_ptr<tcp::socket> s, std::shared_ptr<std::array<char, 4096>> buf) {
    s->async_read_some(
        asio::buffer(*buf), [this, s, buf](const boost::system::error_code& ec, size_t n) {
          if (ec) return;
          asio::async_write(*s, asio::buffer(buf->data(), n),
                            [this, s, buf](const boost::system::error_code& ec2, size_t) {
                              if (!ec2) echo(s, buf);
                            });
        });
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

tcp::endpoint endpoint_of(const std::string& address) {
  const size_t colon = address.rfind(':');
  return tcp::endpoint(asio::ip::make_address(address.substr(0, colon)),
                       static_cast<uint16_t>(std::stoul(address.substr(colon + 1))));
}

// Sends `text` and reads until that many bytes came back or `wait` passed; returns what came.
std::string round_trip(tcp::socket& socket, const std::string& text,
                       std::chrono::milliseconds wait = 2s, size_t want = 0) {
  if (want == 0) want = text.size();
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(text), ec);
  if (ec) return "<write failed>";
  std::string got;
  socket.non_blocking(true);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    char buf[256];
    const size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(5ms);
      continue;
    }
    if (ec) return got + "<closed>";
    got.append(buf, n);
  }
  socket.non_blocking(false);
  return got;
}

}  // namespace

TEST_CASE("proxy: pass, refuse and blackhole", "[faults]") {
  EchoServer echo;
  ProxyNet net;
  const std::string address = net.add_link(1, 2, echo.address());
  asio::io_context io;

  tcp::socket a(io);
  a.connect(endpoint_of(address));
  CHECK(round_trip(a, "hello") == "hello");

  // Blackhole: the connection stays open but nothing comes back; healing delivers the bytes.
  net.set_mode(1, 2, LinkMode::kBlackhole);
  CHECK(round_trip(a, "held", 300ms).empty());
  net.set_mode(1, 2, LinkMode::kPass);
  CHECK(round_trip(a, "", 2s, 4) == "held");
  CHECK(round_trip(a, "again") == "again");

  // Refuse: the open connection is closed, a new one is closed at once.
  net.set_mode(1, 2, LinkMode::kRefuse);
  CHECK(round_trip(a, "x") != "x");
  tcp::socket b(io);
  b.connect(endpoint_of(address));
  CHECK(round_trip(b, "y") != "y");
  CHECK(net.connections_cut() == 1);

  // Healed: new connections work again.
  net.set_mode(1, 2, LinkMode::kPass);
  tcp::socket c(io);
  c.connect(endpoint_of(address));
  CHECK(round_trip(c, "back") == "back");
}

TEST_CASE("schedule: the plan is a function of the seed", "[faults]") {
  ScheduleOptions options;
  options.phase_ms = 600000;
  const auto a = plan_faults(11, options);
  const auto b = plan_faults(11, options);
  const auto c = plan_faults(12, options);
  REQUIRE(a.size() == b.size());
  REQUIRE(!a.empty());
  bool differs = a.size() != c.size();
  std::array<int, kFaultKinds> kinds{};
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].kind == b[i].kind);
    CHECK(a[i].start_ms == b[i].start_ms);
    CHECK(a[i].duration_ms == b[i].duration_ms);
    CHECK(a[i].start_ms < options.phase_ms);
    if (a[i].kind == FaultKind::kPause) CHECK(a[i].duration_ms > options.election_timeout_ms);
    if (i < c.size() && (a[i].kind != c[i].kind || a[i].start_ms != c[i].start_ms)) differs = true;
    kinds[static_cast<size_t>(a[i].kind)]++;
  }
  CHECK(differs);
  // Ten minutes of faults draw every kind.
  for (size_t k = 0; k < kFaultKinds; ++k) {
    INFO(fault_kind_name(static_cast<FaultKind>(k)));
    CHECK(kinds[k] > 0);
  }
}

}  // namespace faults
