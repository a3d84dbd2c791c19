// Issue #12, the command-line tools as their users run them: credctl and credaudit are started
// as processes (their paths come from the build) and their exit codes, standard output and
// standard error are checked. Some cases need no node: the environment variables for TLS files,
// the --force rule for keygen, library log noise, and credaudit verify on an export built here
// with the ledger fixture. One case runs a real plaintext cluster for cluster status asked of a
// follower and the --force rule of the verbs that fetch from a node.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "ledger/audit.h"
#include "ledger/checkpoint.h"
#include "ledger/crypto.h"
#include "ledger/export.h"
#include "tests/integration/events.h"

namespace integration {
namespace {

using ledger_test::kCourt;
using ledger_test::kSamr;
using ledger_test::kSta;

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// Runs `command` (a shell command line) in `dir` with only the CREDLEDGER_* variables of `env`
// ("NAME=value ..."), so the test's own environment cannot leak in.
Run run(const std::string& dir, const std::string& command, const std::string& env = "") {
  const std::string out = dir + "/run.out";
  const std::string err = dir + "/run.err";
  const std::string line = "cd " + dir +
                           " && env -u CREDLEDGER_ENDPOINTS -u CREDLEDGER_CACERT -u "
                           "CREDLEDGER_CERT -u CREDLEDGER_KEY " +
                           env + " " + command + " >" + out + " 2>" + err;
  const int status = std::system(line.c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  UNSCOPED_INFO("$ " << env << " " << command << "\n-> exit " << r.exit_code << "\nstdout:\n"
                     << r.out << "\nstderr:\n"
                     << r.err);
  return r;
}

const std::string kCredctl = CREDCTL_PATH;
const std::string kCredaudit = CREDAUDIT_PATH;

// The checkpoint of `chain` at `height`, cosigned by all three test agencies.
ledger::CosignedCheckpoint cosigned_by_all(const ledger::Ledger& chain, uint64_t height) {
  auto c = ledger::checkpoint_at(chain, height);
  REQUIRE(c.is_ok());
  ledger::CosignedCheckpoint cp =
      ledger::make_checkpoint(ledger::checkpoint_origin("credledger-test"), *c);
  for (std::string_view a : {kSamr, kSta, kCourt}) {
    REQUIRE(ledger::cosign(cp, {std::string(a), ledger_test::key_id_of(a), ledger_test::keys_of(a)},
                           1767225600)
                .is_ok());
  }
  return cp;
}

}  // namespace

TEST_CASE("issue 12: credctl and credaudit read TLS files from CREDLEDGER_* variables",
          "[integration][tools][issue12]") {
  ledger_test::TempDir dir;
  const std::string d = dir.path();
  // The files do not exist: the error names the one that was used, which shows where it came
  // from. No node is needed: the files are read before any connection.
  Run r = run(d, kCredctl + " --endpoints 127.0.0.1:1 cluster status",
              "CREDLEDGER_CACERT=" + d + "/env-ca.crt");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains(d + "/env-ca.crt"));

  // A flag wins over the variable.
  r = run(d, kCredctl + " --endpoints 127.0.0.1:1 --cacert " + d + "/flag-ca.crt cluster status",
          "CREDLEDGER_CACERT=" + d + "/env-ca.crt");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains(d + "/flag-ca.crt"));
  CHECK_THAT(r.err, !Catch::Contains("env-ca.crt"));

  // Certificate and key go together, and the message says where each came from.
  spit(d + "/ca.crt", "not a real certificate\n");
  r = run(d, kCredctl + " --endpoints 127.0.0.1:1 cluster status",
          "CREDLEDGER_CACERT=" + d + "/ca.crt CREDLEDGER_CERT=" + d + "/op.crt");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("CREDLEDGER_KEY"));

  r = run(d, kCredctl + " --endpoints 127.0.0.1:1 cluster status",
          "CREDLEDGER_CACERT=" + d + "/ca.crt CREDLEDGER_CERT=" + d +
              "/op.crt CREDLEDGER_KEY=" + d + "/op.key");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains(d + "/op.crt"));

  // credaudit's live mode (verify --node) reads the same variables.
  spit(d + "/genesis.json", ledger_test::test_consortium()->genesis_bytes());
  r = run(d, kCredaudit + " verify --genesis genesis.json --node 127.0.0.1:1",
          "CREDLEDGER_CACERT=" + d + "/env-ca.crt");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains(d + "/env-ca.crt"));
}

TEST_CASE("issue 12: credctl keygen refuses an existing file without --force",
          "[integration][tools][issue12]") {
  ledger_test::TempDir dir;
  const std::string d = dir.path();
  Run r = run(d, kCredctl + " keygen --agency samr --out samr.key");
  REQUIRE(r.exit_code == 0);
  const std::string first = slurp(d + "/samr.key");
  r = run(d, kCredctl + " keygen --agency samr --out samr.key");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("samr.key exists; pass --force to replace it"));
  CHECK(slurp(d + "/samr.key") == first);
  r = run(d, kCredctl + " keygen --agency samr --out samr.key --force");
  CHECK(r.exit_code == 0);
  CHECK(slurp(d + "/samr.key") != first);
  CHECK(ledger::read_key_file(d + "/samr.key").is_ok());  // still mode 0600
  CHECK((std::filesystem::status(d + "/samr.key").permissions() &
         (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none);
  // A key id that cannot name a checkpoint cosigner is refused before anything is written.
  r = run(d, kCredctl + " keygen --agency samr --key-id 'samr k2' --out k2.key");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("samr k2"));
  CHECK_FALSE(std::filesystem::exists(d + "/k2.key"));
}

TEST_CASE("issue 12: no protobuf library log lines reach the tools' output",
          "[integration][tools][issue12]") {
  ledger_test::TempDir dir;
  const std::string d = dir.path();
  // A payload whose event_id (field 1) is not UTF-8: protobuf logs when it refuses to parse it.
  const std::string payload = std::string("\x0a\x01\xff", 3);
  spit(d + "/event.json", "{\"payload\": \"" + ledger::to_base64(payload) +
                              "\", \"key_id\": \"samr-k1\", \"signature\": \"\"}\n");
  Run r = run(d, kCredctl + " event show event.json");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("credctl: "));
  CHECK_THAT(r.err, !Catch::Contains("libprotobuf"));
  CHECK_THAT(r.out, !Catch::Contains("libprotobuf"));

  // The same payload as the leaf of an inclusion proof that credaudit is asked to check.
  ledger_test::TestLedger ledger;
  ledger.apply(
      {ledger_test::sign(ledger_test::make_event("i12-1", kSamr, ledger_test::enterprise(1),
                                                 v1::COMMENDATION, v1::GENERAL, ledger_test::kT0))},
      ledger_test::kT0 + 1000);
  ledger::CosignedCheckpoint cp = cosigned_by_all(ledger.get(), 1);
  auto proof = ledger::make_inclusion_proof(ledger.get(), 0, cp);
  REQUIRE(proof.is_ok());
  std::string leaf = "credledger/event-leaf/v1";
  leaf.push_back('\0');
  for (const std::string& part : {std::string("samr-k1"), payload, std::string(64, 's')}) {
    ledger::put_u32(leaf, static_cast<uint32_t>(part.size()));
    leaf += part;
  }
  proof->leaf_data = leaf;
  spit(d + "/proof.json", ledger::inclusion_proof_to_json(*proof));
  spit(d + "/genesis.json", ledger_test::test_consortium()->genesis_bytes());
  r = run(d, kCredaudit + " inclusion --genesis genesis.json --proof proof.json");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("FAILED"));
  CHECK_THAT(r.err, !Catch::Contains("libprotobuf"));
  CHECK_THAT(r.out, !Catch::Contains("libprotobuf"));
}

TEST_CASE("issue 12: credaudit verify makes its work dir and stops at the first failure",
          "[integration][tools][issue12]") {
  ledger_test::TempDir dir;
  const std::string d = dir.path();
  ledger_test::TestLedger ledger;
  for (int b = 1; b <= 4; ++b) {
    ledger.apply({ledger_test::sign(ledger_test::make_event(
                     "i12-" + std::to_string(b), kSamr, ledger_test::enterprise(10 + b),
                     v1::COMMENDATION, v1::GENERAL, ledger_test::kT0))},
                 ledger_test::kT0 + b * 1000);
  }
  std::vector<v1::Block> blocks;
  for (uint64_t h = 0; h <= 4; ++h) blocks.push_back(*ledger->block(h));
  auto write_chain = [&](const std::string& path, const std::vector<v1::Block>& chain) {
    std::ofstream out(path, std::ios::binary);
    ledger::ChainWriter writer(out);
    for (const v1::Block& b : chain) REQUIRE(writer.write(b).is_ok());
    REQUIRE(writer.finish().is_ok());
  };
  write_chain(d + "/chain.bin", blocks);
  ledger::CosignedCheckpoint cp = cosigned_by_all(ledger.get(), 4);
  spit(d + "/cp.json", ledger::checkpoint_to_json(cp));
  spit(d + "/genesis.json", ledger_test::test_consortium()->genesis_bytes());

  // A work directory that does not exist yet is made.
  Run r = run(d, kCredaudit +
                     " verify --quiet --genesis genesis.json --chain chain.bin --checkpoint cp.json"
                     " --work-dir " +
                     d + "/scratch/replay");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("OK: the chain verifies from genesis"));
  CHECK_THAT(r.out, Catch::Contains("checkpoint  matches"));

  // Block 2 no longer links to block 1: one failure, and nothing after it.
  blocks[2].mutable_header()->set_prev_hash(std::string(32, '\x42'));
  write_chain(d + "/bad.bin", blocks);
  r = run(d, kCredaudit +
                 " verify --quiet --genesis genesis.json --chain bad.bin --checkpoint cp.json"
                 " --work-dir " +
                 d + "/scratch/replay");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::StartsWith("FAILED: check prev_hash failed at height 2"));
  CHECK_THAT(r.out, !Catch::Contains("does NOT match"));
  CHECK_THAT(r.out, !Catch::Contains("head        tree size"));
  CHECK_THAT(r.out, !Catch::Contains("speed"));
  CHECK_THAT(r.err, !Catch::Contains("libprotobuf"));
}

TEST_CASE(
    "issue 12: cluster status asked of a follower shows the leader's view, and file verbs "
    "refuse to overwrite without --force",
    "[integration][tools][issue12]") {
  // A long election timeout (2 s), so that followers still name a killed leader when asked.
  ClusterOptions options;
  options.election_ticks = 100;
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader(30s);
  std::vector<v1::SignedEvent> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(
        signed_event("i12-tools-" + std::to_string(i), kSamr, ledger_test::enterprise(6000 + i)));
  }
  const SubmitResult submitted = submit(cluster, leader, agency_role(kSamr), batch);
  INFO(describe(submitted.status));
  REQUIRE(submitted.status.ok());
  const uint64_t head = cluster.wait_applied_equal(cluster.ids()).front().height();
  uint64_t follower = 0;
  for (uint64_t id : cluster.ids()) {
    if (id != leader) follower = id;
  }
  const std::string d = cluster.dir();
  const std::string as_operator =
      kCredctl + " --insecure --role operator:ops --endpoints " + cluster.address(follower);
  const std::string as_auditor =
      kCredctl + " --insecure --role auditor:i12 --endpoints " + cluster.address(follower);

  SECTION("cluster status asked of a follower") {
    Run r = run(d, as_operator + " cluster status");
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("node " + std::to_string(leader) + " (leader)"));
    CHECK_THAT(r.out, Catch::Contains("asked node " + std::to_string(follower)));
    size_t member_lines = 0;
    std::istringstream lines(r.out);
    std::string line;
    bool in_table = false;
    while (std::getline(lines, line)) {
      if (line.rfind("ID", 0) == 0) {
        in_table = true;
        continue;
      }
      if (!in_table || line.empty()) continue;
      ++member_lines;
      CHECK_THAT(line, !Catch::Contains(" -"));
    }
    CHECK(member_lines == 3);

    r = run(d, as_operator + " -o json cluster status");
    REQUIRE(r.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["node_id"] == std::to_string(leader));
    REQUIRE(j["members"].size() == 3);
    for (const auto& m : j["members"]) CHECK(m.contains("match_index"));

    // With the leader gone (and before a new one is elected) the follower's view is labelled.
    cluster.kill(leader);
    r = run(d, as_operator + " --timeout-ms 1000 cluster status");
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::StartsWith("node " + std::to_string(follower) + " (follower)"));
    CHECK_THAT(r.out, Catch::Contains("a follower's view"));
    CHECK_THAT(r.out, Catch::Contains(cluster.address(leader)));
  }

  SECTION("checkpoint, proof and export refuse an existing --out without --force") {
    // Wait for a quorum checkpoint of the head.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      Run r = run(d, as_auditor + " -o json checkpoint");
      if (r.exit_code == 0 && nlohmann::json::parse(r.out)["height"] == head) break;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(100ms);
    }
    for (const std::string& verb :
         {std::string("checkpoint --out cp.json"),
          std::string("proof inclusion --leaf 3 --out p.json"),
          "proof consistency --old " + std::to_string(head) + " --out c.json",
          std::string("export --out chain.bin")}) {
      INFO(verb);
      const std::string file = d + "/" + verb.substr(verb.rfind(' ') + 1);
      spit(file, "precious\n");
      Run r = run(d, as_auditor + " " + verb);
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.err, Catch::Contains(file.substr(d.size() + 1) +
                                        " exists; pass --force to replace it"));
      CHECK(slurp(file) == "precious\n");
      r = run(d, as_auditor + " " + verb + " --force");
      CHECK(r.exit_code == 0);
      CHECK(slurp(file) != "precious\n");
    }
    // The files written are what credaudit reads.
    Run r = run(d, kCredaudit + " inclusion --genesis " + cluster.genesis_path() +
                       " --checkpoint cp.json --proof p.json");
    CHECK(r.exit_code == 0);
    r = run(d, kCredaudit + " verify --quiet --genesis " + cluster.genesis_path() +
                   " --chain chain.bin --checkpoint cp.json --work-dir " + d + "/replay");
    CHECK(r.exit_code == 0);
  }
}

}  // namespace integration
