// How a name given by the user reaches ffmpeg. ffmpeg reads its "-i"/output argument as
// a protocol ("concat:a.mp4|b.mp4", "a:b.mp4" -> protocol "a") or, for an output, even as
// an option ("-y.mp4"). A local file must therefore be passed as "file:<path>", which
// ffmpeg opens literally. Only deliberate URL or device syntax keeps its meaning:
// "scheme://..." (http, rtsp, ...), a camera "/dev/video*", and "-" for stdin/stdout.
#pragma once

#include <cctype>
#include <string>

namespace mien {

// True for "scheme://rest" with an RFC 3986 scheme (letter, then letters, digits, + - .).
inline bool is_url(const std::string& s) {
  const std::size_t p = s.find("://");
  if (p == std::string::npos || p == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (std::size_t i = 1; i < p; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

inline bool is_camera_device(const std::string& s) {
  return s.rfind("/dev/video", 0) == 0;
}

// The argument to give ffmpeg for a user's input or output name. "-" is the pipe on
// stdin (input) or stdout (output); URLs and cameras pass unchanged; anything else is a
// local path and gets the "file:" protocol, so that no character in it is interpreted.
inline std::string ffmpeg_location(const std::string& name, bool output = false) {
  if (name == "-") return output ? "pipe:1" : "pipe:0";
  if (is_url(name) || is_camera_device(name)) return name;
  return "file:" + name;
}

}  // namespace mien
