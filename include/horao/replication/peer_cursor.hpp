#pragma once
// What a sender knows about one peer's copy of its change log: the per-peer
// cursor and backpressure state machine (DESIGN §5). Pure; the replicator
// drives it from the change log and the link.
//
//   acked  <=  sent  <=  local seq
//   (0, acked]       the peer has applied and persisted these (or needs none of them)
//   (acked, sent]    in flight: sent in deltas not yet acknowledged (or skipped)
//   (sent, target]   to send in the current push
//
// Invariants:
//  * acked never moves backwards within a session, and only to a value the
//    peer acknowledged or to the end of a skipped range that follows only
//    acknowledged ranges;
//  * the bytes in flight are the sum of the unacknowledged deltas' sizes, and
//    can_send() is false once they reach `max_inflight_bytes`: a slow or
//    stalled peer holds at most that much of this daemon's memory (the change
//    log is the queue: nothing is buffered per change);
//  * an ack for anything that was not sent is a protocol error (returned, the
//    state is unchanged);
//  * reject() and end_session() rewind `sent` to `acked` and drop the flight:
//    whatever was not acknowledged is sent again, which is harmless because
//    merges are idempotent.

#include <cstddef>
#include <cstdint>
#include <deque>

namespace horao::replication {

class peer_cursor {
 public:
  explicit peer_cursor(std::size_t max_inflight_bytes = 4u << 20) : max_inflight_bytes_(max_inflight_bytes) {}

  // The persisted acknowledged sequence, at start (no session).
  void restore(std::uint64_t acked) { acked_ = sent_ = acked; }

  // A link's hello said the peer holds everything up to `resume_from`.
  void start_session(std::uint64_t resume_from) {
    acked_ = sent_ = resume_from;
    target_ = resume_from;
    flight_.clear();
    inflight_bytes_ = 0;
    in_session_ = true;
  }
  void end_session() {
    rewind();
    target_ = sent_;
    in_session_ = false;
  }
  bool in_session() const { return in_session_; }

  // The current push covers the log up to `seq`.
  void request_push(std::uint64_t seq) {
    if (seq > target_) target_ = seq;
  }
  // True when a delta may be built now: in a session, something left to send
  // in the current push, and room under the byte bound.
  bool can_send() const { return in_session_ && sent_ < target_ && inflight_bytes_ < max_inflight_bytes_; }
  bool push_done() const { return sent_ >= target_; }

  // A delta (sent_, to_seq] of `bytes` went out.
  void on_sent(std::uint64_t to_seq, std::size_t bytes) {
    if (to_seq <= sent_) return;
    flight_.push_back({to_seq, bytes});
    inflight_bytes_ += bytes;
    sent_ = to_seq;
  }
  // (sent_, to_seq] held nothing to send to this peer (all of it came from
  // the peer): no frame, acknowledged as soon as what precedes it is.
  void on_skipped(std::uint64_t to_seq) {
    if (to_seq <= sent_) return;
    if (flight_.empty()) {
      acked_ = sent_ = to_seq;
      return;
    }
    flight_.push_back({to_seq, 0});
    sent_ = to_seq;
  }

  enum class ack_result { advanced, stale, unexpected };
  ack_result on_ack(std::uint64_t seq) {
    if (seq > sent_) return ack_result::unexpected;
    if (seq <= acked_) return ack_result::stale;
    while (!flight_.empty() && flight_.front().to_seq <= seq) {
      inflight_bytes_ -= flight_.front().bytes;
      flight_.pop_front();
    }
    acked_ = seq;
    // Skipped ranges right after the acknowledged one need no ack of their own.
    while (!flight_.empty() && flight_.front().bytes == 0) {
      acked_ = flight_.front().to_seq;
      flight_.pop_front();
    }
    return ack_result::advanced;
  }
  // The peer refused the oldest delta in flight: start again from acked.
  void reject() { rewind(); }

  std::uint64_t acked() const { return acked_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t target() const { return target_; }
  std::size_t inflight_bytes() const { return inflight_bytes_; }
  std::size_t inflight_deltas() const { return flight_.size(); }
  std::size_t max_inflight_bytes() const { return max_inflight_bytes_; }
  // Pending changes for this peer as DESIGN §5 counts them: local_seq - acked.
  std::uint64_t pending(std::uint64_t local_seq) const { return local_seq > acked_ ? local_seq - acked_ : 0; }

 private:
  void rewind() {
    flight_.clear();
    inflight_bytes_ = 0;
    sent_ = acked_;
  }

  struct in_flight {
    std::uint64_t to_seq;
    std::size_t bytes;
  };
  std::size_t max_inflight_bytes_;
  std::uint64_t acked_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t target_ = 0;
  std::size_t inflight_bytes_ = 0;
  std::deque<in_flight> flight_;
  bool in_session_ = false;
};

}  // namespace horao::replication
