#pragma once
// The daemon's configuration (DESIGN §7): one struct, defaults in the
// declaration, one parse function.
//
// Invariants: precedence is command-line flags > environment > the .env file
// (--env-file, default ./.env) > the defaults below; parse_config() either
// returns a fully valid config (every key in range, cross-key rules held) or
// throws config_error whose message starts with the key and names the accepted
// form. An unknown key in the .env file or an unknown flag is an error;
// unknown environment variables are ignored. Secrets (PEER_SECRET, the
// password in REDIS_URL) never appear in describe() or in an error message.
// Pure: reads only the files it is pointed at and the host name.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace horao::app {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class persist_mode { sync, async };
enum class log_format { text, json };

struct config {
  std::string node_id;                        // NODE_ID, default: the host name, sanitised
  std::string listen = "127.0.0.1";           // LISTEN: an IP literal or "localhost"
  std::uint16_t port = 8080;                  // PORT
  std::vector<std::string> peers;             // PEERS, comma-separated ws:// or wss:// URLs
  std::string peer_secret;                    // PEER_SECRET
  std::string redis_url;                      // REDIS_URL, empty = in-memory store
  std::string redis_prefix = "horao:";        // REDIS_PREFIX
  std::int64_t redis_timeout_ms = 2000;       // REDIS_TIMEOUT_MS, per Redis command
  persist_mode persist = persist_mode::sync;  // PERSIST
  std::int64_t sync_delta_s = 180;            // SYNC_DELTA, seconds
  std::int64_t sync_max = 1000;               // SYNC_MAX, pending changes
  double clock_offset_s = 0.0;                // CLOCK_OFFSET, seconds, 0 = no limit
  std::int64_t tombstone_ttl_s = 7 * 86400;   // TOMBSTONE_TTL, seconds
  std::int64_t planning_window_days = 30;     // PLANNING_WINDOW
  std::int64_t planning_interval_hours = 1;   // PLANNING_INTERVAL
  std::string log_level = "info";             // LOG_LEVEL: trace|debug|info|warn|error|critical|off
  log_format log_fmt = log_format::text;      // LOG_FORMAT
  std::size_t max_body_bytes = 1 << 20;       // MAX_BODY_BYTES
  std::string tls_cert;                       // TLS_CERT, PEM file
  std::string tls_key;                        // TLS_KEY, PEM file
  std::string api_tokens_file;                // API_TOKENS_FILE
  bool allow_open = false;                    // ALLOW_OPEN

  // Not keys: how the daemon was invoked.
  std::string env_file = ".env";  // --env-file
  bool help = false;              // --help: print help_text() and exit 0
  bool check_only = false;        // --check-config: validate, print describe(), exit 0
};

// argv without the program name: "--key=value" or "--key value" with the key
// in lower case and '-' for '_' (e.g. --sync-delta=60), plus --env-file,
// --help and --check-config. `environment` is the process environment as a
// map (injected for tests). With --help the rest is not validated.
config parse_config(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& environment);

// Every key with its effective value, secrets masked: for the start-up log.
std::vector<std::pair<std::string, std::string>> describe(const config& c);

// Usage, every flag, and every key with its default and a one-line explanation.
std::string help_text();

// ---- helpers shared with the modules that use the values ----

// True when `listen` (a valid LISTEN value) only accepts local connections.
bool is_loopback_listen(std::string_view listen);

// NODE_ID's form: [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
bool is_valid_node_id(std::string_view id);
// Maps a host name to a valid node id: other characters become '-', leading
// ones that cannot start an id are dropped, the length is capped; "horao" if
// nothing is left.
std::string sanitize_node_id(std::string_view host_name);

// A PEERS entry: ws://host[:port][/] or wss://host[:port][/]; host is a DNS
// name, an IPv4 literal or a bracketed IPv6 literal (kept without brackets).
struct peer_url {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;  // 80 for ws, 443 for wss when not given
};
std::optional<peer_url> parse_peer_url(std::string_view url);

}  // namespace horao::app
