// An output of records (JSONL lines, CSV rows) written straight into the file named on the
// command line ("-" = standard output), one whole record at a time and flushed after each
// image: a run that is interrupted or killed keeps every image it finished, and another
// process can follow the file while it grows. (Not a temporary file renamed at the end:
// that would lose everything on a crash of a run of hours.)
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "mien/core/error.hpp"

namespace mien::cli {

class RecordFile {
 public:
  // Opens (truncates) `path` now, so that an unwritable output fails before any work.
  explicit RecordFile(const std::string& path) : path_(path) {
    if (path == "-") {
      f_ = stdout;
      return;
    }
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  }
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;
  ~RecordFile() {
    if (f_ && f_ != stdout) std::fclose(f_);
  }

  // Writes and flushes; a full disk or a closed pipe is an error naming the file.
  void write(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), f_) != text.size() || std::fflush(f_) != 0)
      throw Error(name() + ": cannot write: " + std::strerror(errno));
  }
  void close() {
    if (f_ && f_ != stdout && std::fclose(f_) != 0) {
      f_ = nullptr;
      throw Error(name() + ": cannot write: " + std::strerror(errno));
    }
    f_ = nullptr;
  }
  std::string name() const { return path_ == "-" ? "<stdout>" : path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace mien::cli
