// credctl: the command line of operators and agencies.
//
// Offline verbs (no node needed): keygen, genesis, event sign, event show, uscc check, subject
// secret, subject pseudonym. Output is a readable table by default and JSON with -o json.
// Exit codes: 0 ok, 1 the answer is "invalid"/"rejected", 2 usage, 3 could not do the work.
#include "tools/credctl.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ledger/checkpoint.h"
#include "ledger/consortium.h"
#include "ledger/crypto.h"
#include "ledger/event.h"
#include "ledger/uscc.h"
#include "ledger/validation.h"
#include "tools/cli_util.h"

namespace {

namespace v1 = credledger::v1;
using tools::kExitFailure;
using tools::kExitOk;
using tools::kExitUsage;

constexpr std::string_view kTool = "credctl";

using credctl::Global;

int fail(const base::Status& status) { return tools::report_error(kTool, status); }

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// ---- keygen ----

struct KeygenArgs {
  std::string agency, key_id, out;
  bool force = false;
};

int run_keygen(const Global& g, const KeygenArgs& a) {
  ledger::KeyFile key;
  key.agency = a.agency;
  key.keys = ledger::generate_keypair();
  key.key_id = a.key_id.empty() ? ledger::default_key_id(a.agency, key.keys.public_key) : a.key_id;
  // The key id names the key's checkpoint cosignatures; a genesis refuses one that cannot.
  if (!ledger::valid_note_key_name(key.key_id)) {
    return fail(base::Status::invalid_argument(
        "key id '" + key.key_id +
        "' cannot be a signed-note key name (no spaces, '+' or control characters); choose "
        "another --agency or --key-id"));
  }
  if (auto s = tools::check_overwrite(a.out, a.force); !s.is_ok()) return fail(s);
  // write_key_file never replaces a file (O_EXCL); --force writes beside the old key and renames
  // over it, so that a failure leaves the old key whole.
  const std::string target = a.force ? a.out + ".tmp" : a.out;
  if (a.force) ::unlink(target.c_str());
  if (auto s = ledger::write_key_file(target, key); !s.is_ok()) return fail(s);
  if (a.force) {
    if (auto s = tools::rename_into_place(target, a.out); !s.is_ok()) return fail(s);
  }
  const std::string pub = ledger::to_base64(key.keys.public_key);
  if (g.json()) {
    std::cout << nlohmann::json{{"agency", key.agency}, {"key_id", key.key_id},
                                {"public_key", pub}, {"file", a.out}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "agency      " << key.agency << "\n"
              << "key id      " << key.key_id << "\n"
              << "public key  " << pub << "\n"
              << "written to  " << a.out << " (mode 0600; keep it secret)\n";
  }
  return kExitOk;
}

// ---- genesis ----

struct GenesisArgs {
  std::string id;
  std::vector<std::string> agencies, keys, mandates;
  std::string catalog, out;
  bool force = false;
};

int run_genesis(const Global& g, const GenesisArgs& a) {
  v1::ConsortiumConfig config;
  config.set_consortium_id(a.id);
  std::map<std::string, v1::Agency*> by_id;
  for (const std::string& spec : a.agencies) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(base::Status::invalid_argument("--agency takes ID=NAME, got '" + spec + "'"));
    }
    v1::Agency* agency = config.add_agencies();
    agency->set_id(spec.substr(0, eq));
    agency->set_name(spec.substr(eq + 1));
    if (!by_id.emplace(agency->id(), agency).second) {
      return fail(base::Status::invalid_argument("agency '" + agency->id() + "' given twice"));
    }
  }
  for (const std::string& path : a.keys) {
    auto key = ledger::read_key_file(path);
    if (!key.is_ok()) return fail(key.status());
    auto it = by_id.find(key->agency);
    if (it == by_id.end()) {
      return fail(base::Status::invalid_argument("key file " + path + " is for agency '" +
                                                 key->agency + "', which no --agency names"));
    }
    v1::AgencyKey* k = it->second->add_keys();
    k->set_key_id(key->key_id);
    k->set_public_key(key->keys.public_key);
  }
  for (const std::string& spec : a.mandates) {
    const std::vector<std::string> parts = split(spec, ':');
    if (parts.size() != 3) {
      return fail(base::Status::invalid_argument(
          "--mandate takes AGENCY:KIND[,KIND...]:SECTOR[,SECTOR...], got '" + spec + "'"));
    }
    auto it = by_id.find(parts[0]);
    if (it == by_id.end()) {
      return fail(base::Status::invalid_argument("--mandate names unknown agency '" + parts[0] + "'"));
    }
    v1::MandateGrant* grant = it->second->add_mandate();
    for (const std::string& k : split(parts[1], ',')) {
      if (k == "*") {
        for (int i = 1; i < v1::EventKind_descriptor()->value_count(); ++i) {
          grant->add_kinds(static_cast<v1::EventKind>(v1::EventKind_descriptor()->value(i)->number()));
        }
        continue;
      }
      auto kind = ledger::parse_event_kind(k);
      if (!kind.is_ok()) return fail(kind.status());
      grant->add_kinds(*kind);
    }
    for (const std::string& s : split(parts[2], ',')) {
      if (s == "*") {
        for (int i = 1; i < v1::Sector_descriptor()->value_count(); ++i) {
          grant->add_sectors(static_cast<v1::Sector>(v1::Sector_descriptor()->value(i)->number()));
        }
        continue;
      }
      auto sector = ledger::parse_sector(s);
      if (!sector.is_ok()) return fail(sector.status());
      grant->add_sectors(*sector);
    }
  }
  // The catalog file is a ConsortiumConfig fragment: "catalog", optionally "scoring", "limits".
  auto catalog_text = tools::read_file(a.catalog);
  if (!catalog_text.is_ok()) return fail(catalog_text.status());
  v1::ConsortiumConfig fragment;
  if (auto s = tools::from_json(*catalog_text, fragment); !s.is_ok()) {
    return fail(s.with_context(a.catalog));
  }
  *config.mutable_catalog() = fragment.catalog();
  if (fragment.has_scoring()) *config.mutable_scoring() = fragment.scoring();
  if (fragment.has_limits()) *config.mutable_limits() = fragment.limits();
  ledger::Consortium::apply_defaults(config);

  auto genesis = ledger::Consortium::to_genesis(config);
  if (!genesis.is_ok()) return fail(genesis.status());
  auto consortium = ledger::Consortium::from_genesis(*genesis);  // validates
  if (!consortium.is_ok()) return fail(consortium.status());
  if (auto s = tools::write_file(a.out, *genesis, a.force); !s.is_ok()) return fail(s);
  const std::string root = ledger::to_hex((*consortium)->genesis_state_root());
  if (g.json()) {
    std::cout << nlohmann::json{{"file", a.out}, {"consortium_id", a.id},
                                {"agencies", config.agencies_size()},
                                {"catalog_entries", config.catalog_size()},
                                {"genesis_state_root", root}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "genesis written to " << a.out << "\n"
              << "consortium   " << a.id << "\n"
              << "agencies     " << config.agencies_size() << "\n"
              << "catalog      " << config.catalog_size() << " legal bases\n"
              << "state root   " << root << " (every node must hold this exact file)\n";
  }
  return kExitOk;
}

// ---- event sign ----

struct SignArgs {
  std::string key, from_json, event_id, issuer, kind, subject_kind = "enterprise", subject,
      national_id_file, secret_file, sector, severity, legal_basis, document, effective, expires,
      refers_to, summary, rating, ruling, issued_at, out;
  bool force = false;
};

base::Result<std::string> read_secret(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, tools::read_file(path));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  auto secret = ledger::from_hex(text);
  if (!secret.is_ok() || secret->size() < 16 || secret->size() > 64) {
    return base::Status::invalid_argument("secret file " + path +
                                          " must hold 16 to 64 bytes as hex");
  }
  return secret;
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return ledger::to_hex(raw);
}

int run_event_sign(const Global& g, const SignArgs& a) {
  auto key = ledger::read_key_file(a.key);
  if (!key.is_ok()) return fail(key.status());
  v1::CreditEvent e;
  if (!a.from_json.empty()) {
    auto text = tools::read_file(a.from_json);
    if (!text.is_ok()) return fail(text.status());
    if (auto s = tools::from_json(*text, e); !s.is_ok()) return fail(s.with_context(a.from_json));
  }
  const int64_t now = tools::now_ms();
  if (!a.event_id.empty()) e.set_event_id(a.event_id);
  if (e.event_id().empty()) e.set_event_id(key->agency + "-" + std::to_string(now) + "-" + random_hex(4));
  e.set_issuer(a.issuer.empty() ? (e.issuer().empty() ? key->agency : e.issuer()) : a.issuer);
  auto set_time = [](const std::string& text, auto setter) -> base::Status {
    if (text.empty()) return base::Status::ok();
    ASSIGN_OR_RETURN(int64_t ms, tools::parse_time_ms(text));
    setter(ms);
    return base::Status::ok();
  };
  if (!a.kind.empty()) {
    auto kind = ledger::parse_event_kind(a.kind);
    if (!kind.is_ok()) return fail(kind.status());
    e.set_kind(*kind);
  }
  if (!a.subject.empty() || !a.national_id_file.empty() || !e.has_subject()) {
    auto subject_kind = ledger::parse_subject_kind(a.subject_kind);
    if (!subject_kind.is_ok()) return fail(subject_kind.status());
    e.mutable_subject()->set_kind(*subject_kind);
  }
  if (!a.national_id_file.empty()) {
    // The raw personal id is read from a file (or /dev/stdin) and never printed or stored.
    if (a.secret_file.empty()) {
      return fail(base::Status::invalid_argument("--national-id-file needs --secret-file"));
    }
    auto secret = read_secret(a.secret_file);
    if (!secret.is_ok()) return fail(secret.status());
    auto id = tools::read_file(a.national_id_file);
    if (!id.is_ok()) return fail(id.status());
    std::string raw = *id;
    while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.pop_back();
    e.mutable_subject()->set_id(ledger::pseudonym(raw, *secret));
  } else if (!a.subject.empty()) {
    e.mutable_subject()->set_id(a.subject);
  }
  if (!a.sector.empty()) {
    auto sector = ledger::parse_sector(a.sector);
    if (!sector.is_ok()) return fail(sector.status());
    e.set_sector(*sector);
  }
  if (!a.severity.empty()) {
    auto severity = ledger::parse_severity(a.severity);
    if (!severity.is_ok()) return fail(severity.status());
    e.set_severity(*severity);
  }
  if (!a.ruling.empty()) {
    auto ruling = ledger::parse_ruling(a.ruling);
    if (!ruling.is_ok()) return fail(ruling.status());
    e.set_ruling(*ruling);
  }
  if (!a.legal_basis.empty()) e.mutable_legal_basis()->set_code(a.legal_basis);
  if (!a.document.empty()) e.mutable_legal_basis()->set_document_ref(a.document);
  if (!a.refers_to.empty()) e.set_refers_to(a.refers_to);
  if (!a.summary.empty()) e.set_summary(a.summary);
  if (!a.rating.empty()) e.set_rating(a.rating);
  for (auto s : {set_time(a.effective, [&](int64_t v) { e.set_effective_at_ms(v); }),
                 set_time(a.expires, [&](int64_t v) { e.set_expires_at_ms(v); }),
                 set_time(a.issued_at, [&](int64_t v) { e.set_issued_at_ms(v); })}) {
    if (!s.is_ok()) return fail(s);
  }
  if (e.effective_at_ms() == 0) e.set_effective_at_ms(now);
  if (e.issued_at_ms() == 0) e.set_issued_at_ms(now);
  if (e.kind() == v1::EVENT_KIND_UNSPECIFIED) {
    return fail(base::Status::invalid_argument("--kind is required (or a kind in --from-json)"));
  }
  if (auto bad = ledger::check_subject(e.subject())) {
    return fail(base::Status::invalid_argument(bad->message));
  }

  const v1::SignedEvent signed_event = ledger::sign_event(e, key->key_id, key->keys.secret_key);
  const std::string json = tools::to_json(signed_event);
  if (a.out.empty()) {
    std::cout << json << "\n";
    return kExitOk;
  }
  if (auto s = tools::write_file(a.out, json + "\n", a.force); !s.is_ok()) return fail(s);
  const std::string hash = ledger::to_hex(ledger::event_hash(signed_event));
  if (g.json()) {
    std::cout << nlohmann::json{{"file", a.out}, {"event_id", e.event_id()},
                                {"event_hash", hash}, {"key_id", key->key_id}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "signed " << v1::EventKind_Name(e.kind()) << " " << e.event_id() << " by "
              << e.issuer() << " (key " << key->key_id << ")\n"
              << "event hash  " << hash << "\n"
              << "written to  " << a.out << "\n";
  }
  return kExitOk;
}

// ---- event show ----

struct ShowArgs {
  std::string file, genesis;
};

int run_event_show(const Global& g, const ShowArgs& a) {
  auto text = tools::read_file(a.file);
  if (!text.is_ok()) return fail(text.status());
  v1::SignedEvent signed_event;
  if (auto s = tools::from_json(*text, signed_event); !s.is_ok()) return fail(s.with_context(a.file));
  auto event = ledger::parse_event_payload(signed_event.payload());
  if (!event.is_ok()) return fail(event.status().with_context(a.file));
  std::optional<ledger::Rejection> rejection;
  bool checked = false;
  if (!a.genesis.empty()) {
    auto consortium = ledger::Consortium::load_file(a.genesis);
    if (!consortium.is_ok()) return fail(consortium.status());
    rejection = ledger::check_event_static(**consortium, signed_event,
                                           ledger::SignatureState::kUnchecked)
                    .rejection;
    checked = true;
  }
  if (g.json()) {
    nlohmann::json j = nlohmann::json::parse(tools::to_json(*event));
    j["key_id"] = signed_event.key_id();
    j["event_hash"] = ledger::to_hex(ledger::event_hash(signed_event));
    if (checked) {
      j["valid"] = !rejection.has_value();
      if (rejection) {
        j["reason"] = v1::RejectReason_Name(rejection->reason);
        j["message"] = rejection->message;
      }
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << tools::to_json(*event) << "\n"
              << "key id      " << signed_event.key_id() << "\n"
              << "event hash  " << ledger::to_hex(ledger::event_hash(signed_event)) << "\n";
    if (checked) {
      std::cout << "static rules " << (rejection ? "FAIL: " + v1::RejectReason_Name(rejection->reason) +
                                                      ": " + rejection->message
                                                : std::string("pass"))
                << "\n";
    }
  }
  return rejection ? kExitFailure : kExitOk;
}

// ---- uscc check ----

int run_uscc_check(const Global& g, const std::vector<std::string>& codes) {
  bool all_valid = true;
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& code : codes) {
    base::Status s = ledger::check_uscc(code);
    all_valid = all_valid && s.is_ok();
    if (g.json()) {
      nlohmann::json r = {{"code", code}, {"valid", s.is_ok()}};
      if (!s.is_ok()) r["error"] = s.message();
      results.push_back(r);
    } else {
      std::cout << code << "  " << (s.is_ok() ? "valid" : "invalid: " + s.message()) << "\n";
    }
  }
  if (g.json()) std::cout << results.dump(2) << "\n";
  return all_valid ? kExitOk : kExitFailure;
}

// ---- subject secret / pseudonym ----

int run_subject_secret(const Global& g, const std::string& out, bool force) {
  std::string raw(32, '\0');
  randombytes_buf(raw.data(), raw.size());
  // Written like a key: only the owner may read it.
  if (auto s = tools::check_overwrite(out, force); !s.is_ok()) return fail(s);
  ::umask(077);
  if (auto s = tools::write_file(out, ledger::to_hex(raw) + "\n", force); !s.is_ok()) return fail(s);
  if (g.json()) {
    std::cout << nlohmann::json{{"file", out}}.dump(2) << "\n";
  } else {
    std::cout << "consortium pseudonym secret written to " << out << " (mode 0600)\n";
  }
  return kExitOk;
}

int run_subject_pseudonym(const Global& g, const std::string& secret_file) {
  auto secret = read_secret(secret_file);
  if (!secret.is_ok()) return fail(secret.status());
  std::string id;
  if (!std::getline(std::cin, id) || id.empty()) {
    return fail(base::Status::invalid_argument("give the national id on standard input"));
  }
  const std::string p = ledger::pseudonym(id, *secret);
  if (g.json()) {
    std::cout << nlohmann::json{{"pseudonym", p}}.dump(2) << "\n";
  } else {
    std::cout << p << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  tools::route_library_logs(kTool);
  ledger::crypto_init();
  CLI::App app{"credctl: operate credledger nodes and sign credit events"};
  app.require_subcommand(1);
  Global g;
  app.add_option("-o,--output", g.output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  int rc = kExitOk;

  KeygenArgs keygen;
  auto* keygen_cmd = app.add_subcommand("keygen", "make an agency Ed25519 signing key file");
  keygen_cmd->add_option("--agency", keygen.agency, "agency id the key belongs to")->required();
  keygen_cmd->add_option("--key-id", keygen.key_id, "key id (default: <agency>-<hash prefix>)");
  keygen_cmd->add_option("--out", keygen.out, "key file to create (mode 0600)")->required();
  keygen_cmd->add_flag("--force", keygen.force, "replace an existing file (its key is lost)");
  keygen_cmd->callback([&] { rc = run_keygen(g, keygen); });

  GenesisArgs genesis;
  auto* genesis_cmd = app.add_subcommand("genesis", "build the consortium genesis file");
  genesis_cmd->add_option("--id", genesis.id, "consortium id")->required();
  genesis_cmd->add_option("--agency", genesis.agencies, "ID=NAME, repeat per agency")->required();
  genesis_cmd->add_option("--key", genesis.keys, "agency key file, repeat (public key is taken)")
      ->required();
  genesis_cmd->add_option("--mandate", genesis.mandates,
                          "AGENCY:KIND[,KIND..]:SECTOR[,SECTOR..] ('*' = all), repeat");
  genesis_cmd->add_option("--catalog", genesis.catalog,
                          "JSON with the legal-basis \"catalog\" (and optional \"scoring\", "
                          "\"limits\")")
      ->required();
  genesis_cmd->add_option("--out", genesis.out, "genesis file to write")->required();
  genesis_cmd->add_flag("--force", genesis.force, "replace an existing file");
  genesis_cmd->callback([&] { rc = run_genesis(g, genesis); });

  auto* event_cmd = app.add_subcommand("event", "sign and inspect credit events");
  event_cmd->require_subcommand(1);
  SignArgs sign;
  auto* sign_cmd = event_cmd->add_subcommand("sign", "build and sign an event");
  sign_cmd->add_option("--key", sign.key, "agency key file")->required();
  sign_cmd->add_option("--from-json", sign.from_json, "CreditEvent JSON to start from");
  sign_cmd->add_option("--event-id", sign.event_id, "unique id (default: generated)");
  sign_cmd->add_option("--issuer", sign.issuer, "issuing agency (default: the key's agency)");
  sign_cmd->add_option("--kind", sign.kind, "e.g. administrative-penalty, blacklist-entry");
  sign_cmd->add_option("--subject-kind", sign.subject_kind, "enterprise, individual, ...")
      ->capture_default_str();
  sign_cmd->add_option("--subject", sign.subject, "USCC, or a 64-hex pseudonym");
  sign_cmd->add_option("--national-id-file", sign.national_id_file,
                       "file (or /dev/stdin) with an individual's national id, pseudonymised");
  sign_cmd->add_option("--secret-file", sign.secret_file, "consortium pseudonym secret (hex)");
  sign_cmd->add_option("--sector", sign.sector, "e.g. real-estate");
  sign_cmd->add_option("--severity", sign.severity, "minor, moderate, serious, very-serious");
  sign_cmd->add_option("--legal-basis", sign.legal_basis, "catalog code");
  sign_cmd->add_option("--document", sign.document, "decision document reference");
  sign_cmd->add_option("--effective", sign.effective, "YYYY-MM-DD[THH:MM:SSZ] (default now)");
  sign_cmd->add_option("--expires", sign.expires, "YYYY-MM-DD[THH:MM:SSZ]");
  sign_cmd->add_option("--refers-to", sign.refers_to, "event id acted on");
  sign_cmd->add_option("--summary", sign.summary, "short public summary");
  sign_cmd->add_option("--rating", sign.rating, "A, B, C or D (credit-rating)");
  sign_cmd->add_option("--ruling", sign.ruling, "upheld or overturned (objection-ruling)");
  sign_cmd->add_option("--issued-at", sign.issued_at, "default now");
  sign_cmd->add_option("--out", sign.out, "write the signed event JSON here (default stdout)");
  sign_cmd->add_flag("--force", sign.force, "replace an existing file");
  sign_cmd->callback([&] { rc = run_event_sign(g, sign); });

  ShowArgs show;
  auto* show_cmd = event_cmd->add_subcommand("show", "decode a signed event; check it with --genesis");
  show_cmd->add_option("file", show.file, "signed event JSON")->required();
  show_cmd->add_option("--genesis", show.genesis, "check signature and static rules");
  show_cmd->callback([&] { rc = run_event_show(g, show); });

  auto* uscc_cmd = app.add_subcommand("uscc", "unified social credit codes");
  uscc_cmd->require_subcommand(1);
  std::vector<std::string> codes;
  auto* check_cmd = uscc_cmd->add_subcommand("check", "validate codes (GB 32100-2015)");
  check_cmd->add_option("code", codes, "codes to check")->required();
  check_cmd->callback([&] { rc = run_uscc_check(g, codes); });

  auto* subject_cmd = app.add_subcommand("subject", "pseudonyms for individuals");
  subject_cmd->require_subcommand(1);
  std::string secret_out;
  bool secret_force = false;
  auto* secret_cmd = subject_cmd->add_subcommand("secret", "make a consortium pseudonym secret");
  secret_cmd->add_option("--out", secret_out, "file to create")->required();
  secret_cmd->add_flag("--force", secret_force, "replace an existing file");
  secret_cmd->callback([&] { rc = run_subject_secret(g, secret_out, secret_force); });
  std::string secret_file;
  auto* pseudo_cmd = subject_cmd->add_subcommand(
      "pseudonym", "print the pseudonym of a national id read from standard input");
  pseudo_cmd->add_option("--secret-file", secret_file, "consortium pseudonym secret")->required();
  pseudo_cmd->callback([&] { rc = run_subject_pseudonym(g, secret_file); });

  credctl::add_node_commands(app, g, rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return rc;
}
