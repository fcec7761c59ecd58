// CSV reading and writing (RFC 4180): the dataset readers (eval/readers.hpp) read CSV
// files record by record; results (eval/report.hpp, io/video_results.hpp) are written
// with csv_field.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "mien/core/error.hpp"

namespace mien {

// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
inline std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

namespace detail {

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

inline std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}
// Splits one CSV record: RFC 4180 quoting ("a, b" and "" for a quote), fields trimmed.
// Returns false when a quote is still open at the end: the record continues on the next
// line (a quoted line break; CsvReader joins the lines).
inline bool split_csv(const std::string& line, std::vector<std::string>& fields) {
  fields.clear();
  std::string f;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        f += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        f += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(trim(f));
      f.clear();
    } else {
      f += c;
    }
  }
  if (quoted) return false;
  fields.push_back(trim(f));
  return true;
}

// Reads a CSV file record by record, counting lines so that every error names one.
class CsvReader {
 public:
  explicit CsvReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) {
      Error e("cannot open the file");
      e.set_file(path);
      throw e;
    }
  }
  // Next non-blank record; false at the end of the file.
  bool next(std::vector<std::string>& fields) {
    while (std::getline(in_, line_)) {
      ++line_no_;
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_no_ == 1 && line_.compare(0, 3, "\xEF\xBB\xBF") == 0) line_.erase(0, 3);  // BOM
      if (trim(line_).empty()) continue;
      // A quoted field may span lines; a quote never closed is an error naming the line
      // where the record began (not the end of the file, 1 MiB later at most).
      const int64_t first = line_no_;
      std::string more;
      while (!split_csv(line_, fields)) {
        if (line_.size() > (1 << 20) || !std::getline(in_, more)) {
          line_no_ = first;
          fail("unterminated quote");
        }
        ++line_no_;
        if (!more.empty() && more.back() == '\r') more.pop_back();
        line_ += "\n" + more;
      }
      return true;
    }
    if (in_.bad()) fail("read error");
    return false;
  }
  int64_t line() const { return line_no_; }
  const std::string& path() const { return path_; }
  std::string where() const { return path_ + ":" + std::to_string(line_no_); }

  // An error in the current record (names file:line) or in the file as a whole.
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    raise(where(), parts...);
  }
  template <typename... Parts>
  [[noreturn]] void fail_file(const Parts&... parts) const {
    raise(path_, parts...);
  }

 private:
  template <typename... Parts>
  [[noreturn]] static void raise(const std::string& where, const Parts&... parts) {
    std::ostringstream os;
    append_all(os, parts...);
    Error e(os.str());
    e.set_file(where);
    throw e;
  }

  std::string path_;
  std::ifstream in_;
  std::string line_;
  int64_t line_no_ = 0;
};

}  // namespace detail

}  // namespace mien
