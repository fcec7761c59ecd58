// JSON values and text for mien's results (io/faces.hpp, io/video_results.hpp,
// eval/report.hpp), built with nlohmann-json (Debian nlohmann-json3-dev).
//
// Why a library and not a writer of our own: the project's rule is one well-tested JSON
// implementation for everything that writes (or later reads) JSON; the hand-written
// writer the CLI had duplicated string escaping, UTF-8 repair and number formatting in
// every command. nlohmann::ordered_json keeps keys in the documented order.
//
// Numbers keep the CLI's established formatting: json_number(v, digits) holds the value
// printf's %.<digits>g would print (so 0.931234, 1e-05 and 3 print as before: an integral
// value becomes a JSON integer), json_fixed(v, decimals) the value %.<decimals>f would
// print (15.0 stays 15.0), and NaN or infinity become null. Text is ASCII-only: non-ASCII
// characters are written as \uXXXX escapes and bytes that are not UTF-8 (file names are
// bytes) as \ufffd, so the output is always valid JSON.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace mien {

using Json = nlohmann::ordered_json;

inline Json json_number(double v, int digits = 6) {
  if (!std::isfinite(v)) return nullptr;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  const double r = std::strtod(buf, nullptr);
  if (r == std::floor(r) && std::fabs(r) < 1e15) return int64_t(r);
  return r;
}

inline Json json_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return nullptr;
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return std::strtod(buf, nullptr);
}

// Compact one-line text.
inline std::string json_text(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

}  // namespace mien
