#pragma once
// Untrusted request bodies: media type, size and JSON parsing.
//
// Invariants: parse_json() accepts exactly RFC 8259 JSON in UTF-8 (the
// lexer checks every byte and surrogate pair), refuses nesting deeper than
// `max_depth` while parsing (no recursion, no pre-scan: the limit holds before
// anything deep is built), refuses an object with a duplicate member (which
// one would win is ambiguous, so it is an error rather than a silent choice)
// and numbers that overflow a double. Each refusal is a 400 bad_json
// api_error; no exception escapes. parse_json_tape() reads by the same rules
// (it is what parse_json() builds its tree from) into a flat tape, with no
// tree at all: the hot path of PUT.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>

#include "horao/api/errors.hpp"
#include "horao/crdt/json_tape.hpp"

namespace horao::api {

inline constexpr std::size_t max_json_depth = 64;

std::variant<nlohmann::json, api_error> parse_json(std::string_view text,
                                                   std::size_t max_depth = max_json_depth);
// The tape views `text`, which must outlive it.
std::variant<crdt::json_tape, api_error> parse_json_tape(std::string_view text,
                                                         std::size_t max_depth = max_json_depth);
// The tree of the value at `node` of a tape.
nlohmann::json to_json(const crdt::json_tape& tape, std::uint32_t node = crdt::json_tape::root);

// application/json, optionally with `charset=utf-8` (any case, quoted or
// not); with `merge_patch`, also application/merge-patch+json (RFC 7396).
// Another charset is refused: bodies are UTF-8 only.
bool is_json_media_type(std::string_view content_type, bool merge_patch = false);

}  // namespace horao::api
