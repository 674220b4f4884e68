#pragma once
// The Redis metrics of /metrics (DESIGN §4, issue 4), described once.
//
// Invariants: describe_redis_metrics() is idempotent (the registry keeps the
// first description); the names below are the only ones persist/ writes.
//
//   horao_redis_connected            gauge      1 while the connection is ready (AUTH/SELECT done), else 0
//   horao_redis_reconnects_total     counter    reconnection attempts after a failed or lost connection
//   horao_redis_errors_total{kind}   counter    timeout | connection | reply | batch
//   horao_redis_batch_size           histogram  keys per acknowledged write batch
//   horao_redis_persist_seconds      histogram  round trip of an acknowledged batch (MULTI ... EXEC)
//   horao_redis_pending_keys         gauge      keys changed in memory and not yet acknowledged by Redis
//   horao_redis_persisted_seq        gauge      every change with a sequence <= this is in Redis
//   horao_redis_load_skipped_total   counter    corrupt or foreign entries skipped while loading

#include <string_view>

#include "horao/app/metrics.hpp"

namespace horao::persist {

inline constexpr std::string_view metric_connected = "horao_redis_connected";
inline constexpr std::string_view metric_reconnects = "horao_redis_reconnects_total";
inline constexpr std::string_view metric_errors = "horao_redis_errors_total";
inline constexpr std::string_view metric_batch_size = "horao_redis_batch_size";
inline constexpr std::string_view metric_persist_seconds = "horao_redis_persist_seconds";
inline constexpr std::string_view metric_pending_keys = "horao_redis_pending_keys";
inline constexpr std::string_view metric_persisted_seq = "horao_redis_persisted_seq";
inline constexpr std::string_view metric_load_skipped = "horao_redis_load_skipped_total";

void describe_redis_metrics(app::metric_registry& m);

}  // namespace horao::persist
