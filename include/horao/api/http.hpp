#pragma once
// The transport-free shape of an HTTP exchange: what net/ parses a request
// into and what it writes back. Routers and handlers see only these.

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace horao::api {

struct request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, e.g. "/v1/servers?limit=10"
  std::string body;
  std::string content_type;   // Content-Type header, as sent
  std::string authorization;  // Authorization header, as sent
  std::string if_match;       // If-Match header, as sent
  bool from_loopback = true;  // the peer address is 127.0.0.0/8 or ::1
};

struct response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (ETag, Allow, ...)
};

// Called exactly once per request, possibly later (a write waits for Redis).
using responder = std::function<void(response)>;

}  // namespace horao::api
