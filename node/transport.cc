#include "node/transport.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace node {

v1::RaftMessage encode_message(const consensus::Message& m) {
  v1::RaftMessage out;
  out.set_type(static_cast<uint32_t>(m.type));
  out.set_from(m.from);
  out.set_to(m.to);
  out.set_term(m.term);
  out.set_log_term(m.log_term);
  out.set_index(m.index);
  out.set_commit(m.commit);
  out.set_reject(m.reject);
  out.set_reject_hint(m.reject_hint);
  out.set_read_seq(m.read_seq);
  out.set_transfer(m.transfer);
  for (const consensus::Entry& e : m.entries) {
    v1::RaftEntry* re = out.add_entries();
    re->set_index(e.index);
    re->set_term(e.term);
    re->set_type(static_cast<uint32_t>(e.type));
    re->set_data(e.data);
  }
  return out;
}

base::Result<consensus::Message> decode_message(const v1::RaftMessage& m) {
  if (m.type() > static_cast<uint32_t>(consensus::MessageType::kTimeoutNow)) {
    return base::Status::invalid_argument("unknown raft message type " + std::to_string(m.type()));
  }
  consensus::Message out;
  out.type = static_cast<consensus::MessageType>(m.type());
  out.from = m.from();
  out.to = m.to();
  out.term = m.term();
  out.log_term = m.log_term();
  out.index = m.index();
  out.commit = m.commit();
  out.reject = m.reject();
  out.reject_hint = m.reject_hint();
  out.read_seq = m.read_seq();
  out.transfer = m.transfer();
  out.entries.reserve(m.entries_size());
  for (const v1::RaftEntry& re : m.entries()) {
    if (re.type() > static_cast<uint32_t>(consensus::EntryType::kConfChange)) {
      return base::Status::invalid_argument("unknown raft entry type " + std::to_string(re.type()));
    }
    consensus::Entry e;
    e.index = re.index();
    e.term = re.term();
    e.type = static_cast<consensus::EntryType>(re.type());
    e.data = re.data();
    out.entries.push_back(std::move(e));
  }
  return out;
}

struct PeerTransport::Peer {
  consensus::NodeId id;
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<consensus::Message> queue;  // GUARDED_BY(mu)
  bool stop = false;                     // GUARDED_BY(mu)
  grpc::ClientContext* active = nullptr; // GUARDED_BY(mu): cancelled on stop
  std::thread thread;
};

PeerTransport::PeerTransport(consensus::NodeId self, ChannelFactory make_channel,
                             TransportOptions options)
    : self_(self), make_channel_(std::move(make_channel)), options_(options) {}

PeerTransport::~PeerTransport() { stop(); }

void PeerTransport::set_peer(consensus::NodeId id, const std::string& address) {
  if (id == self_) return;
  std::unique_ptr<Peer> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    auto it = peers_.find(id);
    if (it != peers_.end()) {
      if (it->second->address == address) return;
      old = std::move(it->second);
      peers_.erase(it);
    }
  }
  if (old) {
    {
      std::lock_guard<std::mutex> lock(old->mu);
      old->stop = true;
      if (old->active) old->active->TryCancel();
    }
    old->cv.notify_all();
    old->thread.join();
  }
  auto peer = std::make_unique<Peer>();
  peer->id = id;
  peer->address = address;
  peer->channel = make_channel_(address);
  Peer* raw = peer.get();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  peers_[id] = std::move(peer);
  raw->thread = std::thread([this, raw] { run(raw); });
}

void PeerTransport::remove_peer(consensus::NodeId id) {
  std::unique_ptr<Peer> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    old = std::move(it->second);
    peers_.erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(old->mu);
    old->stop = true;
    if (old->active) old->active->TryCancel();
  }
  old->cv.notify_all();
  old->thread.join();
}

std::optional<std::string> PeerTransport::address(consensus::NodeId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(id);
  if (it == peers_.end()) return std::nullopt;
  return it->second->address;
}

std::map<consensus::NodeId, std::string> PeerTransport::addresses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<consensus::NodeId, std::string> out;
  for (const auto& [id, peer] : peers_) out[id] = peer->address;
  return out;
}

std::shared_ptr<grpc::Channel> PeerTransport::channel(consensus::NodeId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second->channel;
}

void PeerTransport::send(const std::vector<consensus::Message>& messages) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const consensus::Message& m : messages) {
    auto it = peers_.find(m.to);
    if (it == peers_.end()) {
      dropped_.fetch_add(1);
      continue;
    }
    Peer& peer = *it->second;
    {
      std::lock_guard<std::mutex> peer_lock(peer.mu);
      if (peer.queue.size() >= options_.queue_messages_max) {
        dropped_.fetch_add(1);
        continue;
      }
      peer.queue.push_back(m);
    }
    peer.cv.notify_one();
  }
}

uint64_t PeerTransport::dropped() const { return dropped_.load(); }

void PeerTransport::stop() {
  std::map<consensus::NodeId, std::unique_ptr<Peer>> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    peers.swap(peers_);
  }
  for (auto& [id, peer] : peers) {
    {
      std::lock_guard<std::mutex> lock(peer->mu);
      peer->stop = true;
      if (peer->active) peer->active->TryCancel();
    }
    peer->cv.notify_all();
  }
  for (auto& [id, peer] : peers) peer->thread.join();
}

void PeerTransport::run(Peer* peer) {
  auto stub = v1::PeerService::NewStub(peer->channel);
  uint64_t backoff_ms = options_.backoff_initial_ms;
  bool warned = false;
  for (;;) {
    // Wait for something to send.
    {
      std::unique_lock<std::mutex> lock(peer->mu);
      peer->cv.wait(lock, [&] { return peer->stop || !peer->queue.empty(); });
      if (peer->stop) return;
    }
    grpc::ClientContext context;
    for (const auto& [key, value] : options_.metadata) context.AddMetadata(key, value);
    v1::PeerAck ack;
    {
      std::lock_guard<std::mutex> lock(peer->mu);
      if (peer->stop) return;
      peer->active = &context;
    }
    std::unique_ptr<grpc::ClientWriter<v1::RaftBatch>> writer = stub->Raft(&context, &ack);
    bool broken = false;
    bool any_written = false;
    while (!broken) {
      v1::RaftBatch batch;
      {
        std::unique_lock<std::mutex> lock(peer->mu);
        peer->cv.wait(lock, [&] { return peer->stop || !peer->queue.empty(); });
        if (peer->stop) break;
        // What is queued goes in one write (fewer syscalls under load), up to the bounds: a
        // follower catching up is sent many appends of max_size_per_msg_bytes back to back,
        // and one write of them all would exceed the gRPC message limit and be refused.
        uint64_t batch_bytes = 0;
        while (!peer->queue.empty() &&
               static_cast<size_t>(batch.messages_size()) < options_.batch_messages_max) {
          v1::RaftMessage encoded = encode_message(peer->queue.front());
          // A repeated field costs its length prefix and tag beside the message itself.
          const uint64_t bytes = encoded.ByteSizeLong() + 16;
          if (batch.messages_size() > 0 && batch_bytes + bytes > options_.batch_bytes_max) break;
          batch_bytes += bytes;
          *batch.add_messages() = std::move(encoded);
          peer->queue.pop_front();
        }
      }
      if (options_.observe_write_bytes) options_.observe_write_bytes(batch.ByteSizeLong());
      if (!writer->Write(batch)) {
        broken = true;
      } else if (!any_written) {
        any_written = true;
        if (warned) spdlog::info("peer {} at {} reachable again", peer->id, peer->address);
        warned = false;
      }
    }
    {
      std::lock_guard<std::mutex> lock(peer->mu);
      peer->active = nullptr;
    }
    if (!broken) {
      writer->WritesDone();
      (void)writer->Finish();
      return;
    }
    grpc::Status status = writer->Finish();
    if (!warned) {
      spdlog::warn("peer {} at {} unreachable: {}; retrying with back-off", peer->id,
                   peer->address, status.error_message());
      warned = true;
    }
    if (any_written) backoff_ms = options_.backoff_initial_ms;
    // Messages queued while the link was down are stale by the time it returns; Raft resends.
    std::unique_lock<std::mutex> lock(peer->mu);
    peer->queue.clear();
    peer->cv.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return peer->stop; });
    if (peer->stop) return;
    backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
  }
}

}  // namespace node
