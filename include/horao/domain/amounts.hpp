#pragma once
// Quantities of capacity and of demand, per dimension (API.md /v1/capacity,
// tenant constraints, reservation resources).
//
// Invariants:
//  * every quantity is an exact integer: cores, GB of RAM, accelerators, and
//    storage in micro-terabytes (1 TB = 1,000,000 units, rounded to nearest).
//    Sums are associative and exact, so incremental maintenance, a rebuild,
//    and another daemon that applied the same changes in another order reach
//    the same figures, and a reservation that exactly fits fits on every
//    daemon (summing doubles in different orders would not be so).
//  * quantities are 128-bit. What one record contributes to capacity is
//    clamped to record_cap (2^62); what one request asks is clamped to
//    request_cap (2^110). Capacity is then below 2^62 * 2^40 records < 2^110,
//    so a clamped request still exceeds any capacity (clamping never makes
//    anything fit) and no sum the memory can hold overflows.
//  * `pools` holds the two capacity pools: `total` (all live, up hardware)
//    and `hsn` (the part attached to a high-speed data network), a subset of
//    total dimension by dimension.

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace horao::domain {

__extension__ typedef __int128 quantity;

inline constexpr quantity record_cap = quantity{1} << 62;
inline constexpr quantity request_cap = quantity{1} << 110;
inline constexpr quantity units_per_tb = 1'000'000;

enum class dimension : std::uint8_t { cpu, ram_gb, accelerators, block_tb, object_tb };
inline constexpr std::size_t dimension_count = 5;
inline constexpr std::array<dimension, dimension_count> all_dimensions{
    dimension::cpu, dimension::ram_gb, dimension::accelerators, dimension::block_tb, dimension::object_tb};

// "cpu", "ram_gb", "accelerators", "block_tb", "object_tb": the API's names.
std::string_view name_of(dimension d);
std::optional<dimension> parse_dimension(std::string_view name);
bool is_storage(dimension d);

struct amounts {
  std::array<quantity, dimension_count> q{};

  quantity& operator[](dimension d) { return q[static_cast<std::size_t>(d)]; }
  const quantity& operator[](dimension d) const { return q[static_cast<std::size_t>(d)]; }
  amounts& operator+=(const amounts& o);
  amounts& operator-=(const amounts& o);
  friend amounts operator+(amounts a, const amounts& b) { return a += b; }
  friend amounts operator-(amounts a, const amounts& b) { return a -= b; }
  friend bool operator==(const amounts&, const amounts&) = default;
  bool is_zero() const { return *this == amounts{}; }
};
amounts max_of(const amounts& a, const amounts& b);

enum class pool : std::uint8_t { total, hsn };
std::string_view name_of(pool p);

struct pools {
  amounts total;
  amounts hsn;

  amounts& operator[](pool p) { return p == pool::total ? total : hsn; }
  const amounts& operator[](pool p) const { return p == pool::total ? total : hsn; }
  pools& operator+=(const pools& o);
  pools& operator-=(const pools& o);
  friend pools operator+(pools a, const pools& b) { return a += b; }
  friend pools operator-(pools a, const pools& b) { return a -= b; }
  friend bool operator==(const pools&, const pools&) = default;
  bool is_zero() const { return *this == pools{}; }
};
pools max_of(const pools& a, const pools& b);

// ---- reading untrusted JSON ----

// A non-negative integer count; anything else (negative, fractional, not a
// number) is 0: a faulty record must not subtract capacity.
quantity json_count(const nlohmann::json& v);
// Terabytes as units, rounded to nearest, clamped to [0, cap]; 0 when `v` is
// not a finite non-negative number.
quantity json_tb_units(const nlohmann::json& v, quantity cap);
quantity clamp_to(quantity v, quantity cap);

// ---- showing quantities ----

// The API's figure: an integer for cpu/ram_gb/accelerators (clamped to int64),
// a number of TB for storage.
nlohmann::json to_json(dimension d, quantity v);
// {"cpu": .., "ram_gb": .., "accelerators": .., "block_tb": .., "object_tb": ..}
nlohmann::json to_json(const amounts& a);
// The same figure as text, for messages: "16", "1.5".
std::string format_quantity(dimension d, quantity v);
// Exact decimal text of any quantity (tests and diagnostics).
std::string to_string(quantity v);

}  // namespace horao::domain
