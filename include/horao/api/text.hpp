#pragma once
// Small text helpers shared by the request parsers and the JSON writers.
//
// Invariants: pure, allocation-free except append_json_string(), and total:
// any byte sequence is a valid input.

#include <string>
#include <string_view>

namespace horao::api {

// ASCII case-insensitive equality (HTTP tokens, media types, schemes).
bool iequals(std::string_view a, std::string_view b);
// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);
// Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);
// Appends `s` as a JSON string literal (quotes included). `s` must be valid
// UTF-8; control characters are escaped.
void append_json_string(std::string& out, std::string_view s);
// One JSON pointer reference token (RFC 6901): '~' -> "~0", '/' -> "~1".
std::string pointer_token(std::string_view name);

}  // namespace horao::api
