#pragma once
// The peer replication wire protocol (docs/replication.md, DESIGN §5): the
// messages two daemons exchange over one WebSocket, as binary CBOR frames.
//
//   hello    {t:"hello", v, node, epoch, digest, seq, records, received, received_epoch, proof}
//   deltas   {t:"deltas", records:[[key, state]...], from, to}
//   ack      {t:"ack", seq}
//   reject   {t:"reject", reason, message, to}
//   bucket_request {t:"bucket_req", n}
//   buckets  {t:"buckets", n, digests: bytes(16 n)}
//   keys_request   {t:"keys_req", n, buckets: bytes(4 m)}
//   keys     {t:"keys", n, complete, entries: bytes(24 k)}
//
// Invariants:
//  * decode() never trusts its input: a frame over the size cap, CBOR nested
//    deeper than `max_frame_depth`, a duplicate map key, a missing or
//    mistyped member, a record state decode_record() refuses or a key that is
//    not "kind/id" is refused with a message, and nothing is half-returned.
//    No exception leaves encode() or decode().
//  * a deltas frame carries whole record states (crdt::encode_record) in the
//    sender's sequence order; `from` < `to` or both equal (an empty delta only
//    moves the receiver's cursor); keys are unique within one frame.
//  * delta_builder produces exactly the bytes encode() would, and knows the
//    frame's size while records are appended, so frames are bounded without
//    encoding twice.
// Pure: std, nlohmann_json and the CRDT codec only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "horao/crdt/digest.hpp"
#include "horao/crdt/record.hpp"

namespace horao::replication {

// Bumped on any change a peer of the previous version cannot read; peers of
// another version are refused at the hello.
// 2: record states in deltas use the compact layout of crdt/record_cbor.hpp.
inline constexpr std::uint32_t protocol_version = 2;
// The largest frame a daemon reads (WebSocket read_message_max).
inline constexpr std::size_t max_frame_bytes = 16u << 20;
// CBOR nesting allowed in a frame: the API's JSON depth (64) plus the envelope.
inline constexpr std::size_t max_frame_depth = 80;
// Bucket counts a daemon accepts for the per-bucket digest exchange.
inline constexpr std::uint32_t min_buckets = 1;
inline constexpr std::uint32_t max_buckets = 1u << 16;
// Per-key hashes a daemon sends in one `keys` answer at most (24 bytes each).
inline constexpr std::size_t max_key_entries = 1u << 19;
inline constexpr std::size_t max_key_bytes = 512;
inline constexpr std::size_t max_reason_bytes = 1024;

struct hello_message {
  std::uint32_t version = protocol_version;
  std::string node;                  // the sender's node id
  std::uint64_t epoch = 0;           // identity of the sender's change log (changes when its Redis is new)
  crdt::hash128 digest;              // the sender's state digest
  std::uint64_t seq = 0;             // the sender's local sequence
  std::uint64_t records = 0;         // the sender's record count (tombstones included)
  std::uint64_t received = 0;        // last seq of the receiver's log this node applied durably
  std::uint64_t received_epoch = 0;  // the receiver's epoch that `received` belongs to
  std::string proof;                 // inbound side: make_hello_proof() over the client's nonce; else empty
  friend bool operator==(const hello_message&, const hello_message&) = default;
};

struct wire_record {
  std::string key;
  crdt::record state;
  friend bool operator==(const wire_record&, const wire_record&) = default;
};

struct deltas_message {
  std::uint64_t from_seq = 0;  // exclusive: the records have seq > from_seq
  std::uint64_t to_seq = 0;    // inclusive: everything up to to_seq was considered
  std::vector<wire_record> records;
  friend bool operator==(const deltas_message&, const deltas_message&) = default;
};

struct ack_message {
  std::uint64_t seq = 0;
  friend bool operator==(const ack_message&, const ack_message&) = default;
};

// Why a receiver refused a delta; the sender keeps the reason as last_error,
// rewinds to its acknowledged cursor and retries after a backoff.
enum class reject_reason { clock, unavailable, invalid };
std::string_view to_string(reject_reason r);

struct reject_message {
  reject_reason reason = reject_reason::invalid;
  std::string message;
  std::uint64_t to_seq = 0;  // the refused delta's to_seq
  friend bool operator==(const reject_message&, const reject_message&) = default;
};

struct bucket_request_message {
  std::uint32_t buckets = 0;  // power of two in [min_buckets, max_buckets]
  friend bool operator==(const bucket_request_message&, const bucket_request_message&) = default;
};

struct buckets_message {
  std::vector<crdt::hash128> digests;  // size is the requested bucket count
  friend bool operator==(const buckets_message&, const buckets_message&) = default;
};

// The second level: the per-key hashes of the records in some buckets.
struct keys_request_message {
  std::uint32_t buckets = 0;          // the bucket count of the exchange
  std::vector<std::uint32_t> wanted;  // bucket indices, each < buckets, ascending
  friend bool operator==(const keys_request_message&, const keys_request_message&) = default;
};

struct key_entry {
  std::uint64_t key_id = 0;  // key_id() of the record's key
  crdt::hash128 hash;        // hash_record(key, state)
  friend bool operator==(const key_entry&, const key_entry&) = default;
  friend auto operator<=>(const key_entry& a, const key_entry& b) { return a.key_id <=> b.key_id; }
};

struct keys_message {
  std::uint32_t buckets = 0;
  bool complete = true;  // false: too many to list (max_key_entries); entries is empty
  std::vector<key_entry> entries;
  friend bool operator==(const keys_message&, const keys_message&) = default;
};

using message = std::variant<hello_message, deltas_message, ack_message, reject_message,
                             bucket_request_message, buckets_message, keys_request_message, keys_message>;

using frame = std::vector<std::uint8_t>;

frame encode(const message& m);
// The decoded message, or nullopt with `error` set.
std::optional<message> decode(std::span<const std::uint8_t> bytes, std::string* error = nullptr);
std::optional<message> decode(std::string_view bytes, std::string* error = nullptr);

// The name of a message's type ("hello", "deltas", ...), for logs.
std::string_view type_name(const message& m);

// Builds one deltas frame record by record.
class delta_builder {
 public:
  explicit delta_builder(std::uint64_t from_seq);
  // Appends one record; returns the bytes it added.
  std::size_t add(std::string_view key, const crdt::record& state);
  // Bytes of the frame if finished now (exact within 20 bytes for the trailer).
  std::size_t size() const { return bytes_.size() + trailer_bound; }
  std::size_t count() const { return count_; }
  std::uint64_t from_seq() const { return from_seq_; }
  // Closes the frame with the range (from_seq, to_seq]; the builder is spent.
  frame finish(std::uint64_t to_seq);

  static constexpr std::size_t trailer_bound = 1 + 5 + 9 + 3 + 9;

 private:
  std::uint64_t from_seq_;
  std::size_t count_ = 0;
  frame bytes_;
};

// 16 bytes, high half first (big-endian), as digests travel.
void append_hash(std::vector<std::uint8_t>& out, const crdt::hash128& h);
crdt::hash128 read_hash(const std::uint8_t* sixteen_bytes);

}  // namespace horao::replication
