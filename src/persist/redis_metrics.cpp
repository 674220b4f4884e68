#include "horao/persist/redis_metrics.hpp"

namespace horao::persist {

void describe_redis_metrics(app::metric_registry& m) {
  using app::metric_type;
  m.describe(metric_connected, metric_type::gauge,
             "1 while the Redis connection is up and logged in (AUTH/SELECT done), 0 otherwise");
  m.describe(metric_reconnects, metric_type::counter,
             "Reconnection attempts to Redis after a failed or lost connection");
  m.describe(
      metric_errors, metric_type::counter,
      "Redis failures by kind: timeout (no reply within REDIS_TIMEOUT_MS), connection (lost or refused), "
      "reply (an error reply), batch (a write batch that was not acknowledged)");
  m.describe(metric_batch_size, metric_type::histogram,
             "Keys written per acknowledged Redis batch (group commit)",
             {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000});
  m.describe(metric_persist_seconds, metric_type::histogram,
             "Round trip of an acknowledged Redis write batch (MULTI ... EXEC), seconds");
  m.describe(metric_pending_keys, metric_type::gauge,
             "Keys changed in memory and not yet acknowledged by Redis (dirty plus in flight)");
  m.describe(metric_persisted_seq, metric_type::gauge,
             "Highest local sequence such that every change up to it is acknowledged by Redis");
  m.describe(metric_load_skipped, metric_type::counter,
             "Corrupt or foreign entries under REDIS_PREFIX skipped while loading (logged with their key)");
}

}  // namespace horao::persist
