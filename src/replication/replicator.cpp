#include "horao/replication/replicator.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include "horao/app/logging.hpp"
#include "horao/crdt/hlc.hpp"
#include "horao/replication/peer_dialer.hpp"

namespace horao::replication {
namespace {

namespace asio = boost::asio;
using app::log_debug;
using app::log_error;
using app::log_info;
using app::log_warn;

constexpr std::string_view epoch_field = "self:epoch";
std::string recv_field(std::string_view node) {
  return "recv:" + std::string(node);
}
std::string recv_epoch_field(std::string_view node) {
  return "recv-epoch:" + std::string(node);
}

std::uint64_t random_epoch() {
  std::uint64_t v = 0;
  while (v == 0) {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    for (unsigned char b : bytes) v = (v << 8) | b;
    v &= (std::uint64_t{1} << 62) - 1;  // persist/ keeps values as sequence-sized decimals
  }
  return v;
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs a completion handler's body: nothing may escape into the event loop
// (the daemon treats that as fatal). Only allocation failure or a bug can
// throw here; it is logged and the handler's work is dropped.
template <class F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    log_error("replication: unexpected exception; continuing", {{"in", what}, {"error", e.what()}});
  }
}

// Closes that are part of normal operation, not errors worth showing.
bool benign_close(std::string_view reason) {
  return reason.find("shutting down") != std::string_view::npos ||
         reason.find("duplicate link") != std::string_view::npos;
}

}  // namespace

std::shared_ptr<replicator> replicator::create(asio::io_context& io, store::record_store& store,
                                               store::durability& durability, cursor_store& cursors,
                                               app::metric_registry& metrics, replicator_options options) {
  return std::make_shared<replicator>(io, store, durability, cursors, metrics, std::move(options));
}

replicator::replicator(asio::io_context& io, store::record_store& store, store::durability& durability,
                       cursor_store& cursors, app::metric_registry& metrics, replicator_options options)
    : io_(io),
      store_(store),
      durability_(durability),
      cursors_(cursors),
      metrics_(metrics),
      options_(std::move(options)),
      verifier_(options_.secret, options_.token_window_s),
      tick_timer_(io) {
  const auto self = crdt::node_names().intern(options_.node_id);
  if (!self) throw std::runtime_error("replication: NODE_ID cannot be interned");
  self_ref_ = *self;
  const bool any_tls = std::any_of(options_.peers.begin(), options_.peers.end(),
                                   [](const std::string& u) { return u.rfind("wss://", 0) == 0; });
  if (any_tls) {
    tls_client_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls_client_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    tls_client_->set_default_verify_paths(ec);
    if (!options_.tls_ca_file.empty()) {
      tls_client_->load_verify_file(options_.tls_ca_file, ec);
      if (ec)
        throw std::runtime_error("replication: cannot load trust anchors from '" + options_.tls_ca_file +
                                 "': " + ec.message());
    }
  }
  describe_metrics();
}

replicator::~replicator() {
  if (subscription_) store_.unsubscribe(*subscription_);
}

link_options replicator::link_settings() const {
  link_options o;
  o.handshake_timeout = options_.handshake_timeout;
  o.idle_timeout = options_.idle_timeout;
  return o;
}

std::int64_t replicator::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock::now().time_since_epoch()).count();
}

std::int64_t replicator::wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- lifecycle ---------------------------------------------------------------------

void replicator::start() {
  if (started_ || stopped_) return;
  started_ = true;
  // After recovery: the cursors persistence loaded are readable now.
  if (auto e = cursors_.get(epoch_field); e && *e != 0) {
    epoch_ = *e;
  } else {
    epoch_ = random_epoch();
    cursors_.set(epoch_field, epoch_);
  }
  // Everything present at start was loaded from persistence: durable.
  durable_seq_ = store_.seq();
  subscription_ = store_.subscribe([weak = weak_from_this()](const store::change&) {
    if (auto self = weak.lock()) self->kick();
  });
  metrics_.on_scrape([weak = weak_from_this()](app::metric_registry& m) {
    if (auto self = weak.lock()) guarded("scrape", [&] { self->on_scrape(m); });
  });

  if (options_.secret.empty() && !options_.peers.empty()) {
    log_error("replication: PEERS is set but PEER_SECRET is not; not dialing any peer");
  }
  for (const auto& url : options_.peers) {
    url_entry entry;
    entry.url = url;
    if (!options_.secret.empty()) {
      dialer_options d;
      d.url = url;
      d.node_id = options_.node_id;
      d.secret = options_.secret;
      d.tls = tls_client_;
      d.tls_verify = options_.tls_verify;
      d.connect_timeout = options_.connect_timeout;
      d.reconnect_initial = options_.reconnect_initial;
      d.reconnect_max = options_.reconnect_max;
      d.link = link_settings();
      dialer_events events;
      std::weak_ptr<replicator> weak = weak_from_this();
      events.wanted = [weak, url] {
        auto self = weak.lock();
        return self && self->dial_wanted(url);
      };
      events.attempt = [weak, url] {
        if (auto self = weak.lock())
          self->metrics_.counter_add("horao_peer_reconnects_total", {{"url", url}});
      };
      events.failed = [weak, url](std::string_view error) {
        if (auto self = weak.lock()) self->set_url_error(url, std::string(error));
      };
      entry.dialer = std::make_shared<peer_dialer>(io_, std::move(d), weak_from_this(), std::move(events));
    }
    urls_.push_back(std::move(entry));
  }
  for (auto& entry : urls_)
    if (entry.dialer) entry.dialer->start();

  log_info("replication started", {{"node", options_.node_id},
                                   {"peers", static_cast<std::uint64_t>(options_.peers.size())},
                                   {"sync_delta_s", options_.sync.delta_us / 1'000'000},
                                   {"sync_max", options_.sync.max_pending},
                                   {"epoch", epoch_}});
  tick_timer_.expires_after(options_.tick);
  tick_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->on_tick();
  });
}

void replicator::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (subscription_) {
    store_.unsubscribe(*subscription_);
    subscription_.reset();
  }
  tick_timer_.cancel();
  for (auto& entry : urls_)
    if (entry.dialer) entry.dialer->stop();
  for (auto& [node, p] : peers_) persist_acked(p);
  std::vector<std::shared_ptr<peer_link>> open;
  for (auto& [id, info] : links_)
    if (auto l = info.link.lock()) open.push_back(std::move(l));
  for (auto& l : open) l->close("shutting down");
}

void replicator::shutdown(std::chrono::steady_clock::duration deadline, std::function<void()> done) {
  if (stopped_ || !started_) {
    stop();
    if (done) done();
    return;
  }
  shutdown_done_ = std::move(done);
  shutdown_deadline_ = clock::now() + deadline;
  refresh_durable();
  sync_now();
  check_shutdown();
}

void replicator::check_shutdown() {
  if (!shutdown_done_) return;
  bool idle = true;
  const std::uint64_t limit = std::min(durable_seq_, store_.seq());
  for (auto& [node, p] : peers_) {
    if (!p.active() || !p.cursor.in_session()) continue;
    if (p.comparing != 0 || p.cursor.inflight_deltas() > 0 || p.cursor.sent() < limit) idle = false;
  }
  if (!idle && clock::now() < shutdown_deadline_) return;
  if (!idle) log_warn("replication: peers did not acknowledge everything before the shutdown deadline");
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  stop();
  done();
}

void replicator::kick() {
  if (kick_posted_ || stopped_) return;
  kick_posted_ = true;
  asio::post(io_, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->kick_posted_ = false;
    if (self->stopped_) return;
    guarded("kick", [&] {
      self->refresh_durable();
      const auto now = self->now_us();
      for (auto& [node, p] : self->peers_) self->evaluate(p, now);
    });
  });
}

void replicator::on_tick() {
  if (stopped_) return;
  guarded("tick", [&] { tick_once(); });
  if (stopped_) return;
  auto next = options_.tick;
  // PERSIST=async: durability is learned by polling, so poll fast while behind.
  if (options_.persisted_seq && durable_seq_ < store_.seq())
    next = std::min(next, std::chrono::milliseconds(5));
  tick_timer_.expires_after(next);
  tick_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->on_tick();
  });
}

void replicator::tick_once() {
  refresh_durable();
  const auto now = now_us();
  for (auto& [node, p] : peers_) {
    evaluate(p, now);
    sync_cursor(p, now);
  }
  // A link that never said hello is closed after the handshake timeout.
  std::vector<std::shared_ptr<peer_link>> silent;
  for (auto& [id, info] : links_) {
    if (info.hello) continue;
    if (now - info.opened_us >
        std::chrono::duration_cast<std::chrono::microseconds>(options_.handshake_timeout).count())
      if (auto l = info.link.lock()) silent.push_back(std::move(l));
  }
  for (auto& l : silent) l->close("no hello in time");
  check_shutdown();
}

void replicator::refresh_durable() {
  const std::uint64_t seq = store_.seq();
  if (options_.persisted_seq) {
    durable_seq_ = std::max(durable_seq_, std::min(seq, options_.persisted_seq()));
    return;
  }
  if (durable_seq_ >= seq || durable_wait_) return;
  durable_wait_ = true;
  durability_.when_durable(seq, [weak = weak_from_this(), seq](bool ok) {
    auto self = weak.lock();
    if (!self) return;
    self->durable_wait_ = false;
    if (!ok) return;  // persistence is down: the tick asks again
    if (seq > self->durable_seq_) {
      self->durable_seq_ = seq;
      self->kick();
    }
  });
}

// ---- status -------------------------------------------------------------------------

replicator::url_entry* replicator::url_of(const std::string& url) {
  for (auto& e : urls_)
    if (e.url == url) return &e;
  return nullptr;
}

bool replicator::dial_wanted(const std::string& url) const {
  if (stopped_) return false;
  for (const auto& e : urls_) {
    if (e.url != url) continue;
    if (e.self) return false;
    if (e.node.empty()) return true;
    auto p = peers_.find(e.node);
    // Connected already (the peer dialed us, or another URL reaches it).
    return p == peers_.end() || !p->second.active();
  }
  return true;
}

void replicator::set_error(peer& p, std::string error) {
  p.last_error = std::move(error);
  p.last_error_us = wall_now_us();
}

void replicator::set_url_error(const std::string& url, std::string error) {
  auto* e = url_of(url);
  if (!e) return;
  if (e->last_error != error) log_warn("replication: peer unreachable", {{"url", url}, {"error", error}});
  e->last_error = std::move(error);
  e->last_error_us = wall_now_us();
}

std::vector<peer_status> replicator::status() const {
  std::vector<peer_status> out;
  const std::uint64_t seq = store_.seq();
  auto fill = [&](peer_status& s, const peer& p) {
    s.node = p.node;
    s.connected = p.active() != nullptr;
    s.pending = p.cursor.pending(seq);
    s.acked_seq = p.cursor.acked();
    s.last_push_us = p.last_push_wall_us;
    s.received_seq = p.recv_seq;
    s.inflight_bytes = p.cursor.inflight_bytes();
    s.full_transfers = p.full_transfers;
  };
  std::vector<std::string> shown;
  for (const auto& e : urls_) {
    peer_status s;
    s.url = e.url;
    s.pending = seq;  // nothing is known to have reached it
    std::int64_t error_us = e.last_error_us;
    s.last_error = e.last_error;
    if (!e.node.empty()) {
      if (auto it = peers_.find(e.node); it != peers_.end()) {
        fill(s, it->second);
        shown.push_back(e.node);
        if (it->second.last_error_us > error_us) s.last_error = it->second.last_error;
      } else {
        s.node = e.node;
      }
    }
    out.push_back(std::move(s));
  }
  for (const auto& [node, p] : peers_) {
    if (std::find(shown.begin(), shown.end(), node) != shown.end()) continue;
    peer_status s;
    fill(s, p);
    s.last_error = p.last_error;
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::json replicator::peers_json() const {
  auto rows = nlohmann::json::array();
  for (const auto& s : status()) {
    rows.push_back(
        {{"url", s.url.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.url)},
         {"node", s.node.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.node)},
         {"connected", s.connected},
         {"pending", s.pending},
         {"acked_seq", s.acked_seq},
         {"last_push", s.last_push_us == 0 ? nlohmann::json(nullptr)
                                           : nlohmann::json(crdt::format_time_us(s.last_push_us))},
         {"last_error", s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error)}});
  }
  return rows;
}

void replicator::describe_metrics() {
  using app::metric_type;
  metrics_.describe("horao_peer_pushes_total", metric_type::counter,
                    "Pushes to a peer: a sync-rule firing (or sync now) that sent at least one delta");
  metrics_.describe("horao_peer_bytes_sent_total", metric_type::counter,
                    "Replication frame bytes sent to a peer");
  metrics_.describe("horao_peer_bytes_received_total", metric_type::counter,
                    "Replication frame bytes received from a peer");
  metrics_.describe("horao_peer_records_sent_total", metric_type::counter,
                    "Record states sent to a peer in deltas");
  metrics_.describe("horao_peer_records_received_total", metric_type::counter,
                    "Record states received from a peer in deltas");
  metrics_.describe("horao_peer_rejected_deltas_total", metric_type::counter,
                    "Deltas from a peer this daemon refused (reason clock: CLOCK_OFFSET guard; unavailable: "
                    "could not persist)");
  metrics_.describe("horao_peer_refused_deltas_total", metric_type::counter,
                    "Deltas this daemon sent that the peer refused (retried after a backoff)");
  metrics_.describe("horao_peer_reconnects_total", metric_type::counter,
                    "Dial attempts to a PEERS URL after the first");
  metrics_.describe("horao_peer_full_transfers_total", metric_type::counter,
                    "Sessions that had to start from sequence 0 (new peer, or its cursor was too old)");
  metrics_.describe("horao_peer_protocol_errors_total", metric_type::counter,
                    "Links closed because a peer broke the protocol");
  metrics_.describe("horao_peer_auth_failures_total", metric_type::counter,
                    "Refused /v1/peer upgrades, by reason");
  metrics_.describe("horao_peer_pending", metric_type::gauge,
                    "Changes not yet acknowledged by a peer (local seq - acked seq)");
  metrics_.describe("horao_peer_connected", metric_type::gauge, "1 while a peer's link is up");
  metrics_.describe("horao_peer_acked_seq", metric_type::gauge,
                    "The last local sequence a peer acknowledged");
  metrics_.describe("horao_peer_received_seq", metric_type::gauge,
                    "The last sequence of a peer's log applied and persisted here");
  metrics_.describe("horao_peer_inflight_bytes", metric_type::gauge,
                    "Unacknowledged delta bytes sent to a peer");
}

void replicator::on_scrape(app::metric_registry& m) {
  const std::uint64_t seq = store_.seq();
  for (const auto& [node, p] : peers_) {
    const app::metric_registry::labels l{{"peer", node}};
    m.gauge_set("horao_peer_pending", l, static_cast<double>(p.cursor.pending(seq)));
    m.gauge_set("horao_peer_connected", l, p.active() ? 1 : 0);
    m.gauge_set("horao_peer_acked_seq", l, static_cast<double>(p.cursor.acked()));
    m.gauge_set("horao_peer_received_seq", l, static_cast<double>(p.recv_seq));
    m.gauge_set("horao_peer_inflight_bytes", l, static_cast<double>(p.cursor.inflight_bytes()));
  }
}

// ---- inbound admission ------------------------------------------------------------------

replicator::admission replicator::admit(std::string_view token, std::string_view remote_address) {
  admission a;
  if (!started_ || stopped_) {
    a.status = 503;
    a.message = stopped_ ? "shutting down" : "starting: replication is not running yet";
    return a;
  }
  std::string node;
  const token_status st = verifier_.verify(token, unix_seconds(), &node);
  if (st != token_status::ok) {
    a.message = std::string(to_string(st));
    metrics_.counter_add("horao_peer_auth_failures_total", {{"reason", a.message}});
    log_warn("replication: refused a peer upgrade", {{"remote", remote_address}, {"reason", a.message}});
    return a;
  }
  a.ok = true;
  a.node = std::move(node);
  a.nonce = std::string(token_nonce(token));
  return a;
}

// ---- links ----------------------------------------------------------------------------------

replicator::peer& replicator::peer_for(const std::string& node) {
  auto it = peers_.find(node);
  if (it != peers_.end()) return it->second;
  it = peers_
           .try_emplace(node, node, options_.max_inflight_bytes, options_.reject_initial, options_.reject_max)
           .first;
  peer& p = it->second;
  const auto ref = crdt::node_names().intern(node);
  p.node_ref = ref ? *ref : 0;
  if (auto acked = cursors_.get(node)) {
    p.cursor.restore(*acked);
    p.persisted_acked = *acked;
  }
  if (auto r = cursors_.get(recv_field(node))) p.recv_seq = *r;
  if (auto e = cursors_.get(recv_epoch_field(node))) p.recv_epoch = *e;
  return p;
}

hello_message replicator::make_hello(const peer& p, const std::shared_ptr<peer_link>& link) {
  hello_message h;
  h.node = options_.node_id;
  h.epoch = epoch_;
  h.digest = store_.digest();
  h.seq = store_.seq();
  h.records = store_.size();
  h.received = p.recv_seq;
  h.received_epoch = p.recv_epoch;
  if (!link->outbound()) h.proof = make_hello_proof(options_.secret, options_.node_id, link->token_nonce());
  return h;
}

void replicator::send_frame(peer& p, frame f) {
  auto link = p.active();
  if (!link) return;
  metrics_.counter_add("horao_peer_bytes_sent_total", {{"peer", p.node}}, static_cast<double>(f.size()));
  link->send(std::move(f));
}

void replicator::send(peer& p, const message& m) {
  send_frame(p, encode(m));
}

void replicator::on_link_open(const std::shared_ptr<peer_link>& link) {
  links_[link->id()] = link_info{link, false, {}, now_us()};
  if (stopped_) {
    link->close("shutting down");
    return;
  }
  if (link->outbound()) return;  // the inbound side speaks first
  if (link->token_node() == options_.node_id) {
    link->close("connected to itself");
    return;
  }
  peer& p = peer_for(link->token_node());
  link->send(encode(make_hello(p, link)));
}

void replicator::protocol_error(const std::shared_ptr<peer_link>& link, const std::string& why) {
  std::string node;
  if (auto it = links_.find(link->id()); it != links_.end()) node = it->second.node;
  if (node.empty()) node = link->outbound() ? link->url() : link->token_node();
  log_warn("replication: protocol error; closing the link",
           {{"peer", node}, {"remote", link->remote_address()}, {"error", why}});
  metrics_.counter_add("horao_peer_protocol_errors_total", {{"peer", node}});
  if (auto p = peers_.find(node); p != peers_.end()) set_error(p->second, "protocol error: " + why);
  if (link->outbound()) set_url_error(link->url(), "protocol error: " + why);
  link->close("protocol error: " + why);
}

void replicator::on_link_frame(const std::shared_ptr<peer_link>& link, std::string_view bytes) {
  auto it = links_.find(link->id());
  if (it == links_.end() || stopped_) return;
  std::string error;
  auto m = decode(bytes, &error);
  if (!m) return protocol_error(link, "bad frame: " + error);
  link_info& info = it->second;
  if (auto* h = std::get_if<hello_message>(&*m)) return handle_hello(link, info, std::move(*h));
  if (!info.hello)
    return protocol_error(link, std::string("expected a hello, got ") + std::string(type_name(*m)));
  auto pit = peers_.find(info.node);
  if (pit == peers_.end() || pit->second.link_id != link->id()) return;  // a link on its way out
  peer& p = pit->second;
  metrics_.counter_add("horao_peer_bytes_received_total", {{"peer", p.node}},
                       static_cast<double>(bytes.size()));
  std::visit(
      [&](auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, deltas_message>)
          handle_deltas(p, std::move(msg));
        else if constexpr (std::is_same_v<T, ack_message>)
          handle_ack(p, msg);
        else if constexpr (std::is_same_v<T, reject_message>)
          handle_reject(p, msg);
        else if constexpr (std::is_same_v<T, bucket_request_message>)
          handle_bucket_request(p, msg);
        else if constexpr (std::is_same_v<T, buckets_message>)
          handle_buckets(p, msg);
        else if constexpr (std::is_same_v<T, keys_request_message>)
          handle_keys_request(p, msg);
        else if constexpr (std::is_same_v<T, keys_message>)
          handle_keys(p, msg);
      },
      *m);
}

void replicator::on_link_drained(const std::shared_ptr<peer_link>& link) {
  auto it = links_.find(link->id());
  if (it == links_.end() || !it->second.hello) return;
  auto pit = peers_.find(it->second.node);
  if (pit != peers_.end() && pit->second.link_id == link->id()) pump(pit->second);
}

void replicator::on_link_closed(const std::shared_ptr<peer_link>& link, std::string_view reason) {
  auto it = links_.find(link->id());
  if (it == links_.end()) return;
  const link_info info = std::move(it->second);
  links_.erase(it);
  const bool error = !benign_close(reason) && !stopped_;
  if (!info.node.empty()) {
    auto pit = peers_.find(info.node);
    if (pit != peers_.end() && pit->second.link_id == link->id()) deactivate(pit->second, reason, error);
  } else if (link->outbound() && reason.find("connected to itself") != std::string_view::npos) {
    if (auto* e = url_of(link->url()); e && !e->self) {
      e->self = true;
      log_warn("replication: this PEERS URL reaches this daemon itself; not dialing it again",
               {{"url", link->url()}});
      set_url_error(link->url(), "this URL reaches this daemon itself");
    }
  } else if (error && link->outbound()) {
    set_url_error(link->url(), "link closed before the hello: " + std::string(reason));
  }
  check_shutdown();
}

void replicator::handle_hello(const std::shared_ptr<peer_link>& link, link_info& info, hello_message h) {
  if (info.hello) return protocol_error(link, "a second hello");
  const std::string where = link->outbound() ? link->url() : link->remote_address();
  if (h.version != protocol_version) {
    log_error("replication: the peer speaks another protocol version; refusing the link",
              {{"peer", h.node}, {"at", where}, {"peer_version", h.version}, {"version", protocol_version}});
    const std::string why = "incompatible protocol version " + std::to_string(h.version) +
                            " (this daemon speaks " + std::to_string(protocol_version) + ")";
    if (link->outbound()) set_url_error(link->url(), why);
    link->close("incompatible protocol version; this daemon speaks " + std::to_string(protocol_version));
    return;
  }
  if (h.node == options_.node_id) {
    if (link->outbound()) {
      log_warn("replication: this PEERS URL reaches this daemon itself; not dialing it again",
               {{"url", where}});
      if (auto* e = url_of(link->url())) e->self = true;
      set_url_error(link->url(), "this URL reaches this daemon itself");
    }
    link->close("connected to itself");
    return;
  }
  if (!link->outbound() && h.node != link->token_node())
    return protocol_error(link, "the hello names another node than the token");
  if (link->outbound() && !check_hello_proof(options_.secret, h.node, link->token_nonce(), h.proof)) {
    log_error("replication: the peer did not prove that it holds PEER_SECRET; refusing the link",
              {{"url", where}, {"peer", h.node}});
    set_url_error(link->url(), "the peer did not prove that it holds PEER_SECRET");
    link->close("authentication failed");
    return;
  }
  info.hello = true;
  info.node = h.node;
  if (link->outbound()) {
    if (auto* e = url_of(link->url())) e->node = h.node;
  }
  peer& p = peer_for(h.node);
  if (auto current = p.active(); current && current->id() != link->id()) {
    // Two links to one peer: keep the one dialed by the smaller node id; a
    // newer link from the same dialer replaces the older (which is likely dead).
    const std::string& new_dialer = link->outbound() ? options_.node_id : h.node;
    const std::string& current_dialer = current->outbound() ? options_.node_id : h.node;
    if (new_dialer != current_dialer && current_dialer < new_dialer) {
      log_debug("replication: closing a duplicate link", {{"peer", h.node}, {"at", where}});
      link->close("duplicate link");
      return;
    }
    deactivate(p, "replaced by a newer link", false);
    current->close("duplicate link");
  }
  activate(p, link, h);
}

void replicator::activate(peer& p, const std::shared_ptr<peer_link>& link, const hello_message& h) {
  p.link = link;
  p.link_id = link->id();
  ++p.session;
  if (link->outbound()) link->send(encode(make_hello(p, link)));
  if (p.node_ref == 0) {
    // The process-wide node table is full: this peer's records could not be
    // attributed. Refuse rather than forward them wrongly.
    protocol_error(link, "too many distinct node ids");
    return;
  }

  // Receiver: the peer resumes from what our hello said, if it is its epoch.
  p.peer_epoch = h.epoch;
  p.expected_from = p.recv_epoch == h.epoch ? p.recv_seq : 0;
  p.last_ack_sent = p.expected_from;
  p.mode = recv_mode::normal;
  p.replies.clear();

  // Sender: resume from what the peer holds of our log, if it is our epoch.
  std::uint64_t resume = h.received_epoch == epoch_ ? h.received : 0;
  if (resume > durable_seq_) {
    log_warn(
        "replication: the peer holds more of this daemon's log than this daemon has persisted (Redis "
        "restored "
        "from an older backup?); sending the whole state",
        {{"peer", p.node}, {"peer_has", resume}, {"persisted", durable_seq_}});
    resume = 0;
  }
  if (resume != 0 && resume < store_.oldest_replayable()) resume = 0;  // tombstones purged since: full state
  p.cursor.start_session(resume);
  p.wire_from = p.wire_acked = resume;
  p.no_skip_up_to = resume == 0 ? store_.seq() : 0;
  p.filter = bucket_filter{};
  p.comparing = 0;
  p.push_wanted = false;
  p.push_counted = false;
  p.paused_until_us = 0;
  p.reject_backoff.reset();
  p.last_push_steady_us = now_us();  // the hello exchange is a sync point
  p.last_frame_us = p.last_push_steady_us;
  // Connected: earlier errors about this peer are history.
  p.last_error.clear();
  p.last_error_us = 0;
  for (auto& e : urls_) {
    if (e.node == p.node || (link->outbound() && e.url == link->url())) {
      e.last_error.clear();
      e.last_error_us = 0;
    }
  }

  std::string mode;
  const std::uint64_t limit = std::min(durable_seq_, store_.seq());
  if (h.digest == store_.digest()) {
    // Equal states: the peer holds everything our log has. Move its cursor
    // (and ours) to the durable end with one empty delta.
    mode = "in sync";
    if (resume < limit) {
      frame f = encode(deltas_message{resume, limit, {}});
      const std::size_t size = f.size();
      send_frame(p, std::move(f));
      p.cursor.on_sent(limit, size);
      p.wire_from = limit;
    }
  } else if (resume == 0 && h.records > 0 && store_.size() > 0) {
    // Both hold state and the log cannot tell what the peer lacks: compare
    // bucket digests, then send only the buckets that differ.
    mode = "anti-entropy";
    ++p.full_transfers;
    metrics_.counter_add("horao_peer_full_transfers_total", {{"peer", p.node}});
    p.peer_records = h.records;
    p.bucket_count = choose_bucket_count(std::max<std::uint64_t>(h.records, store_.size()));
    p.comparing = 1;
    send(p, bucket_request_message{p.bucket_count});
  } else {
    mode = resume == 0 ? "full transfer" : "resume";
    if (resume == 0 && store_.size() > 0) {
      ++p.full_transfers;
      metrics_.counter_add("horao_peer_full_transfers_total", {{"peer", p.node}});
    }
    p.push_wanted = true;
    p.cursor.request_push(store_.seq());
  }
  log_info("replication: peer connected", {{"peer", p.node},
                                           {"direction", link->outbound() ? "outbound" : "inbound"},
                                           {"at", link->outbound() ? link->url() : link->remote_address()},
                                           {"mode", mode},
                                           {"resume_from", resume},
                                           {"local_seq", store_.seq()},
                                           {"peer_seq", h.seq}});
  pump(p);
}

void replicator::deactivate(peer& p, std::string_view reason, bool error) {
  p.link.reset();
  p.link_id = 0;
  ++p.session;
  p.cursor.end_session();
  p.replies.clear();
  p.mode = recv_mode::normal;
  p.comparing = 0;
  p.filter = bucket_filter{};
  p.push_wanted = false;
  p.push_counted = false;
  if (error) set_error(p, "link lost: " + std::string(reason));
  persist_acked(p);
  log_info("replication: peer disconnected", {{"peer", p.node}, {"reason", reason}});
}

// ---- receiving ------------------------------------------------------------------------------

void replicator::handle_deltas(peer& p, deltas_message d) {
  switch (p.mode) {
    case recv_mode::reject_queued:
      return;  // the sender has not seen our reject yet: this one is refused too
    case recv_mode::reject_sent:
      if (d.from_seq > p.last_ack_sent) return;  // sent before our reject arrived
      p.mode = recv_mode::normal;
      break;
    case recv_mode::normal:
      if (d.from_seq > p.expected_from) {
        auto link = p.active();
        if (link)
          protocol_error(link, "delta starts after " + std::to_string(d.from_seq) + ", expected at most " +
                                   std::to_string(p.expected_from));
        return;
      }
      break;
  }
  if (p.replies.size() >= options_.max_pending_replies) {
    if (auto link = p.active()) protocol_error(link, "too many deltas awaiting acknowledgement");
    return;
  }
  metrics_.counter_add("horao_peer_records_received_total", {{"peer", p.node}},
                       static_cast<double>(d.records.size()));

  // All or nothing against the CLOCK_OFFSET guard.
  for (const auto& r : d.records) {
    const crdt::hlc newest = std::max(r.state.updated(), r.state.deleted());
    if (!store_.clock().acceptable(newest)) {
      const double ahead_s = static_cast<double>(newest.wall_us - store_.clock().now_us()) / 1e6;
      queue_reject(p, reject_reason::clock,
                   "record " + r.key + " is stamped " + crdt::to_string(newest) + ", " +
                       std::to_string(ahead_s) + " s ahead of this daemon's clock (CLOCK_OFFSET=" +
                       std::to_string(options_.clock_offset_s) + ")",
                   d.to_seq);
      return;
    }
  }
  std::string why;
  if (!durability_.accepting_writes(&why)) {
    queue_reject(p, reject_reason::unavailable, "cannot persist now: " + why, d.to_seq);
    return;
  }
  for (const auto& r : d.records) {
    // The change counts as the peer's (and is not sent back to it) only when
    // the merged state is exactly what the peer sent; if our state had
    // something the peer lacks, the join is new to the peer as well.
    crdt::node_id from = p.node_ref;
    if (const auto* local = store_.find(r.key)) {
      crdt::record joined = r.state;
      if (joined.merge(local->state)) from = self_ref_;
    }
    if (store_.merge(r.key, r.state, from) == store::merge_outcome::rejected_clock) {
      // Cannot happen after the check above (same clock, no time passed);
      // answer as the guard would.
      queue_reject(p, reject_reason::clock, "record " + r.key + " is too far ahead", d.to_seq);
      return;
    }
  }
  p.expected_from = d.to_seq;
  const std::uint64_t id = p.next_reply_id++;
  p.replies.push_back(reply{id, d.to_seq});
  durability_.when_durable(store_.seq(),
                           [weak = weak_from_this(), node = p.node, session = p.session, id](bool ok) {
                             if (auto self = weak.lock())
                               guarded("durable", [&] { self->on_durable(node, session, id, ok); });
                           });
}

void replicator::queue_reject(peer& p, reject_reason reason, std::string message, std::uint64_t to_seq) {
  metrics_.counter_add("horao_peer_rejected_deltas_total", {{"peer", p.node}, {"reason", to_string(reason)}});
  log_warn("replication: refused a delta",
           {{"peer", p.node}, {"reason", to_string(reason)}, {"detail", message}});
  reply r{p.next_reply_id++, to_seq, true, true, reject_message{reason, std::move(message), to_seq}};
  p.replies.push_back(std::move(r));
  p.mode = recv_mode::reject_queued;
  flush_replies(p);
}

void replicator::on_durable(const std::string& node, std::uint64_t session, std::uint64_t reply_id, bool ok) {
  auto it = peers_.find(node);
  if (it == peers_.end() || it->second.session != session) return;
  peer& p = it->second;
  for (auto& r : p.replies) {
    if (r.id != reply_id) continue;
    r.ready = true;
    if (!ok) {
      r.reject = true;
      r.rejection = reject_message{reject_reason::unavailable,
                                   "the merged changes could not be persisted in time", r.to_seq};
      metrics_.counter_add("horao_peer_rejected_deltas_total", {{"peer", p.node}, {"reason", "unavailable"}});
      p.mode = recv_mode::reject_queued;
    }
    break;
  }
  flush_replies(p);
}

void replicator::flush_replies(peer& p) {
  while (!p.replies.empty() && p.replies.front().ready) {
    reply r = std::move(p.replies.front());
    p.replies.pop_front();
    if (r.reject) {
      send(p, r.rejection);
      // Everything behind it came before the sender could know: it resends
      // from its acknowledged cursor.
      p.replies.clear();
      p.mode = recv_mode::reject_sent;
      return;
    }
    send(p, ack_message{r.to_seq});
    p.last_ack_sent = r.to_seq;
    // Everything up to to_seq of the peer's log is applied and durable here.
    if (p.recv_epoch != p.peer_epoch) {
      p.recv_epoch = p.peer_epoch;
      cursors_.set(recv_epoch_field(p.node), p.recv_epoch);
    }
    if (p.recv_seq != r.to_seq) {
      p.recv_seq = r.to_seq;
      cursors_.set(recv_field(p.node), p.recv_seq);
    }
  }
}

void replicator::handle_bucket_request(peer& p, const bucket_request_message& m) {
  buckets_message b;
  b.digests = bucket_digests(store_, m.buckets);
  send(p, b);
}

// ---- sending ----------------------------------------------------------------------------------

void replicator::handle_ack(peer& p, const ack_message& a) {
  const auto result = p.cursor.on_ack(a.seq);
  if (result == peer_cursor::ack_result::unexpected) {
    if (auto link = p.active())
      protocol_error(link, "ack for " + std::to_string(a.seq) + ", beyond what was sent (" +
                               std::to_string(p.cursor.sent()) + ")");
    return;
  }
  p.wire_acked = std::max(p.wire_acked, a.seq);
  if (result == peer_cursor::ack_result::stale) return;
  p.reject_backoff.reset();
  persist_acked(p);
  pump(p);
  check_shutdown();
}

void replicator::handle_reject(peer& p, const reject_message& r) {
  const std::int64_t delay_ms = p.reject_backoff.next_ms();
  set_error(p, "the peer refused a delta (" + std::string(to_string(r.reason)) + "): " + r.message);
  metrics_.counter_add("horao_peer_refused_deltas_total",
                       {{"peer", p.node}, {"reason", to_string(r.reason)}});
  log_warn(
      "replication: the peer refused a delta; retrying after a backoff",
      {{"peer", p.node}, {"reason", to_string(r.reason)}, {"detail", r.message}, {"retry_ms", delay_ms}});
  p.cursor.reject();
  p.wire_from = p.wire_acked;  // where the receiver now expects us to start
  p.paused_until_us = now_us() + delay_ms * 1000;
}

void replicator::handle_buckets(peer& p, const buckets_message& b) {
  if (p.comparing != 1 || b.digests.size() != p.bucket_count) {
    if (auto link = p.active()) protocol_error(link, "unexpected bucket digests");
    return;
  }
  p.filter = bucket_filter(bucket_digests(store_, p.bucket_count), b.digests, store_.seq());
  log_info("replication: anti-entropy", {{"peer", p.node},
                                         {"buckets", static_cast<std::uint64_t>(p.filter.buckets())},
                                         {"differing", static_cast<std::uint64_t>(p.filter.differing())}});
  // Level 2 when the peer's list of those buckets' keys is likely to fit in
  // one answer: then only the records that differ are sent.
  const std::uint64_t per_bucket =
      std::max<std::uint64_t>(p.peer_records, store_.size()) / p.bucket_count + 1;
  if (p.filter.differing() > 0 && p.filter.differing() * per_bucket <= max_key_entries) {
    p.comparing = 2;
    send(p, keys_request_message{p.bucket_count, p.filter.differing_buckets()});
    return;
  }
  p.comparing = 0;
  p.push_wanted = true;
  p.cursor.request_push(store_.seq());
  pump(p);
}

void replicator::handle_keys(peer& p, const keys_message& k) {
  if (p.comparing != 2 || k.buckets != p.bucket_count) {
    if (auto link = p.active()) protocol_error(link, "unexpected key hashes");
    return;
  }
  if (k.complete) p.filter.refine(k.entries);
  log_info("replication: anti-entropy keys", {{"peer", p.node},
                                              {"entries", static_cast<std::uint64_t>(k.entries.size())},
                                              {"complete", k.complete}});
  p.comparing = 0;
  p.push_wanted = true;
  p.cursor.request_push(store_.seq());
  pump(p);
}

void replicator::handle_keys_request(peer& p, const keys_request_message& m) {
  send(p, key_entries(store_, m.buckets, m.wanted));
}

void replicator::sync_now() {
  if (stopped_) return;
  refresh_durable();
  for (auto& [node, p] : peers_) {
    if (!p.active() || !p.cursor.in_session() || p.comparing != 0) continue;
    p.push_wanted = true;
    p.cursor.request_push(store_.seq());
    pump(p);
  }
}

void replicator::evaluate(peer& p, std::int64_t now) {
  if (!p.active() || !p.cursor.in_session() || p.comparing != 0) return;
  if (!p.push_wanted &&
      should_push(options_.sync, now, p.last_push_steady_us, p.cursor.pending(store_.seq())))
    p.push_wanted = true;
  if (p.push_wanted) p.cursor.request_push(store_.seq());
  pump(p);
}

// Ranges skipped without a frame (changes that came from the peer itself)
// move our cursor but not the peer's record of what it holds; without this,
// a daemon that only ever forwarded the peer's own changes back would look
// new to it after a restart. Once the link is quiet for a second, one empty
// delta moves the peer's cursor too (at most one frame a second per peer).
void replicator::sync_cursor(peer& p, std::int64_t now) {
  auto link = p.active();
  if (!link || !p.cursor.in_session() || p.comparing != 0 || p.cursor.inflight_deltas() > 0) return;
  if (p.wire_from >= p.cursor.sent() || now - p.last_frame_us < 1'000'000) return;
  const std::uint64_t to = p.cursor.sent();
  send(p, deltas_message{p.wire_from, to, {}});
  p.wire_from = to;
  p.last_frame_us = now;
}

void replicator::persist_acked(peer& p) {
  if (p.cursor.acked() == p.persisted_acked) return;
  p.persisted_acked = p.cursor.acked();
  cursors_.set(p.node, p.persisted_acked);
}

void replicator::pump(peer& p) {
  auto link = p.active();
  if (!link || stopped_ || !p.cursor.in_session() || p.comparing != 0) return;
  if (p.paused_until_us != 0) {
    if (now_us() < p.paused_until_us) return;
    p.paused_until_us = 0;
  }
  if (p.cursor.sent() != 0 && p.cursor.sent() < store_.oldest_replayable()) {
    // Tombstones this peer has not seen were purged: only a new session
    // (which starts over with the whole state) is safe.
    log_warn("replication: the peer's cursor fell behind purged tombstones; reconnecting for a full transfer",
             {{"peer", p.node}});
    link->close("cursor behind purged tombstones");
    return;
  }
  const std::uint64_t limit = std::min(durable_seq_, store_.seq());
  const std::size_t queue_cap = 2 * options_.target_frame_bytes;
  std::size_t budget = options_.max_scan_per_turn;
  std::size_t max_records = options_.max_frame_records;
  const std::string& node = p.node;
  while (budget > 0 && p.cursor.can_send() && p.cursor.sent() < limit && link->queued_bytes() < queue_cap &&
         link->open()) {
    const std::uint64_t from = p.cursor.sent();
    delta_builder b(p.wire_from);
    std::uint64_t to = from;
    bool cut = false;  // stopped before the limit: the frame is full or the budget ran out
    store_.changes_since(from, [&](std::uint64_t seq, std::string_view key, const store::stored_record& e) {
      if (seq > limit) return false;
      if (b.count() > 0 && (b.size() >= options_.target_frame_bytes || b.count() >= max_records)) {
        cut = true;
        return false;
      }
      if (budget == 0) {
        cut = true;
        return false;
      }
      --budget;
      to = seq;
      if (e.origin == p.node_ref && seq > p.no_skip_up_to) return true;  // it came from this peer
      if (!p.filter.keep(seq, key, e.hash)) return true;                 // the peer holds it
      b.add(key, e.state);
      return true;
    });
    if (!cut) to = limit;  // the rest of the range holds only superseded entries
    if (to <= from) break;
    if (b.count() == 0) {
      p.cursor.on_skipped(to);
      continue;
    }
    const std::size_t records = b.count();
    frame f = b.finish(to);
    if (f.size() > max_frame_bytes) {
      if (records > 1) {
        max_records = 1;  // one oversized record among others: send them one by one
        continue;
      }
      log_error("replication: a record is larger than a frame may be; it is not replicated",
                {{"peer", node}, {"seq", to}, {"bytes", static_cast<std::uint64_t>(f.size())}});
      p.cursor.on_skipped(to);
      continue;
    }
    const std::size_t size = f.size();
    send_frame(p, std::move(f));
    p.cursor.on_sent(to, size);
    p.wire_from = to;
    p.last_frame_us = now_us();
    metrics_.counter_add("horao_peer_records_sent_total", {{"peer", node}}, static_cast<double>(records));
    if (!p.push_counted) {
      p.push_counted = true;
      p.last_push_steady_us = now_us();
      p.last_push_wall_us = wall_now_us();
      metrics_.counter_add("horao_peer_pushes_total", {{"peer", node}});
    }
  }
  if (p.cursor.push_done()) {
    p.push_wanted = false;
    p.push_counted = false;
  }
  persist_acked(p);
  if (budget == 0) kick();  // more to do: continue on the next turn of the loop
}

}  // namespace horao::replication
