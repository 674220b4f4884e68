#pragma once
// The daemon's configuration (DESIGN §7): one struct, defaults in the
// declaration, one parse function.
//
// Invariants: precedence is command-line flags > environment > the .env file
// (--env-file, default ./.env) > the defaults below; parse_config() either
// returns a fully valid config or throws config_error naming the key and the
// accepted form. Secrets (PEER_SECRET) are never part of describe().

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace horao::app {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class persist_mode { sync, async };
enum class log_format { text, json };

struct config {
  std::string node_id;                     // NODE_ID, default: the host name
  std::string listen = "127.0.0.1";        // LISTEN
  std::uint16_t port = 8080;               // PORT
  std::vector<std::string> peers;          // PEERS, comma-separated ws:// or wss:// URLs
  std::string peer_secret;                 // PEER_SECRET
  std::string redis_url;                   // REDIS_URL, empty = in-memory store
  std::string redis_prefix = "horao:";     // REDIS_PREFIX
  persist_mode persist = persist_mode::sync;  // PERSIST
  std::int64_t sync_delta_s = 180;         // SYNC_DELTA, seconds
  std::int64_t sync_max = 1000;            // SYNC_MAX, pending changes
  double clock_offset_s = 0.0;             // CLOCK_OFFSET, seconds, 0 = no limit
  std::int64_t tombstone_ttl_s = 7 * 86400;  // TOMBSTONE_TTL, seconds
  std::int64_t planning_window_days = 30;  // PLANNING_WINDOW
  std::int64_t planning_interval_hours = 1;  // PLANNING_INTERVAL
  std::string log_level = "info";          // LOG_LEVEL: trace|debug|info|warn|error|critical|off
  log_format log_fmt = log_format::text;   // LOG_FORMAT
  std::size_t max_body_bytes = 1 << 20;    // MAX_BODY_BYTES
  std::string tls_cert;                    // TLS_CERT, PEM file
  std::string tls_key;                     // TLS_KEY, PEM file
  std::string api_tokens_file;             // API_TOKENS_FILE
  bool allow_open = false;                 // ALLOW_OPEN
  std::string env_file = ".env";           // --env-file (not a key)
};

// argv: "--key=value" or "--key value" with the key in lower case and '-' for
// '_' (e.g. --sync-delta=60), plus --env-file and --help. `environment` is the
// process environment as a map (injected for tests).
config parse_config(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment);

// Every key with its effective value, secrets masked: for the start-up log.
std::vector<std::pair<std::string, std::string>> describe(const config& c);

}  // namespace horao::app
