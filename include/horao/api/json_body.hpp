#pragma once
// Untrusted request bodies: media type, size and JSON parsing.
//
// Invariants: parse_json() accepts exactly RFC 8259 JSON in UTF-8 (the
// lexer checks every byte and surrogate pair), refuses nesting deeper than
// `max_depth` while parsing (no recursion, no pre-scan: the limit holds before
// anything deep is built), refuses an object with a duplicate member (which
// one would win is ambiguous, so it is an error rather than a silent choice)
// and numbers that overflow a double. Each refusal is a 400 bad_json
// api_error; no exception escapes.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>

#include "horao/api/errors.hpp"

namespace horao::api {

inline constexpr std::size_t max_json_depth = 64;

std::variant<nlohmann::json, api_error> parse_json(std::string_view text,
                                                   std::size_t max_depth = max_json_depth);

// application/json, optionally with `charset=utf-8` (any case, quoted or
// not); with `merge_patch`, also application/merge-patch+json (RFC 7396).
// Another charset is refused: bodies are UTF-8 only.
bool is_json_media_type(std::string_view content_type, bool merge_patch = false);

}  // namespace horao::api
