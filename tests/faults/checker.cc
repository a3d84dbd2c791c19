#include "tests/faults/checker.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace faults {

namespace {

struct Place {
  uint64_t height = 0;
  uint32_t index = 0;
  uint64_t sequence = 0;
  bool operator==(const Place&) const = default;
};

std::string place_text(const Place& p) {
  return "height " + std::to_string(p.height) + " index " + std::to_string(p.index) + " sequence " +
         std::to_string(p.sequence);
}

// A block as the nodes must agree on it: header, events and receipts. `log_index` is left out:
// it is where the entry sat in the storing node's own Raft log, not part of the chain.
std::string chain_bytes(const v1::Block& block) {
  v1::Block copy = block;
  copy.clear_log_index();
  return copy.SerializeAsString();
}

}  // namespace

CheckResult check_run(const std::vector<Op>& ops,
                      const std::map<uint64_t, std::vector<v1::Block>>& chains,
                      const std::map<uint64_t, v1::ClusterStatusResponse>& heads) {
  CheckResult result;
  auto& violations = result.violations;
  auto violation = [&](std::string what, std::vector<uint64_t> offending = {}) {
    violations.push_back(Violation{std::move(what), std::move(offending)});
  };

  // 1. The same chain and head everywhere.
  const uint64_t first_node = chains.begin()->first;
  const std::vector<v1::Block>& reference = chains.begin()->second;
  const v1::ClusterStatusResponse& head = heads.at(first_node);
  for (const auto& [node, status] : heads) {
    const auto differs = [&](const char* field) {
      violation("node " + std::to_string(node) + " has a different " + field + " than node " +
                std::to_string(first_node));
    };
    if (status.height() != head.height()) differs("height");
    if (status.head_hash() != head.head_hash()) differs("head hash");
    if (status.merkle_root() != head.merkle_root()) differs("Merkle root");
    if (status.tree_size() != head.tree_size()) differs("tree size");
    if (status.state_root() != head.state_root()) differs("state root");
  }
  for (const auto& [node, blocks] : chains) {
    if (blocks.size() != heads.at(node).height()) {
      violation("node " + std::to_string(node) + " streamed " + std::to_string(blocks.size()) +
                " blocks but reports height " + std::to_string(heads.at(node).height()));
    }
    if (node == first_node) continue;
    const size_t common = std::min(blocks.size(), reference.size());
    for (size_t h = 0; h < common; ++h) {
      if (chain_bytes(blocks[h]) != chain_bytes(reference[h])) {
        violation("node " + std::to_string(node) + " block " + std::to_string(h + 1) +
                  " differs from node " + std::to_string(first_node) + "'s");
        break;
      }
    }
    if (blocks.size() != reference.size()) {
      violation("node " + std::to_string(node) + " has " + std::to_string(blocks.size()) +
                " blocks, node " + std::to_string(first_node) + " has " +
                std::to_string(reference.size()));
    }
  }
  result.stats.blocks = reference.size();

  // 2. What the chain holds, from the reference node.
  std::map<std::string, std::vector<Place>> accepted;  // event id -> accepted occurrences
  std::map<std::string, std::string> accepted_hash;    // event id -> event hash of the first
  std::map<std::string, uint64_t> subject_of_event;    // from the submitting ops
  uint64_t next_sequence = 0;
  for (const v1::Block& block : reference) {
    for (int i = 0; i < block.receipts_size(); ++i) {
      const v1::Receipt& r = block.receipts(i);
      const Place here{block.header().height(), static_cast<uint32_t>(i), r.sequence()};
      if (r.accepted()) {
        if (r.sequence() != next_sequence) {
          violation("accepted sequence jumps from " + std::to_string(next_sequence) + " to " +
                    std::to_string(r.sequence()) + " at " + place_text(here));
          next_sequence = r.sequence();
        }
        ++next_sequence;
        if (accepted[r.event_id()].empty()) accepted_hash[r.event_id()] = r.event_hash();
        accepted[r.event_id()].push_back(here);
        continue;
      }
      const auto earlier = accepted.find(r.event_id());
      const bool raced_retry = r.reason() == v1::DUPLICATE_EVENT_ID && earlier != accepted.end() &&
                               accepted_hash[r.event_id()] == r.event_hash();
      if (raced_retry) {
        ++result.stats.rejected_duplicates;
      } else {
        violation("event " + r.event_id() + " rejected at " + place_text(here) + ": " +
                  v1::RejectReason_Name(r.reason()) + " " + r.message());
      }
    }
  }
  result.stats.accepted_on_chain = next_sequence;
  if (next_sequence != head.tree_size()) {
    violation("the chain accepts " + std::to_string(next_sequence) +
              " events but the tree size is " + std::to_string(head.tree_size()));
  }
  for (const auto& [id, places] : accepted) {
    if (places.size() > 1) {
      violation("event " + id + " is accepted " + std::to_string(places.size()) +
                " times (first at " + place_text(places[0]) + ", again at " +
                place_text(places[1]) + ")");
    }
  }

  // 3. Submits against the chain.
  std::map<std::string, std::vector<uint64_t>> submitted_by;  // event id -> submit op ids
  std::map<std::string, std::pair<Place, uint64_t>> acked;    // event id -> receipt, first op
  for (const Op& op : ops) {
    if (op.kind != OpKind::kSubmit) continue;
    for (size_t i = 0; i < op.event_ids.size(); ++i) {
      submitted_by[op.event_ids[i]].push_back(op.id);
      subject_of_event[op.event_ids[i]] = op.event_subjects[i];
    }
    if (!op.ok) continue;
    if (op.receipts.size() != op.event_ids.size()) {
      violation("an acknowledged submit returned " + std::to_string(op.receipts.size()) +
                    " receipts for " + std::to_string(op.event_ids.size()) + " events",
                {op.id});
      continue;
    }
    for (size_t i = 0; i < op.event_ids.size(); ++i) {
      const v1::Receipt& r = op.receipts[i];
      const std::string& id = op.event_ids[i];
      if (r.event_id() != id) {
        violation("receipt " + std::to_string(i) + " names " + r.event_id() + ", not " + id,
                  {op.id});
        continue;
      }
      if (!r.accepted()) {
        violation("event " + id + " acknowledged as rejected: " +
                      v1::RejectReason_Name(r.reason()) + " " + r.message(),
                  {op.id});
        continue;
      }
      const Place said{r.height(), r.index(), r.sequence()};
      auto [it, fresh] = acked.emplace(id, std::make_pair(said, op.id));
      if (!fresh && !(it->second.first == said)) {
        violation("event " + id + " acknowledged twice with different receipts (" +
                      place_text(it->second.first) + " and " + place_text(said) + ")",
                  {it->second.second, op.id});
      }
      if (!fresh) continue;
      const auto on_chain = accepted.find(id);
      if (on_chain == accepted.end()) {
        violation(
            "acknowledged event " + id + " (receipt " + place_text(said) + ") is not on the chain",
            {op.id});
      } else if (!(on_chain->second.front() == said)) {
        violation("acknowledged event " + id + " has receipt " + place_text(said) +
                      " but the chain has it at " + place_text(on_chain->second.front()),
                  {op.id});
      }
    }
  }
  result.stats.acknowledged_events = acked.size();
  for (const auto& [id, places] : accepted) {
    if (!submitted_by.count(id)) {
      violation("event " + id + " at " + place_text(places.front()) + " was never submitted");
    }
  }
  for (const auto& [id, op_ids] : submitted_by) {
    if (acked.count(id)) continue;
    if (accepted.count(id)) {
      ++result.stats.unacknowledged_committed;
    } else {
      ++result.stats.unacknowledged_absent;
    }
  }

  // 4. Reads. Acknowledgements per subject, in order of the time the client saw them.
  std::map<uint64_t, std::vector<std::pair<int64_t, std::string>>> acked_by_subject;
  std::map<std::string, uint64_t> first_ack_op;
  for (const Op& op : ops) {
    if (op.kind != OpKind::kSubmit || !op.ok) continue;
    for (size_t i = 0; i < op.event_ids.size(); ++i) {
      acked_by_subject[op.event_subjects[i]].emplace_back(op.end_us, op.event_ids[i]);
      first_ack_op.emplace(op.event_ids[i], op.id);
    }
  }
  for (auto& [subject, list] : acked_by_subject) std::sort(list.begin(), list.end());
  size_t lin_reported = 0;
  for (const Op& op : ops) {
    if (op.kind == OpKind::kSubmit || !op.ok) continue;
    const std::set<std::string> seen(op.seen_event_ids.begin(), op.seen_event_ids.end());
    for (const std::string& id : seen) {
      const auto it = subject_of_event.find(id);
      if (!accepted.count(id)) {
        violation("read saw event " + id + ", which is not accepted on the chain", {op.id});
      } else if (it == subject_of_event.end() || it->second != op.subject) {
        violation("read of subject " + std::to_string(op.subject) + " saw event " + id +
                      " about another subject",
                  {op.id});
      }
    }
    std::vector<std::string> missed;
    uint64_t missed_op = 0;
    for (const auto& [end_us, id] : acked_by_subject[op.subject]) {
      if (end_us >= op.start_us) break;
      if (!seen.count(id)) {
        if (missed.empty()) missed_op = first_ack_op[id];
        missed.push_back(id);
      }
    }
    if (op.kind == OpKind::kReadLinearizable) {
      ++result.stats.linearizable_reads_checked;
      if (!missed.empty() && lin_reported++ < 20) {
        violation("linearizable read of subject " + std::to_string(op.subject) + " missed " +
                      std::to_string(missed.size()) + " events acknowledged before it began (" +
                      missed.front() + (missed.size() > 1 ? ", ..." : "") + ")",
                  {op.id, missed_op});
      }
    } else if (!missed.empty()) {
      ++result.stats.local_reads_stale;
    }
  }
  if (lin_reported > 20) {
    violation(std::to_string(lin_reported - 20) + " more stale linearizable reads not listed");
  }
  return result;
}

}  // namespace faults
