#include "horao/persist/redis_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <limits>

#include "horao/app/metrics.hpp"
#include "horao/persist/entry_codec.hpp"
#include "horao/persist/redis_metrics.hpp"

namespace horao::persist {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t max_skipped_examples = 100;
constexpr std::size_t max_logical_key_bytes = 1024;
constexpr std::size_t max_peer_name_bytes = 255;
constexpr std::uint64_t purge_seq = std::numeric_limits<std::uint64_t>::max();

// Claims the prefix for this node atomically: sets node_id if absent, and
// only when it is (now) ours writes format and sequences. Returns 1, or the
// node id that owns the prefix.
constexpr const char* claim_script = R"lua(
if redis.call('HSETNX', KEYS[1], 'node_id', ARGV[1]) == 1 or redis.call('HGET', KEYS[1], 'node_id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'format', ARGV[2], 'seq', ARGV[3], 'persisted', ARGV[3])
  return 1
end
return redis.call('HGET', KEYS[1], 'node_id')
)lua";

// Keys come from Redis: escape what a terminal or a log parser would choke on.
std::string printable(std::string_view key) {
  std::string out;
  const std::size_t limit = std::min<std::size_t>(key.size(), 200);
  for (std::size_t i = 0; i < limit; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (key.size() > limit) out += "...";
  return out;
}

// SCAN MATCH pattern for everything under the prefix.
std::string glob_prefix(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  out += '*';
  return out;
}

bool power_of_two(std::uint64_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

void call_guarded(const std::function<void(bool)>& fn, bool ok) {
  try {
    fn(ok);
  } catch (const std::exception& e) {
    spdlog::error("redis: a durability callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("redis: a durability callback threw");
  }
}

}  // namespace

std::string load_report::summary() const {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f",
                std::chrono::duration_cast<std::chrono::duration<double>>(duration).count());
  if (!ok) return "refused after " + std::string(seconds) + " s: " + error;
  return "loaded " + std::to_string(records) + " records (" + std::to_string(entries) + " entries read, " +
         std::to_string(skipped) + " skipped, " + std::to_string(peers) + " peer cursors), sequence " +
         std::to_string(seq) + ", in " + seconds + " s";
}

redis_store::redis_store(asio::io_context& io, store::record_store& store,
                         std::shared_ptr<redis_connection> connection, redis_store_options options,
                         app::metric_registry* metrics)
    : io_(io),
      store_(store),
      connection_(std::move(connection)),
      options_(std::move(options)),
      record_prefix_(options_.prefix + "r:"),
      metrics_(metrics),
      retry_timer_(io),
      waiter_timer_(io) {
  if (options_.command_timeout <= milliseconds::zero()) options_.command_timeout = milliseconds(2000);
  if (options_.durable_timeout <= milliseconds::zero())
    options_.durable_timeout = 3 * options_.command_timeout;
  options_.max_batch_keys = std::max<std::size_t>(options_.max_batch_keys, 1);
  options_.max_batch_bytes = std::max<std::size_t>(options_.max_batch_bytes, 1);
  options_.load_chunk = std::clamp<std::size_t>(options_.load_chunk, 1, 100000);
  if (options_.retry_initial <= milliseconds::zero()) options_.retry_initial = milliseconds(100);
  options_.retry_max = std::max(options_.retry_max, options_.retry_initial);
  if (metrics_) describe_redis_metrics(*metrics_);
}

redis_store::~redis_store() {
  if (subscription_) store_.unsubscribe(*subscription_);
  for (auto& w : waiters_) call_guarded(w.done, false);
  for (auto& f : flushes_) call_guarded(f.done, false);
}

// ---------------------------------------------------------------- start, stop

void redis_store::start(load_handler loaded) {
  if (phase_ != phase::idle) return;
  phase_ = phase::loading;
  loaded_ = std::move(loaded);
  load_.started = clock_type::now();
  // From the start: a change made while loading (there should be none) is
  // still written once loading is done.
  subscription_ = store_.subscribe([weak = weak_from_this()](const store::change& c) {
    if (auto self = weak.lock()) self->on_change(c);
  });
  connection_->on_state_change([weak = weak_from_this()](bool up) {
    if (auto self = weak.lock()) self->on_connection_state(up);
  });
  if (metrics_) {
    metrics_->on_scrape([weak = weak_from_this()](app::metric_registry& m) {
      if (auto self = weak.lock())
        m.gauge_set(metric_pending_keys, static_cast<double>(self->pending_keys()));
    });
  }
  spdlog::info("redis: loading from {} under prefix '{}' (PERSIST={})", connection_->endpoint().redacted(),
               printable(options_.prefix), options_.mode == app::persist_mode::sync ? "sync" : "async");
  connection_->start();
  if (connection_->ready()) do_load();
}

void redis_store::stop() {
  if (phase_ == phase::stopped) return;
  phase_ = phase::stopped;
  if (subscription_) {
    store_.unsubscribe(*subscription_);
    subscription_.reset();
  }
  retry_timer_.cancel();
  waiter_timer_.cancel();
  in_flight_.clear();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) call_guarded(w.done, false);
  auto flushes = std::move(flushes_);
  flushes_.clear();
  for (auto& f : flushes) {
    if (f.timer) f.timer->cancel();
    call_guarded(f.done, false);
  }
  connection_->stop();
}

void redis_store::on_connection_state(bool up) {
  if (!up || !connection_->ready()) return;  // late news of an older state
  if (phase_ == phase::loading && !load_.in_progress)
    do_load();
  else if (phase_ == phase::ready && !verified())
    do_verify();
}

// ---------------------------------------------------------------- loading

void redis_store::do_load() {
  if (phase_ != phase::loading) return;
  load_.in_progress = true;
  const std::uint64_t generation = ++load_.generation;
  std::vector<redis_connection::command> commands;
  commands.push_back({"HMGET", meta_key(), "format", "node_id", "seq", "purged"});
  commands.push_back({"HGETALL", peers_key()});
  connection_->execute(std::move(commands), [weak = weak_from_this(), generation](redis_result r) {
    if (auto self = weak.lock()) self->on_meta(generation, std::move(r));
  });
}

void redis_store::on_meta(std::uint64_t generation, redis_result result) {
  if (generation != load_.generation || phase_ != phase::loading) return;
  auto interrupted = [this](const std::string& why) {
    load_.in_progress = false;
    ++failures_in_a_row_;
    spdlog::warn("redis: loading interrupted: {}; starting over", why);
    if (connection_->ready()) retry_later();
  };
  if (!result.ok()) return interrupted(result.message);
  const redis_reply& meta = result.replies[0];
  const redis_reply& peers = result.replies[1];
  for (const auto* r : {&meta, &peers}) {
    if (!r->is_error()) continue;
    if (r->str.starts_with("WRONGTYPE")) {
      refuse(
          "key '" + printable(r == &meta ? meta_key() : peers_key()) +
          "' exists but is not a hash: REDIS_PREFIX '" + printable(options_.prefix) +
          "' holds data that is not HORAO's. Point REDIS_PREFIX (or the database in REDIS_URL) elsewhere.");
      return;
    }
    return interrupted(r->str);
  }
  if (!meta.is_array() || meta.elements.size() != 4 || !(peers.is_array() || peers.is_nil()))
    return interrupted("unexpected reply shape for meta");

  const redis_reply& format = meta.elements[0];
  const redis_reply& node = meta.elements[1];
  const redis_reply& seq = meta.elements[2];
  const redis_reply& purged = meta.elements[3];
  if (!format.is_nil()) {
    const auto version = format.as_unsigned();
    if (!version) {
      refuse(
          "'" + printable(meta_key()) + "' field format is '" + printable(format.str) +
          "', not a version number: this is not HORAO data, or it is damaged. Point REDIS_PREFIX elsewhere "
          "or repair the key.");
      return;
    }
    if (*version > static_cast<std::uint64_t>(format_version)) {
      refuse(
          "Redis holds format version " + std::to_string(*version) + " under prefix '" +
          printable(options_.prefix) + "', newer than this daemon's version " +
          std::to_string(format_version) +
          ": it was written by a newer horaod. Upgrade this daemon (downgrading the data is not supported).");
      return;
    }
  }
  if (!node.is_nil() && (!node.is_string() || node.str != options_.node_id)) {
    refuse("prefix '" + printable(options_.prefix) + "' at " + connection_->endpoint().redacted() +
           " belongs to node '" + printable(node.str) + "', but this daemon is '" +
           printable(options_.node_id) +
           "'. Two daemons sharing a prefix would corrupt each other's sequences. Give each daemon its own "
           "REDIS_PREFIX (or database), or set NODE_ID='" +
           printable(node.str) + "' if this really is that node's data.");
    return;
  }
  load_.meta_seq = 0;
  if (!seq.is_nil()) {
    if (auto v = seq.as_unsigned(); v && *v <= max_entry_seq)
      load_.meta_seq = *v;
    else
      skip(meta_key() + " (field seq)", "not a sequence number: '" + printable(seq.str) + "'");
  }
  load_.purged = 0;
  if (!purged.is_nil()) {
    // Unreadable: assume everything up to the stored sequence may have been
    // purged (a peer behind gets a full transfer, never a silent gap).
    if (auto v = purged.as_unsigned(); v && *v <= max_entry_seq)
      load_.purged = *v;
    else {
      skip(meta_key() + " (field purged)", "not a sequence number: '" + printable(purged.str) + "'");
      load_.purged = load_.meta_seq;
    }
  }
  if (peers.is_array()) {
    for (std::size_t i = 0; i + 1 < peers.elements.size(); i += 2) {
      const auto& name = peers.elements[i];
      const auto& value = peers.elements[i + 1];
      const auto v = value.as_unsigned();
      if (!name.is_string() || name.str.empty() || name.str.size() > max_peer_name_bytes || !v) {
        skip(peers_key() + " (field " + name.str + ")",
             "not a peer cursor (peer node id -> decimal sequence)");
        continue;
      }
      cursors_[name.str] = *v;
    }
  }
  do_scan_step(generation, {}, std::string("0"));
}

void redis_store::do_scan_step(std::uint64_t generation, std::vector<std::string> fetch,
                               std::optional<std::string> cursor) {
  if (fetch.empty() && !cursor) {
    do_claim(generation);
    return;
  }
  std::vector<redis_connection::command> commands;
  if (!fetch.empty()) {
    redis_connection::command mget;
    mget.reserve(fetch.size() + 1);
    mget.emplace_back("MGET");
    mget.insert(mget.end(), fetch.begin(), fetch.end());
    commands.push_back(std::move(mget));
  }
  const bool scanning = cursor.has_value();
  if (scanning)
    commands.push_back({"SCAN", *cursor, "MATCH", glob_prefix(options_.prefix), "COUNT",
                        std::to_string(options_.load_chunk)});
  connection_->execute(std::move(commands), [weak = weak_from_this(), generation, fetched = std::move(fetch),
                                             scanning](redis_result r) mutable {
    if (auto self = weak.lock()) self->on_scan_step(generation, std::move(fetched), scanning, std::move(r));
  });
}

void redis_store::on_scan_step(std::uint64_t generation, std::vector<std::string> fetched, bool scanned,
                               redis_result result) {
  if (generation != load_.generation || phase_ != phase::loading) return;
  auto interrupted = [this](const std::string& why) {
    load_.in_progress = false;
    ++failures_in_a_row_;
    spdlog::warn("redis: loading interrupted: {}; starting over", why);
    if (connection_->ready()) retry_later();
  };
  if (!result.ok()) return interrupted(result.message);
  const redis_reply* values = nullptr;
  std::size_t next_reply = 0;
  if (!fetched.empty()) {
    values = &result.replies[next_reply++];
    if (values->is_error()) return interrupted("MGET: " + values->str);
    if (!values->is_array() || values->elements.size() != fetched.size())
      return interrupted("unexpected reply shape for MGET");
  }
  // Ask for the next chunk first, then decode this one while Redis works.
  std::vector<std::string> next;
  std::optional<std::string> cursor;
  if (scanned) {
    const redis_reply& scan = result.replies[next_reply];
    if (scan.is_error()) return interrupted("SCAN: " + scan.str);
    if (!take_scan_reply(scan, next, cursor)) return interrupted("unexpected reply shape for SCAN");
  }
  const bool more = !next.empty() || cursor.has_value();
  if (more) do_scan_step(generation, std::move(next), std::move(cursor));
  if (values) {
    for (std::size_t i = 0; i < fetched.size(); ++i) restore_entry(fetched[i], values->elements[i]);
  }
  if (!more) do_claim(generation);  // after the last page is restored
}

bool redis_store::take_scan_reply(const redis_reply& reply, std::vector<std::string>& keys,
                                  std::optional<std::string>& cursor) {
  if (!reply.is_array() || reply.elements.size() != 2 || !reply.elements[0].is_string() ||
      !reply.elements[1].is_array())
    return false;
  const std::string& next = reply.elements[0].str;
  if (!parse_unsigned(next)) return false;
  if (next != "0") cursor = next;
  const std::string_view record_prefix = this->record_prefix();
  for (const auto& element : reply.elements[1].elements) {
    if (!element.is_string()) return false;
    const std::string& key = element.str;
    if (!key.starts_with(options_.prefix)) continue;  // not under our prefix: not ours to judge
    if (key == meta_key() || key == peers_key()) continue;
    if (!key.starts_with(record_prefix)) {
      skip(key, "not a HORAO key (foreign entry under the prefix)");
      continue;
    }
    const std::string_view logical = std::string_view(key).substr(record_prefix.size());
    const auto [kind, id] = store::split_key(logical);
    if (kind.empty() || id.empty() || logical.size() > max_logical_key_bytes) {
      skip(key, "record key is not kind/id");
      continue;
    }
    keys.push_back(key);
  }
  return true;
}

void redis_store::restore_entry(const std::string& redis_key, const redis_reply& value) {
  if (value.is_nil()) {
    skip(redis_key, "not a string value (another Redis type, or deleted while loading)");
    return;
  }
  if (!value.is_string()) {
    skip(redis_key, "unexpected reply for the value");
    return;
  }
  std::string why;
  auto entry = decode_entry(value.str, &why);
  if (!entry) {
    skip(redis_key, why);
    return;
  }
  const std::string_view logical = std::string_view(redis_key).substr(options_.prefix.size() + 2);
  // SCAN may return a key twice, and a restarted load sees everything again.
  if (const auto* existing = store_.find(logical);
      existing && existing->seq == entry->seq && existing->state == entry->state) {
    ++load_.duplicates;
    return;
  }
  load_.max_record_seq = std::max(load_.max_record_seq, entry->seq);
  store_.restore(logical, std::move(entry->state), entry->seq);
  ++load_.entries;
}

void redis_store::skip(std::string_view redis_key, std::string reason) {
  if (!load_.skipped.emplace(redis_key).second) return;  // counted and logged once
  spdlog::warn("redis: skipping '{}' while loading: {}", printable(redis_key), reason);
  if (metrics_) metrics_->counter_add(metric_load_skipped);
  if (load_.examples.size() < max_skipped_examples)
    load_.examples.emplace_back(printable(redis_key), std::move(reason));
}

void redis_store::do_claim(std::uint64_t generation) {
  store_.restore_sequence(std::max(load_.meta_seq, load_.max_record_seq));
  store_.restore_oldest_replayable(load_.purged);
  const std::string seq = std::to_string(store_.seq());
  connection_->execute(redis_connection::command{"EVAL", claim_script, "1", meta_key(), options_.node_id,
                                                 std::to_string(format_version), seq},
                       [weak = weak_from_this(), generation](redis_result r) {
                         if (auto self = weak.lock()) self->on_claim(generation, std::move(r));
                       });
}

void redis_store::on_claim(std::uint64_t generation, redis_result result) {
  if (generation != load_.generation || phase_ != phase::loading) return;
  const redis_reply* reply = result.ok() ? &result.replies[0] : nullptr;
  if (reply && reply->kind == redis_reply::type::integer && reply->integer == 1) {
    finish_load();
    return;
  }
  if (reply && reply->is_string()) {
    refuse("prefix '" + printable(options_.prefix) + "' was claimed by node '" + printable(reply->str) +
           "' while this daemon ('" + printable(options_.node_id) +
           "') was loading: two daemons share it. Give each daemon its own REDIS_PREFIX (or database).");
    return;
  }
  load_.in_progress = false;
  ++failures_in_a_row_;
  spdlog::warn("redis: cannot record this node in {}: {}; starting over", printable(meta_key()),
               reply ? (reply->is_error() ? reply->str : "unexpected reply") : result.message);
  if (connection_->ready()) retry_later();
}

void redis_store::refuse(std::string message) {
  phase_ = phase::refused;
  refusal_ = message;
  load_.in_progress = false;
  spdlog::error("redis: {}", message);
  load_report report;
  report.ok = false;
  report.error = std::move(message);
  report.skipped = load_.skipped.size();
  report.skipped_examples = load_.examples;
  report.duration = clock_type::now() - load_.started;
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) call_guarded(w.done, false);
  connection_->stop();
  if (auto loaded = std::move(loaded_)) {
    try {
      loaded(report);
    } catch (const std::exception& e) {
      spdlog::error("redis: the load handler threw: {}", e.what());
    }
  }
}

void redis_store::finish_load() {
  phase_ = phase::ready;
  failures_in_a_row_ = 0;
  verified_connection_ = connection_->connections();
  load_.in_progress = false;
  persisted_seq_ = std::max(persisted_seq_, store_.seq());
  if (metrics_) metrics_->gauge_set(metric_persisted_seq, static_cast<double>(persisted_seq_));
  load_report report;
  report.ok = true;
  report.records = store_.size();
  report.entries = load_.entries;
  report.skipped = load_.skipped.size();
  report.skipped_examples = std::move(load_.examples);
  report.peers = cursors_.size();
  report.seq = store_.seq();
  report.duration = clock_type::now() - load_.started;
  load_.skipped.clear();
  load_.examples.clear();
  spdlog::info("redis: {}", report.summary());
  if (report.skipped > 0)
    spdlog::warn(
        "redis: {} entries under prefix '{}' were skipped (see the warnings above); they are left in Redis "
        "untouched",
        report.skipped, printable(options_.prefix));
  if (auto loaded = std::move(loaded_)) {
    try {
      loaded(report);
    } catch (const std::exception& e) {
      spdlog::error("redis: the load handler threw: {}", e.what());
    }
  }
  schedule_batch();
}

// ---------------------------------------------------------------- reconnect check

void redis_store::do_verify() {
  const std::uint64_t generation = ++verify_generation_;
  connection_->execute(redis_connection::command{"HMGET", meta_key(), "node_id", "persisted"},
                       [weak = weak_from_this(), generation](redis_result r) {
                         if (auto self = weak.lock()) self->on_verify(generation, std::move(r));
                       });
}

void redis_store::on_verify(std::uint64_t generation, redis_result result) {
  if (generation != verify_generation_ || phase_ != phase::ready) return;
  if (!result.ok()) return;  // lost again: the next reconnect checks again
  const redis_reply& meta = result.replies[0];
  if (meta.is_error() || !meta.is_array() || meta.elements.size() != 2) {
    spdlog::warn("redis: cannot check {} after reconnecting: {}", printable(meta_key()),
                 meta.is_error() ? meta.str : "unexpected reply");
    retry_later();
    return;
  }
  const redis_reply& node = meta.elements[0];
  if (!node.is_nil() && (!node.is_string() || node.str != options_.node_id)) {
    phase_ = phase::refused;
    refusal_ =
        "prefix '" + printable(options_.prefix) + "' now belongs to node '" + printable(node.str) +
        "', not to this daemon ('" + printable(options_.node_id) +
        "'): two daemons share it. Writes are refused; give each daemon its own REDIS_PREFIX and restart.";
    spdlog::error("redis: {}", refusal_);
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& w : waiters) call_guarded(w.done, false);
    return;
  }
  const std::uint64_t there = node.is_nil() ? 0 : meta.elements[1].as_unsigned().value_or(0);
  if (there < persisted_seq_) {
    std::size_t rewritten = 0;
    store_.changes_since(there, [&](std::uint64_t seq, std::string_view key, const store::stored_record&) {
      mark_dirty(key, seq);
      ++rewritten;
      return true;
    });
    for (const auto& [peer, seq] : cursors_) cursor_updates_.try_emplace(peer, seq);
    spdlog::warn(
        "redis: {} has changes up to sequence {} only, but {} were acknowledged: Redis lost data "
        "(restarted without persistence, or restored from an older backup). Rewriting {} records.",
        connection_->endpoint().redacted(), there, persisted_seq_, rewritten);
  }
  verified_connection_ = connection_->connections();
  schedule_batch();
}

// ---------------------------------------------------------------- writing

void redis_store::on_change(const store::change& c) {
  mark_dirty(c.key, c.entry.seq);
  schedule_batch();
}

void redis_store::purged(std::string_view key) {
  mark_dirty(key, purge_seq);
  schedule_batch();
}

void redis_store::set_peer_cursor(std::string_view peer, std::uint64_t seq) {
  if (peer.empty() || peer.size() > max_peer_name_bytes) return;
  auto it = cursors_.find(peer);
  if (it == cursors_.end()) it = cursors_.emplace(std::string(peer), seq).first;
  it->second = seq;
  cursor_updates_.insert_or_assign(std::string(peer), seq);
  schedule_batch();
}

std::optional<std::uint64_t> redis_store::peer_cursor(std::string_view peer) const {
  auto it = cursors_.find(peer);
  if (it == cursors_.end()) return std::nullopt;
  return it->second;
}

std::size_t redis_store::pending_keys() const {
  std::size_t keys = dirty_.size();
  for (const auto& b : in_flight_) keys += b.keys.size();
  return keys;
}

void redis_store::mark_dirty(std::string_view key, std::uint64_t first_seq) {
  auto it = dirty_.find(key);
  if (it == dirty_.end()) {
    it = dirty_.emplace(std::string(key), first_seq).first;
    dirty_order_.emplace(first_seq, std::string_view(it->first));
    return;
  }
  if (first_seq < it->second) {
    dirty_order_.erase({it->second, std::string_view(it->first)});
    it->second = first_seq;
    dirty_order_.emplace(first_seq, std::string_view(it->first));
  }
}

bool redis_store::verified() const {
  return connection_->ready() && verified_connection_ == connection_->connections();
}

bool redis_store::can_write() const {
  return phase_ == phase::ready && verified();
}

bool redis_store::may_send_batch() const {
  if (retry_pending_ || !can_write()) return false;
  if (!batch_refused_.empty()) return in_flight_.empty();  // one probe at a time
  return in_flight_.size() < std::max<std::size_t>(options_.max_batches_in_flight, 1) && !nothing_to_write();
}

void redis_store::schedule_batch() {
  if (batch_posted_) return;
  if (!may_send_batch()) {
    check_flush();
    return;
  }
  // Posted: every change made by the current handler joins this batch.
  batch_posted_ = true;
  asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->do_batch();
  });
}

void redis_store::do_batch() {
  batch_posted_ = false;
  // While Redis refuses batches, an empty one (meta only) probes it.
  if (!may_send_batch()) return;

  batch b;
  b.started = clock_type::now();
  const std::uint64_t high = store_.seq();
  // First the keys, with the exact size of each entry: MSET's text starts
  // with its argument count, and each entry is then written once, straight
  // into the command text (no argument vector, no copy of the bytes).
  picked_.clear();
  std::size_t bytes = 0;
  std::size_t puts = 0;
  const std::string_view records_prefix = record_prefix();
  while (!dirty_order_.empty() && b.keys.size() < options_.max_batch_keys &&
         bytes < options_.max_batch_bytes) {
    const auto first = dirty_order_.begin();
    auto dirty = dirty_.extract(dirty_.find(first->second));
    dirty_order_.erase(first);
    const store::stored_record* entry = store_.find(dirty.key());
    const std::size_t size = entry ? entry_size(entry->seq, entry->state) : 0;
    bytes += records_prefix.size() + dirty.key().size() + size;
    if (entry) ++puts;
    picked_.push_back({entry, size});
    b.keys.emplace_back(std::move(dirty.key()), dirty.mapped());
  }
  // Every change up to `covered` is in this batch or already in Redis: the
  // dirty keys left behind hold back the ones from their oldest change on.
  b.covered = dirty_order_.empty() ? high : std::min(high, dirty_order_.begin()->first - 1);
  b.cursors = std::move(cursor_updates_);
  cursor_updates_.clear();

  resp_pipeline& text = batch_text_;
  text.clear();
  text.add({"MULTI"});
  if (puts > 0) {
    text.begin(1 + 2 * puts);
    text.arg("MSET");
    for (std::size_t i = 0; i < picked_.size(); ++i) {
      const auto [entry, size] = picked_[i];
      if (entry == nullptr) continue;
      text.arg(records_prefix, b.keys[i].first);
      write_entry(entry->seq, entry->state, text.arg_space(size));
    }
  }
  if (puts < picked_.size()) {  // purged: the tombstone's entry goes too
    text.begin(1 + picked_.size() - puts);
    text.arg("DEL");
    for (std::size_t i = 0; i < picked_.size(); ++i)
      if (picked_[i].first == nullptr) text.arg(records_prefix, b.keys[i].first);
  }
  // The purge horizon goes with the DELs of the purged keys (queued by
  // purged() before the store moved its horizon): never ahead of them, so
  // after a restart a peer behind a purge still gets a full transfer.
  text.add({"HSET", meta_key(), "format", std::to_string(format_version), "node_id", options_.node_id, "seq",
            std::to_string(high), "persisted", std::to_string(b.covered), "purged",
            std::to_string(store_.oldest_replayable())});
  if (!b.cursors.empty()) {
    text.begin(2 + 2 * b.cursors.size());
    text.arg("HSET");
    text.arg(peers_key());
    for (const auto& [peer, seq] : b.cursors) {
      text.arg(peer);
      text.arg(std::to_string(seq));
    }
  }
  text.add({"EXEC"});
  in_flight_.push_back(std::move(b));
  connection_->execute(text, [weak = weak_from_this()](redis_result r) {
    if (auto self = weak.lock()) self->on_batch(std::move(r));
  });
}

void redis_store::on_batch(redis_result result) {
  if (in_flight_.empty()) return;  // stopped meanwhile
  batch b = std::move(in_flight_.front());
  in_flight_.pop_front();

  std::string error;
  if (!result.ok()) {
    error = std::string(to_string(result.status)) + ": " + result.message;
  } else {
    for (std::size_t i = 0; i + 1 < result.replies.size() && error.empty(); ++i) {
      if (result.replies[i].is_error()) error = result.replies[i].str;
    }
    const redis_reply& exec = result.replies.back();
    if (error.empty()) {
      if (exec.is_error())
        error = exec.str;
      else if (!exec.is_array())
        error = "transaction aborted";
      else if (exec.elements.size() + 2 != result.replies.size())
        error = "unexpected number of results from EXEC";
      else
        for (const auto& e : exec.elements)
          if (e.is_error()) {
            error = e.str;
            break;
          }
    }
  }

  if (!error.empty()) {
    ++stats_.batches_failed;
    ++failures_in_a_row_;
    if (metrics_) metrics_->counter_add(metric_errors, {{"kind", "batch"}});
    for (auto& [key, seq] : b.keys) mark_dirty(key, seq);
    // The batches sent after this one cover changes made after these keys':
    // their success must not claim these are persisted.
    for (auto& later : in_flight_) later.advances = false;
    for (auto& [peer, seq] : b.cursors) cursor_updates_.try_emplace(peer, seq);  // a newer value wins
    if (power_of_two(failures_in_a_row_))
      spdlog::warn("redis: a batch of {} keys was not acknowledged ({}); {} keys wait to be written",
                   b.keys.size(), error, pending_keys());
    // Connection failures resume on reconnect; a refusal by Redis (out of
    // memory, read-only replica, ...) is retried after a backoff, and refuses
    // writes in sync mode until a batch goes through.
    if (result.ok()) batch_refused_ = error;
    if (connection_->ready()) retry_later();
    return;
  }

  if (!batch_refused_.empty()) spdlog::info("redis: batches are acknowledged again");
  batch_refused_.clear();
  failures_in_a_row_ = 0;
  ++stats_.batches_ok;
  stats_.keys_written += b.keys.size();
  stats_.last_batch_keys = b.keys.size();
  stats_.max_batch_keys = std::max(stats_.max_batch_keys, b.keys.size());
  if (b.advances) persisted_seq_ = std::max(persisted_seq_, b.covered);
  if (metrics_) {
    metrics_->histogram_observe(metric_batch_size, {}, static_cast<double>(b.keys.size()));
    metrics_->histogram_observe(
        metric_persist_seconds, {},
        std::chrono::duration_cast<std::chrono::duration<double>>(clock_type::now() - b.started).count());
    metrics_->gauge_set(metric_persisted_seq, static_cast<double>(persisted_seq_));
    metrics_->gauge_set(metric_pending_keys, static_cast<double>(pending_keys()));
  }
  complete_waiters();
  for (std::size_t i = 0; i < persisted_observers_.size(); ++i) {
    try {
      persisted_observers_[i](persisted_seq_);
    } catch (const std::exception& e) {
      spdlog::error("redis: a persisted-sequence observer threw: {}", e.what());
    }
  }
  schedule_batch();
  check_flush();
}

void redis_store::retry_later() {
  if (retry_pending_) return;
  retry_pending_ = true;
  const auto shift = std::min<std::uint64_t>(failures_in_a_row_ == 0 ? 0 : failures_in_a_row_ - 1, 20);
  const auto delay =
      std::min<std::int64_t>(options_.retry_max.count(), options_.retry_initial.count() << shift);
  retry_timer_.expires_after(milliseconds(delay));
  retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    self->retry_pending_ = false;
    if (!self->connection_->ready()) return;  // the reconnect picks it up
    if (self->phase_ == phase::loading && !self->load_.in_progress)
      self->do_load();
    else if (self->phase_ == phase::ready && !self->verified())
      self->do_verify();
    else
      self->schedule_batch();
  });
}

// ---------------------------------------------------------------- durability

void redis_store::when_durable(std::uint64_t seq, std::function<void(bool ok)> done) {
  if (!done) return;
  if (options_.mode == app::persist_mode::async || seq <= persisted_seq_) {
    call_guarded(done, true);
    return;
  }
  if (phase_ == phase::refused || phase_ == phase::stopped) {
    call_guarded(done, false);
    return;
  }
  waiters_.push_back({seq, clock_type::now() + options_.durable_timeout, std::move(done)});
  arm_waiter_timer();
}

void redis_store::complete_waiters() {
  std::vector<std::function<void(bool)>> ready;
  std::erase_if(waiters_, [&](waiter& w) {
    if (w.seq > persisted_seq_) return false;
    ready.push_back(std::move(w.done));
    return true;
  });
  for (auto& fn : ready) call_guarded(fn, true);
}

void redis_store::arm_waiter_timer() {
  if (waiter_timer_armed_ || waiters_.empty()) return;
  waiter_timer_armed_ = true;
  waiter_timer_.expires_at(waiters_.front().deadline);
  waiter_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto self = weak.lock()) self->on_waiter_deadline(ec);
  });
}

void redis_store::on_waiter_deadline(const boost::system::error_code& ec) {
  waiter_timer_armed_ = false;
  if (ec) return;
  const auto now = clock_type::now();
  std::vector<std::function<void(bool)>> expired;
  while (!waiters_.empty() && waiters_.front().deadline <= now) {
    expired.push_back(std::move(waiters_.front().done));
    waiters_.pop_front();
  }
  arm_waiter_timer();
  for (auto& fn : expired) call_guarded(fn, false);
}

bool redis_store::accepting_writes(std::string* reason) const {
  auto refuse_with = [reason](std::string text) {
    if (reason) *reason = std::move(text);
    return false;
  };
  switch (phase_) {
    case phase::idle:
      return refuse_with("loading: persistence not started yet");
    case phase::loading:
      if (!connection_->ready())
        return refuse_with("loading: redis unavailable (" + connection_->last_error() + ")");
      return refuse_with("loading: reading records from redis (" + std::to_string(load_.entries) +
                         " so far)");
    case phase::refused:
      return refuse_with("refused: " + refusal_);
    case phase::stopped:
      return refuse_with("persistence stopped (shutting down)");
    case phase::ready:
      break;
  }
  if (options_.mode == app::persist_mode::sync) {
    if (!connection_->ready())
      return refuse_with("redis unavailable (" + connection_->last_error() +
                         "): writes are refused until it is back; reads keep working");
    if (!verified()) return refuse_with("redis reconnected: checking its contents before writing");
    if (!batch_refused_.empty()) return refuse_with("redis refuses writes: " + batch_refused_);
  }
  return true;
}

// ---------------------------------------------------------------- shutdown

void redis_store::flush(clock_type::duration deadline, std::function<void(bool ok)> done) {
  if (!done) return;
  if (settled() || phase_ != phase::ready) {
    call_guarded(done, settled());
    return;
  }
  const std::uint64_t id = next_flush_id_++;
  auto timer = std::make_unique<asio::steady_timer>(io_, deadline);
  timer->async_wait([weak = weak_from_this(), id](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec) return;
    auto it = std::find_if(self->flushes_.begin(), self->flushes_.end(),
                           [id](const auto& f) { return f.id == id; });
    if (it == self->flushes_.end()) return;
    auto fn = std::move(it->done);
    self->flushes_.erase(it);
    spdlog::warn("redis: flush deadline passed with {} keys not written", self->pending_keys());
    call_guarded(fn, false);
  });
  flushes_.push_back({id, std::move(done), std::move(timer)});
  schedule_batch();
}

void redis_store::check_flush() {
  if (flushes_.empty() || !settled()) return;
  auto flushes = std::move(flushes_);
  flushes_.clear();
  for (auto& f : flushes) {
    if (f.timer) f.timer->cancel();
    call_guarded(f.done, true);
  }
}

}  // namespace horao::persist
