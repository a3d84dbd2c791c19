// The consortium configuration (genesis): agencies, their keys and mandates, the legal-basis
// catalog, the scoring rules and the limits, with the lookups validation needs.
//
// The genesis file is protobuf JSON of credledger.v1.ConsortiumConfig. Its exact bytes are
// hashed into block 0's state root, so every node must hold a byte-identical copy.
// Immutable after load; safe to share between threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "ledger/crypto.h"
#include "proto/ledger.pb.h"

namespace ledger {

namespace v1 = credledger::v1;

class Consortium {
 public:
  // Parses and validates genesis bytes. kInvalidArgument saying which field is wrong.
  static base::Result<std::shared_ptr<const Consortium>> from_genesis(std::string genesis_bytes);
  static base::Result<std::shared_ptr<const Consortium>> load_file(const std::string& path);
  // Builds genesis bytes (protobuf JSON, pretty-printed) from a config.
  static base::Result<std::string> to_genesis(const v1::ConsortiumConfig& config);
  // Fills absent scoring rules and limits with the defaults documented in README.md.
  static void apply_defaults(v1::ConsortiumConfig& config);

  const v1::ConsortiumConfig& config() const { return config_; }
  const std::string& genesis_bytes() const { return genesis_bytes_; }
  const Hash& genesis_state_root() const { return genesis_state_root_; }

  struct KeyInfo {
    const v1::Agency* agency;
    std::string public_key;
  };
  const KeyInfo* find_key(std::string_view key_id) const;
  const v1::Agency* find_agency(std::string_view agency_id) const;
  const v1::LegalBasisEntry* find_legal_basis(std::string_view code) const;

  bool mandate_allows_kind(const v1::Agency& agency, v1::EventKind kind) const;
  bool mandate_allows(const v1::Agency& agency, v1::EventKind kind, v1::Sector sector) const;

  int64_t penalty_deduction(v1::Severity severity) const;

 private:
  Consortium() = default;
  base::Status index();

  std::string genesis_bytes_;
  Hash genesis_state_root_{};
  v1::ConsortiumConfig config_;
  std::map<std::string, KeyInfo, std::less<>> keys_;
  std::map<std::string, const v1::Agency*, std::less<>> agencies_;
  std::map<std::string, const v1::LegalBasisEntry*, std::less<>> catalog_;
};

// Names for enums in messages and CLI flags, and their inverse ("real-estate", "REAL_ESTATE"
// and "real_estate" all parse). kInvalidArgument listing the valid names.
base::Result<v1::EventKind> parse_event_kind(std::string_view text);
base::Result<v1::Sector> parse_sector(std::string_view text);
base::Result<v1::Severity> parse_severity(std::string_view text);
base::Result<v1::SubjectKind> parse_subject_kind(std::string_view text);
base::Result<v1::Ruling> parse_ruling(std::string_view text);

}  // namespace ledger
