// Request bodies of `mien serve`: which content types an upload may have, and reading it
// (raw bytes or the first file of a multipart form) with a size limit, into memory
// (photos) or into a private temporary file (videos, which ffmpeg reads from disk).
#pragma once

#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace mien::cli {

// The media type without parameters, lower case ("image/jpeg").
inline std::string media_type(const httplib::Request& req) {
  std::string t = req.get_header_value("Content-Type");
  t = t.substr(0, t.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// Upload bodies are image/* (or video/* for videos), application/octet-stream,
// multipart/form-data or untyped. Forms, text and JSON are refused: `curl --data-binary`
// without -H sends application/x-www-form-urlencoded, and saying so beats a decoding error.
inline bool acceptable_upload_type(const std::string& type, const char* family) {
  return type.empty() || type == "application/octet-stream" || type == "multipart/form-data" ||
         type.rfind(std::string(family) + "/", 0) == 0;
}

struct UploadResult {
  bool ok = false;
  int status = 0;        // when !ok: 400 or 413
  std::string message;   // when !ok
  std::string filename;  // the form's file name (a label only; never used as a path)
  std::size_t bytes = 0;
};

// Reads and drops a refused request's body, up to `cap` bytes. Clients send the whole
// body before they read the answer (fetch, curl without Expect, Python's http.client):
// closing with the body unread resets the connection, and they see a network error
// instead of the JSON refusal. Reading is cheap; the server's payload limit bounds it.
inline void discard_body(const httplib::Request& req, const httplib::ContentReader& reader,
                         std::size_t cap) {
  std::size_t seen = 0;
  auto drop = [&](const char*, std::size_t n) { return (seen += n) <= cap; };
  if (req.is_multipart_form_data())
    reader([](const httplib::MultipartFormData&) { return true; }, drop);
  else
    reader(drop);
}

// Reads the body through `sink` (called with each piece; returns false to stop), at most
// `limit` bytes; past the limit the rest is read and dropped (up to `cap` bytes, see
// discard_body) and the answer is 413. Nothing beyond `limit` is stored.
inline UploadResult read_upload(const httplib::Request& req, const httplib::ContentReader& reader,
                                std::size_t limit, std::size_t cap,
                                const std::function<bool(const char*, std::size_t)>& sink) {
  UploadResult r;
  if (req.has_header("Content-Length")) {
    const std::string cl = req.get_header_value("Content-Length");
    char* end = nullptr;
    const unsigned long long n = std::strtoull(cl.c_str(), &end, 10);
    if (cl.empty() || *end) {
      r.status = 400;
      r.message = "invalid Content-Length";
      return r;
    }
    if (n > limit) {
      r.status = 413;
      r.message = "body of " + std::to_string(n) + " bytes exceeds the limit of " +
                  std::to_string(limit) + " bytes";
      if (n <= cap) discard_body(req, reader, cap);
      return r;
    }
  }
  bool too_big = false, sink_failed = false;
  std::size_t seen = 0;
  auto take = [&](const char* data, std::size_t n) {
    seen += n;
    if (too_big || r.bytes + n > limit) {
      too_big = true;
      return seen <= cap;  // drop the rest (bounded), then answer 413
    }
    r.bytes += n;
    if (!sink(data, n)) {
      sink_failed = true;
      return false;
    }
    return true;
  };
  bool read_ok;
  if (req.is_multipart_form_data()) {
    // The first part with a file name (or named image/video/file) is the upload; other
    // fields are ignored.
    int part = -1, chosen = -1;
    read_ok = reader(
        [&](const httplib::MultipartFormData& f) {
          ++part;
          if (chosen < 0 &&
              (!f.filename.empty() || f.name == "image" || f.name == "video" || f.name == "file")) {
            chosen = part;
            r.filename = f.filename;
          }
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (part == chosen) return take(data, n);
          return (seen += n) <= cap;  // other form fields count towards the cap too
        });
    if (read_ok && chosen < 0) {
      r.status = 400;
      r.message = "the multipart form has no file (send it as -F image=@photo.jpg)";
      return r;
    }
  } else {
    read_ok = reader(take);
  }
  if (too_big) {
    r.status = 413;
    r.message = "body exceeds the limit of " + std::to_string(limit) + " bytes";
  } else if (sink_failed) {
    r.status = 500;
    r.message = "cannot store the upload";
  } else if (!read_ok) {
    r.status = 400;
    r.message = "the request body could not be read (cut off or malformed)";
  } else if (r.bytes == 0) {
    r.status = 400;
    r.message = "empty body: send the file's bytes or a multipart form";
  } else {
    r.ok = true;
  }
  return r;
}

// A private folder (mode 0700) holding one uploaded file, removed with its contents when
// destroyed. The name is the server's own: nothing from the request reaches the file
// system.
class TempUpload {
 public:
  TempUpload() {
    std::error_code ec;
    std::string base = std::filesystem::temp_directory_path(ec).string();
    if (ec || base.empty()) base = "/tmp";
    std::string templ = base + "/mien-serve-XXXXXX";
    if (!::mkdtemp(templ.data())) return;
    dir_ = templ;
    path_ = dir_ + "/upload";
    file_ = std::fopen(path_.c_str(), "wb");
  }
  TempUpload(const TempUpload&) = delete;
  TempUpload& operator=(const TempUpload&) = delete;
  ~TempUpload() {
    if (file_) std::fclose(file_);
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  bool ok() const { return file_ != nullptr; }
  bool write(const char* data, std::size_t n) {
    if (head_.size() < 512) head_.append(data, std::min<std::size_t>(n, 512 - head_.size()));
    return file_ && std::fwrite(data, 1, n, file_) == n;
  }
  bool close() {
    if (!file_) return false;
    const bool bad = std::fclose(file_) != 0;
    file_ = nullptr;
    return !bad;
  }
  const std::string& path() const { return path_; }
  // The first bytes, for sniffing.
  const std::string& head() const { return head_; }

 private:
  std::string dir_, path_, head_;
  std::FILE* file_ = nullptr;
};

// Text is not a video: ffmpeg would read an uploaded playlist (HLS .m3u8, ffconcat) and
// follow its references to other files or URLs. Video containers are binary from their
// first bytes.
inline bool looks_like_text(const std::string& head) {
  if (head.empty()) return false;
  for (unsigned char c : head)
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f) return false;
  return true;
}

}  // namespace mien::cli
