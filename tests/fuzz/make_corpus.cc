// Writes the seed corpora of tests/fuzz/corpus/<target>/ from the real product code: valid
// inputs made by the same functions a node and credaudit use (signing, apply, checkpoints,
// proofs, genesis), plus near-valid variants with one field wrong, so the fuzzers start at the
// rules instead of at the parsers. Deterministic (fixed keys, fixed clock): rerunning it
// rewrites the same files.
//
//   build/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus [deploy/node.example.toml]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/ledger.h"
#include "proto/api.pb.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace v1 = credledger::v1;
using fuzz::enterprise;
using fuzz::individual;
using fuzz::kDayMs;
using fuzz::kT0;
using fuzz::make_event;
using fuzz::sign;

std::filesystem::path out_root;
int written = 0;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const std::filesystem::path dir = out_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out << bytes;
  ++written;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "make_corpus: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(base::Result<T> r, const char* what) {
  if (!r.is_ok()) die(std::string(what) + ": " + r.status().to_string());
  return std::move(r).value();
}

const int64_t kT = kT0 + kDayMs;

// Valid events of every kind and near-valid ones.
std::vector<std::pair<std::string, v1::SignedEvent>> events() {
  std::vector<std::pair<std::string, v1::SignedEvent>> out;
  const v1::Subject e1 = enterprise(1);
  out.push_back({"penalty", sign(make_event("ev-pen", "samr", e1, v1::ADMINISTRATIVE_PENALTY,
                                            v1::GENERAL, kT))});
  out.push_back({"blacklist", sign(make_event("ev-bl", "court", individual("110101199001011234"),
                                              v1::BLACKLIST_ENTRY, v1::FINANCE, kT))});
  out.push_back({"tax_penalty", sign(make_event("ev-tax", "sta", enterprise(2),
                                                v1::ADMINISTRATIVE_PENALTY, v1::TAXATION, kT))});
  out.push_back({"rating", sign(make_event("ev-rat", "samr", e1, v1::CREDIT_RATING, v1::GENERAL,
                                           kT))});
  out.push_back({"commendation", sign(make_event("ev-com", "sta", e1, v1::COMMENDATION,
                                                 v1::GENERAL, kT))});
  out.push_back({"disclosure", sign(make_event("ev-dis", "samr", e1, v1::VOLUNTARY_DISCLOSURE,
                                               v1::GENERAL, kT))});
  out.push_back({"commitment", sign(make_event("ev-cmt", "samr", e1, v1::CREDIT_COMMITMENT,
                                               v1::GENERAL, kT))});
  auto referring = [&](const char* id, const char* issuer, v1::EventKind kind,
                       const char* target, const v1::Subject& subject) {
    v1::CreditEvent e = make_event(id, issuer, subject, kind, v1::SECTOR_UNSPECIFIED, kT);
    e.set_refers_to(target);
    return sign(e);
  };
  out.push_back({"removal", referring("ev-rm", "samr", v1::BLACKLIST_REMOVAL, "seed-2", e1)});
  out.push_back({"restoration", referring("ev-rs", "samr", v1::RESTORATION, "seed-1", e1)});
  out.push_back({"correction", referring("ev-co", "samr", v1::CORRECTION, "seed-1", e1)});
  out.push_back({"objection", referring("ev-ob", "sta", v1::OBJECTION, "seed-1", e1)});
  out.push_back({"ruling", referring("ev-ru", "samr", v1::OBJECTION_RULING, "seed-1", e1)});
  out.push_back({"restore_individual", referring("ev-ri", "court", v1::RESTORATION, "seed-4",
                                                 individual("110101199001011234"))});
  // Near-valid: one rule broken each.
  {
    v1::SignedEvent s = out[0].second;
    s.mutable_signature()->at(0) ^= 1;
    out.push_back({"bad_signature", s});
    s = out[0].second;
    s.set_key_id("sta-k1");
    out.push_back({"other_key", s});
    s.set_key_id("nobody-k1");
    out.push_back({"unknown_key", s});
  }
  {
    v1::CreditEvent e = make_event("ev-x", "samr", e1, v1::ADMINISTRATIVE_PENALTY, v1::GENERAL, kT);
    e.set_expires_at_ms(kT + 400 * kDayMs);
    out.push_back({"beyond_publicity", sign(e)});
    e = make_event("ev-x", "samr", e1, v1::ADMINISTRATIVE_PENALTY, v1::TAXATION, kT);
    out.push_back({"out_of_sector", sign(e)});
    e = make_event("ev-x", "samr", e1, v1::BLACKLIST_ENTRY, v1::GENERAL, kT);
    e.mutable_legal_basis()->set_code("NO-SUCH-LAW");
    out.push_back({"unknown_basis", sign(e)});
    e = make_event("ev-x", "samr", e1, v1::CREDIT_RATING, v1::GENERAL, kT);
    e.set_rating("E");
    out.push_back({"bad_rating", sign(e)});
    e = make_event("bad id!", "samr", e1, v1::COMMENDATION, v1::GENERAL, kT);
    out.push_back({"bad_event_id", sign(e)});
    v1::Subject bad = e1;
    bad.mutable_id()->back() = bad.id().back() == '0' ? '1' : '0';
    e = make_event("ev-x", "samr", bad, v1::COMMENDATION, v1::GENERAL, kT);
    out.push_back({"bad_uscc", sign(e)});
    e = make_event("ev-x", "samr", e1, v1::RESTORATION, v1::SECTOR_UNSPECIFIED, kT);
    e.set_refers_to("seed-9");
    out.push_back({"refers_unknown", sign(e)});
    e = make_event("ev-x", "samr", e1, v1::COMMENDATION, v1::GENERAL, kT);
    e.set_issued_at_ms(kT + 365 * kDayMs);
    out.push_back({"issued_in_future", sign(e)});
    e = make_event("ev-x", "samr", e1, v1::COMMENDATION, v1::GENERAL,
                   std::numeric_limits<int64_t>::max() - 1);
    out.push_back({"far_future_commendation", sign(e)});
    v1::SignedEvent junk;
    junk.set_payload("not a protobuf \xff\xff");
    junk.set_key_id("samr-k1");
    junk.set_signature(ledger::sign(ledger::kEventSignDomain, junk.payload(),
                                    fuzz::keys_of("samr").secret_key));
    out.push_back({"junk_payload", junk});
  }
  return out;
}

void event_corpus() {
  for (const auto& [name, e] : events()) put("event", name, e.SerializeAsString());
}

void block_corpus() {
  // The real block 2 of a scratch ledger, made by apply(), and variants.
  fuzz::ScratchLedger scratch;
  v1::BlockBody body;
  body.set_timestamp_ms(kT0 + 2 * kDayMs);
  for (const auto& [name, e] : events()) *body.add_events() = e;
  const v1::Block block = must(scratch.get().apply(body), "apply block 2");
  put("block", "valid_block2", block.SerializeAsString());
  v1::Block b = block;
  b.mutable_header()->set_state_root(std::string(32, '\0'));
  put("block", "wrong_state_root", b.SerializeAsString());
  b = block;
  b.mutable_receipts(0)->set_accepted(!b.receipts(0).accepted());
  put("block", "wrong_receipt", b.SerializeAsString());
  b = block;
  b.mutable_header()->set_prev_hash("short");
  put("block", "short_prev_hash", b.SerializeAsString());
  b = block;
  b.mutable_header()->set_timestamp_ms(kT0);
  put("block", "time_goes_back", b.SerializeAsString());
  b = block;
  b.clear_receipts();
  b.mutable_events()->DeleteSubrange(3, b.events_size() - 3);
  put("block", "three_events_no_receipts", b.SerializeAsString());
  b.Clear();
  *b.mutable_header() = scratch.get().head();
  put("block", "empty", b.SerializeAsString());
}

struct Chain {
  fuzz::ScratchLedger scratch;
  ledger::CosignedCheckpoint cp1;
  ledger::CosignedCheckpoint cp2;
};

ledger::CosignedCheckpoint cosigned(const ledger::Ledger& l, uint64_t height) {
  ledger::CosignedCheckpoint cp = ledger::make_checkpoint(
      ledger::checkpoint_origin("credledger-test"), must(ledger::checkpoint_at(l, height), "cp"));
  for (const char* agency : {"samr", "sta", "court"}) {
    ledger::KeyFile key{agency, fuzz::key_id_of(agency), fuzz::keys_of(agency)};
    if (!ledger::cosign(cp, key, 1767225600 + height).is_ok()) die("cosign");
  }
  return cp;
}

void proof_and_checkpoint_corpus() {
  Chain c;
  ledger::Ledger& l = c.scratch.get();
  c.cp1 = cosigned(l, 1);
  v1::BlockBody body;
  body.set_timestamp_ms(kT0 + 2 * kDayMs);
  for (const auto& [name, e] : events()) *body.add_events() = e;
  (void)must(l.apply(body), "apply block 2");
  c.cp2 = cosigned(l, 2);

  // Checkpoints: notes, bodies, cp.json, and near-valid notes.
  put("checkpoint", "note_h1", c.cp1.text());
  put("checkpoint", "note_h2", c.cp2.text());
  put("checkpoint", "body_h2", c.cp2.note.body);
  put("checkpoint", "cp_h2.json", ledger::checkpoint_to_json(c.cp2));
  std::string text = c.cp2.text();
  put("checkpoint", "note_no_blank_line", text.substr(0, c.cp2.note.body.size()) +
                                              text.substr(c.cp2.note.body.size() + 1));
  std::string tampered = text;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  put("checkpoint", "note_bad_signature", tampered);
  ledger::CosignedCheckpoint one = ledger::make_checkpoint(c.cp2.origin, c.cp2.checkpoint);
  ledger::KeyFile samr{"samr", fuzz::key_id_of("samr"), fuzz::keys_of("samr")};
  (void)ledger::cosign(one, samr, 1767225600);
  put("checkpoint", "note_one_signer", one.text());
  put("checkpoint", "note_other_origin",
      ledger::make_checkpoint("credledger/other", c.cp2.checkpoint).note.body + "\n— x " +
          ledger::to_base64(std::string(76, 'k')) + "\n");

  // Proofs: proof.json files and structured Merkle inputs.
  auto inclusion = must(ledger::make_inclusion_proof(l, 2, c.cp2), "inclusion proof");
  put("proof", "inclusion.json", ledger::inclusion_proof_to_json(inclusion));
  auto consistency = must(ledger::make_consistency_proof(l, c.cp1, c.cp2), "consistency proof");
  put("proof", "consistency.json", ledger::consistency_proof_to_json(consistency));
  inclusion.leaf_index += 1;
  put("proof", "inclusion_wrong_index.json", ledger::inclusion_proof_to_json(inclusion));
  // mode, index, size, old_size, new_size (u16 each), flip (u32), forged hashes.
  auto merkle = [](uint8_t mode, std::vector<uint64_t> numbers, uint32_t flip, int hashes) {
    std::string s(1, static_cast<char>(mode));
    for (uint64_t n : numbers) {
      const int width = (mode & 1) ? 8 : 2;
      for (int i = width - 1; i >= 0; --i) s.push_back(static_cast<char>(n >> (8 * i)));
    }
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(flip >> (8 * i)));
    for (int i = 0; i < hashes; ++i) s += ledger::to_string(ledger::sha256(std::to_string(i)));
    return s;
  };
  put("proof", "merkle_small", merkle(0, {3, 7, 2, 7}, 5, 3));
  put("proof", "merkle_mid", merkle(0, {100, 257, 64, 300}, 77, 9));
  put("proof", "merkle_power_of_two", merkle(0, {0, 256, 128, 256}, 1, 1));
  put("proof", "merkle_beyond", merkle(0, {305, 303, 301, 302}, 0, 0));
  put("proof", "merkle_raw_extremes", merkle(1, {~0ULL, ~0ULL, 1ULL << 63, 0}, 9, 2));
}

void genesis_corpus() {
  const std::string genesis = must(ledger::Consortium::to_genesis(fuzz::test_config()), "genesis");
  put("genesis", "test.json", genesis);
  v1::ConsortiumConfig minimal;
  minimal.set_consortium_id("m");
  v1::Agency* a = minimal.add_agencies();
  a->set_id("a");
  v1::AgencyKey* k = a->add_keys();
  k->set_key_id("a-k1");
  k->set_public_key(fuzz::keys_of("samr").public_key);
  ledger::Consortium::apply_defaults(minimal);
  put("genesis", "minimal.json", must(ledger::Consortium::to_genesis(minimal), "minimal"));
  v1::ConsortiumConfig big = fuzz::test_config();
  big.mutable_scoring()->set_blacklist_deduction(1000000);
  big.mutable_scoring()->set_grade_a_min(2000);
  put("genesis", "heavy_scoring.json", must(ledger::Consortium::to_genesis(big), "heavy"));
  put("genesis", "duplicate_agency.json",
      genesis.substr(0, genesis.rfind(']')) + "]}");  // truncated: a parse error
  put("genesis", "empty_object.json", "{}");
}

void config_corpus(const std::string& example) {
  if (!example.empty()) put("config", "node.example.toml", fuzz::read_file(example));
  put("config", "minimal.toml",
      "node_id = 1\ndata_dir = \"/tmp/d\"\ngenesis = \"g.json\"\nlisten = \"127.0.0.1:7001\"\n"
      "[peers]\n1 = \"127.0.0.1:7001\"\n[tls]\ninsecure_plaintext = true\n");
  put("config", "join.toml",
      "node_id = 4\ndata_dir = \"d\"\ngenesis = \"g\"\nlisten = \"[::1]:7004\"\njoin = true\n"
      "log_format = \"json\"\n[peers]\n1 = \"127.0.0.1:7001\"\n2 = \"127.0.0.1:7002\"\n"
      "[tls]\ninsecure_plaintext = true\n[raft]\ntick_ms = 50\nelection_ticks = 20\n"
      "[batch]\nmax_events = 10\nmax_bytes = 1024\n[limits]\nmax_watchers = 1\n");
  put("config", "bad_port.toml",
      "node_id = 1\ndata_dir = \"d\"\ngenesis = \"g\"\nlisten = \"127.0.0.1:99999\"\n"
      "[peers]\n1 = \"127.0.0.1:7001\"\n[tls]\ninsecure_plaintext = true\n");
  put("config", "bad_types.toml", "node_id = \"one\"\n[peers]\nx = 3\n[raft]\ntick_ms = -1\n");
}

void api_corpus() {
  auto put_request = [](const std::string& name, uint8_t which, uint8_t caller,
                        const google::protobuf::Message& m) {
    std::string s;
    s.push_back(static_cast<char>(which));
    s.push_back(static_cast<char>(caller));
    put("api_request", name, s + m.SerializeAsString());
  };
  // Caller indexes into api_request_fuzz.cc's kCallers: 0 public, 1 agency:samr, 2 agency:sta,
  // 4 auditor, 5 relying, 6 operator, 7 node.
  v1::SubmitRequest submit;
  for (const auto& [name, e] : events()) *submit.add_events() = e;
  put_request("submit_samr", 0, 1, submit);
  put_request("submit_node", 0, 7, submit);
  v1::StatusRequest status;
  *status.mutable_subject() = individual("110101199001011234");
  put_request("status_individual_public", 1, 0, status);
  put_request("status_individual_relying", 1, 5, status);
  v1::CheckRequest check;
  *check.add_subjects() = enterprise(1);
  *check.add_subjects() = individual("110101199001011234");
  check.set_as_of_ms(kT);
  put_request("check_relying", 2, 5, check);
  v1::BlacklistRequest blacklist;
  blacklist.set_sector(v1::REAL_ESTATE);
  blacklist.set_page_size(1000);
  put_request("blacklist", 3, 0, blacklist);
  v1::HistoryRequest history;
  *history.mutable_subject() = enterprise(1);
  history.set_page_size(5000);
  put_request("history_auditor", 4, 4, history);
  v1::GetEventRequest get_event;
  get_event.set_event_id("seed-1");
  put_request("get_event", 5, 1, get_event);
  v1::WatchRequest watch;
  *watch.mutable_subject() = enterprise(3);
  put_request("watch", 6, 0, watch);
  v1::GetBlocksRequest blocks;
  blocks.set_from_height(2);
  blocks.set_to_height(9);
  put_request("get_blocks", 7, 4, blocks);
  v1::InclusionProofRequest inclusion;
  inclusion.set_leaf_index(5);
  inclusion.set_tree_size(40);
  put_request("inclusion_by_size", 8, 4, inclusion);
  v1::ConsistencyProofRequest consistency;
  consistency.set_old_size(7);
  consistency.set_new_size(64);
  put_request("consistency_by_size", 9, 4, consistency);
  v1::AccessLogRequest access;
  access.set_limit(20);
  put_request("access_log", 10, 4, access);
  v1::MemberRequest member;
  member.set_id(4);
  member.set_address("127.0.0.1:7004");
  put_request("add_member", 11, 6, member);
  v1::RaftBatch batch;
  v1::RaftMessage* m = batch.add_messages();
  m->set_type(3);
  m->set_from(1);
  m->set_to(2);
  m->set_term(5);
  m->set_index(10);
  m->set_commit(9);
  v1::RaftEntry* entry = m->add_entries();
  entry->set_index(11);
  entry->set_term(5);
  entry->set_data("block body bytes");
  v1::RaftMessage* bad = batch.add_messages();
  bad->set_type(999);
  put_request("raft_batch", 12, 7, batch);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: fuzz_make_corpus <corpus dir> [node.example.toml]");
  out_root = argv[1];
  event_corpus();
  block_corpus();
  proof_and_checkpoint_corpus();
  genesis_corpus();
  config_corpus(argc > 2 ? argv[2] : "");
  api_corpus();
  std::printf("wrote %d files under %s\n", written, out_root.c_str());
  return 0;
}
