// The keys file (auth.keys_file): YAML, one entry per key, holding each token's SHA-256
// and never a token. `ticketd keys create|revoke` rewrite it whole, atomically, under a
// lock (comments in it are not kept); the daemon reads it at start and on SIGHUP.
//
//   keys:
//     - id: 3f9a0c1b2d4e5f60
//       principal: billing
//       scopes: [jobs:submit:report, jobs:read]
//       sha256: 9f86d081884c7d65...
//       created: 2026-12-07T10:00:00.000Z
//       expires: 2027-03-07T10:00:00.000Z   # optional
//       revoked: 2026-12-08T09:00:00.000Z   # optional: set by `ticketd keys revoke`
//   principals:                  # auth.mode mtls: a client certificate's name -> scopes
//     - name: billing            # (written by hand; the commands keep them)
//       scopes: [jobs:submit:report, jobs:read]
#pragma once

#include "auth/api_keys.hpp"
#include "config/config.hpp"

#include <filesystem>
#include <functional>
#include <vector>

namespace ticketd {

// Throws config_error naming file:line:column, what was expected and the fix.
keys_document load_keys_file(const std::filesystem::path& file);

// The keys of auth.keys_file for a start or a reload (none in auth.mode none); a missing
// file is a config_error saying how to make the first key.
keys_document load_keys_for(const daemon_config& config);

std::string render_keys_file(const keys_document& document);

// Reads the file (none yet: no keys), lets `change` edit the keys (the principals are
// kept as they are), writes the result
// durably, all under an exclusive lock on `<file>.lock` so that two commands at once
// cannot lose an entry. Throws config_error or std::system_error.
void update_keys_file(const std::filesystem::path& file, const std::function<void(std::vector<api_key>&)>& change);

}  // namespace ticketd
