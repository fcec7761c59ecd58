// Labelled face datasets and the evaluation of a Pipeline's emotion model(s) on them.
//
// Formats read by read_dataset (DatasetFormat::Auto tells them apart):
// - folder per class: DIR/<class>/**/*.jpg; class names are matched case-insensitively
//   with synonyms (Anger, happiness, Fearful, ...; see canonical_label);
// - FER-2013 CSV (fer2013.csv, icml_face_data.csv): columns emotion (0..6 = angry,
//   disgust, fear, happy, sad, surprise, neutral), pixels (48x48 gray values separated by
//   spaces) and optionally Usage (Training, PublicTest, PrivateTest);
// - FER+ (github.com/microsoft/FERPlus): fer2013new.csv (Usage,Image name,neutral,
//   happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF: 10 crowd votes per
//   image), or the per-folder label.csv its generate_training_data.py writes (image name,
//   optionally a face box "(x, y, w, h)", then the same 10 votes, no header). The label is
//   the emotion with the most votes; ties and images whose top vote is "unknown" or "not a
//   face" are left out and counted (Dataset::skipped);
// - a CSV of image,label rows (optional header), paths relative to the CSV's folder.
//
// Labels come out canonical (canonical_label), so "contempt" stays "contempt": whether a
// model can predict a label is the evaluator's business, not the reader's.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/labels.hpp"
#include "mien/vision/metrics.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

// One labelled image: a file, or gray pixels held inline (FER-2013 CSV rows).
struct LabelledImage {
  std::string name;           // for reports: the image path, or "fer2013.csv:LINE"
  std::string label;          // canonical label ("happy", "contempt", ...)
  std::string path;           // image file; empty when the pixels are inline
  int width = 0, height = 0;  // inline pixels only
  std::vector<uint8_t> gray;  // inline pixels, row-major
};

struct Dataset {
  std::string path;    // as given
  std::string format;  // human-readable, e.g. "FER-2013 CSV"
  // Every image is a face crop by the format's definition (FER-2013 CSV, FER+): what
  // CropsMode::Dataset follows.
  bool face_crops = false;
  std::vector<LabelledImage> samples;
  // Entries left out while reading, by reason, in the order the reasons were first met.
  std::vector<std::pair<std::string, int64_t>> skipped;

  void skip(const std::string& reason, int64_t n = 1) {
    for (auto& s : skipped)
      if (s.first == reason) {
        s.second += n;
        return;
      }
    skipped.push_back({reason, n});
  }
  int64_t skipped_total() const {
    int64_t n = 0;
    for (const auto& s : skipped) n += s.second;
    return n;
  }
};

enum class DatasetFormat { Auto, Folders, Fer2013, FerPlus, ImageLabelCsv };

inline DatasetFormat parse_dataset_format(const std::string& s) {
  if (s == "auto") return DatasetFormat::Auto;
  if (s == "folders") return DatasetFormat::Folders;
  if (s == "fer2013") return DatasetFormat::Fer2013;
  if (s == "ferplus") return DatasetFormat::FerPlus;
  if (s == "csv") return DatasetFormat::ImageLabelCsv;
  throw_error("unknown dataset format '", s, "' (expected auto, folders, fer2013, ferplus or csv)");
}

// How FER+ votes become one label:
// - Majority (FERPlus's own "majority" mode, the default): single votes are dropped as
//   noise, then the top emotion must hold more than half of the remaining votes;
// - Plurality: the emotion with the most votes (ties left out).
// Either way a top vote of "unknown" or "not a face" leaves the row out.
enum class FerPlusRule { Majority, Plurality };

inline FerPlusRule parse_ferplus_rule(const std::string& s) {
  if (s == "majority") return FerPlusRule::Majority;
  if (s == "plurality") return FerPlusRule::Plurality;
  throw Error("unknown FER+ rule '" + s + "' (expected majority or plurality)");
}

struct DatasetOptions {
  DatasetFormat format = DatasetFormat::Auto;
  std::string usage;       // FER-2013/FER+ Usage to keep (case-insensitive); "" keeps all
  std::string images_dir;  // FER+ and image,label CSV: where image paths are relative to
  FerPlusRule ferplus_rule = FerPlusRule::Majority;
};

// The FER+ vote order (fer2013new.csv columns after Usage and Image name).
inline const std::vector<std::string>& ferplus_columns() {
  static const std::vector<std::string> c{"neutral", "happiness", "surprise", "sadness", "anger",
                                          "disgust", "fear",      "contempt", "unknown", "NF"};
  return c;
}

// The label a FER+ row's 10 votes (ferplus_columns order) stand for, canonical, or
// `excluded` naming why there is none.
struct FerPlusVote {
  std::string label, excluded;
};

inline FerPlusVote ferplus_label(const int64_t (&raw)[10], FerPlusRule rule) {
  int64_t votes[10], sum = 0;
  for (int i = 0; i < 10; ++i) {
    votes[i] = rule == FerPlusRule::Majority && raw[i] <= 1 ? 0 : std::max<int64_t>(0, raw[i]);
    sum += votes[i];
  }
  int64_t top = 0;
  for (int64_t v : votes) top = std::max(top, v);
  if (top <= 0)
    return {"", rule == FerPlusRule::Majority ? "FER+ row without a vote of 2 or more"
                                              : "FER+ row without votes"};
  int best = -1, tied = 0;
  for (int i = 0; i < 10; ++i)
    if (votes[i] == top) {
      if (best < 0) best = i;
      ++tied;
    }
  if (tied > 1) return {"", "FER+ top votes tied"};
  if (best == 8) return {"", "FER+ top vote 'unknown'"};
  if (best == 9) return {"", "FER+ top vote 'not a face'"};
  if (rule == FerPlusRule::Majority && !(2 * top > sum))
    return {"", "FER+ no majority (top emotion has at most half of the votes)"};
  return {canonical_label(ferplus_columns()[std::size_t(best)]), ""};
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

inline bool parse_count(const std::string& s, int64_t& v) {
  if (s.empty() || s.size() > 12) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

// "12 255 0 ..." -> bytes; false (with the reason) for anything but integers 0..255.
inline bool parse_pixels(const std::string& s, std::vector<uint8_t>& out, std::string& why) {
  out.clear();
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == n) break;
    int v = 0, digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      v = std::min(v * 10 + (s[i] - '0'), 1000);
      ++digits;
      ++i;
    }
    if (digits == 0 || (i < n && s[i] != ' ' && s[i] != '\t')) {
      why = "pixel value " + std::to_string(out.size() + 1) + " is not an integer";
      return false;
    }
    if (v > 255) {
      why = "pixel value " + std::to_string(out.size() + 1) + " is above 255";
      return false;
    }
    out.push_back(uint8_t(v));
  }
  return true;
}

inline bool is_dataset_image(const std::filesystem::path& p) {
  const std::string ext = lower(p.extension().string());
  static const char* exts[] = {".jpg", ".jpeg", ".png", ".bmp", ".tga",
                               ".gif", ".pnm",  ".ppm", ".pgm"};
  for (const char* e : exts)
    if (ext == e) return true;
  return false;
}

inline bool is_hidden(const std::filesystem::path& p) {
  const std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

// A label an emotion dataset may use: the FER classes and FER+'s contempt.
inline bool is_emotion_label(const std::string& name) {
  const std::string c = canonical_label(name);
  return c == "contempt" || label_index(fer_labels(), c) >= 0;
}

inline std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// The folder of a file ("" for a bare file name: paths relative to it stay as they are).
inline std::string parent_dir(const std::string& file) {
  return std::filesystem::path(file).parent_path().string();
}

inline std::string resolve(const std::string& base, const std::string& rel) {
  const std::filesystem::path p(rel);
  return p.is_absolute() || base.empty() ? rel : (std::filesystem::path(base) / p).string();
}

// Keeps rows of one Usage (case-insensitive); remembers what it saw for the error message
// when nothing matches.
struct UsageFilter {
  std::string want;  // lower-case; "" keeps everything
  std::vector<std::string> seen;
  bool keep(const std::string& usage) {
    if (want.empty()) return true;
    if (std::find(seen.begin(), seen.end(), usage) == seen.end() && seen.size() < 20)
      seen.push_back(usage);
    return lower(usage) == want;
  }
};

inline void read_folders(const std::string& dir, Dataset& ds) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (!is_hidden(e.path()) && e.is_directory(ec)) classes.push_back(e.path());
  if (ec) throw Error(dir + ": cannot list the folder: " + ec.message());
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) throw Error(dir + ": no class folders (angry/, happy/, ...) in it");
  for (const fs::path& c : classes) {
    const std::string label = canonical_label(c.filename().string());
    std::vector<std::string> files;
    const auto opts = fs::directory_options::follow_directory_symlink |
                      fs::directory_options::skip_permission_denied;
    for (auto it = fs::recursive_directory_iterator(c, opts, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (is_hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (is_dataset_image(it->path()) && !it->is_directory(ec))
        files.push_back(it->path().string());
    }
    if (ec) throw Error(c.string() + ": cannot list the folder: " + ec.message());
    std::sort(files.begin(), files.end());
    for (std::string& f : files) {
      LabelledImage s;
      s.name = f;
      s.path = std::move(f);
      s.label = label;
      ds.samples.push_back(std::move(s));
    }
  }
}

inline void read_fer2013(const std::string& path, const DatasetOptions& opt, Dataset& ds) {
  if (!opt.images_dir.empty())
    throw Error(path + ": a FER-2013 CSV holds its pixels; it takes no images folder");
  CsvReader csv(path);
  std::vector<std::string> f;
  if (!csv.next(f)) csv.fail_file("empty file");
  int emotion = -1, pixels = -1, usage = -1;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const std::string h = lower(f[i]);
    if (h == "emotion") emotion = int(i);
    if (h == "pixels") pixels = int(i);
    if (h == "usage") usage = int(i);
  }
  if (emotion < 0 || pixels < 0)
    csv.fail("a FER-2013 CSV needs the columns emotion and pixels; the header is '", join(f, ","),
             "'");
  if (usage < 0 && !opt.usage.empty())
    csv.fail_file("no Usage column to select '", opt.usage, "' from");
  UsageFilter filter{lower(opt.usage), {}};
  std::string why;
  const std::string file = std::filesystem::path(path).filename().string();
  while (csv.next(f)) {
    if (f.size() < std::size_t(std::max({emotion, pixels, usage})) + 1)
      csv.fail("expected ", std::max({emotion, pixels, usage}) + 1, " fields, found ", f.size());
    if (usage >= 0 && !filter.keep(f[std::size_t(usage)])) continue;
    int64_t e = -1;
    if (!parse_count(f[std::size_t(emotion)], e) || e > 6)
      csv.fail("emotion '", f[std::size_t(emotion)], "' is not a FER-2013 class 0..6");
    LabelledImage s;
    if (!parse_pixels(f[std::size_t(pixels)], s.gray, why)) csv.fail(why);
    const int side = int(std::lround(std::sqrt(double(s.gray.size()))));
    if (s.gray.empty() || std::size_t(side) * std::size_t(side) != s.gray.size())
      csv.fail("pixels holds ", s.gray.size(),
               " values, not a square image (FER-2013 has 48x48 = 2304)");
    s.width = s.height = side;
    s.label = fer_labels()[std::size_t(e)];
    s.name = file + ":" + std::to_string(csv.line());
    ds.samples.push_back(std::move(s));
  }
  if (ds.samples.empty() && !opt.usage.empty())
    csv.fail_file("no rows with Usage '", opt.usage, "' (found: ", join(filter.seen), ")");
}

// fer2013new.csv (with header) or a FERPlus label.csv (without).
inline void read_ferplus(const std::string& path, const DatasetOptions& opt, Dataset& ds) {
  namespace fs = std::filesystem;
  CsvReader csv(path);
  std::vector<std::string> f;
  if (!csv.next(f)) csv.fail_file("empty file");
  const std::string base = opt.images_dir.empty() ? parent_dir(path) : opt.images_dir;
  // Column of each vote (ferplus_columns order), of the image name and of Usage.
  int votes[10], name = 0, usage = -1;
  bool header = false;
  for (const std::string& h : f) header = header || lower(h) == "image name";
  if (header) {
    name = -1;
    for (int k = 0; k < 10; ++k) votes[k] = -1;
    for (std::size_t i = 0; i < f.size(); ++i) {
      const std::string h = lower(f[i]);
      if (h == "image name") name = int(i);
      if (h == "usage") usage = int(i);
      for (int k = 0; k < 10; ++k)
        if (h == lower(ferplus_columns()[std::size_t(k)])) votes[k] = int(i);
    }
    for (int k = 0; k < 10; ++k)
      if (votes[k] < 0)
        csv.fail("FER+ header lacks the column '", ferplus_columns()[std::size_t(k)], "'");
    ds.format = "FER+ (fer2013new.csv)";
    ds.face_crops = true;
  } else {
    // label.csv rows: name, [face box], 10 votes. The box is quoted "(x, y, w, h)".
    const int first = (f.size() == 12 && !f[1].empty() && f[1][0] == '(') ? 2 : 1;
    if (f.size() != std::size_t(first + 10))
      csv.fail("a FER+ label.csv row is: image name, [face box,] 10 vote counts; found ", f.size(),
               " fields");
    for (int k = 0; k < 10; ++k) votes[k] = first + k;
    ds.format = "FER+ label.csv";
    ds.face_crops = true;
  }
  if (usage < 0 && !opt.usage.empty())
    csv.fail_file("no Usage column to select '", opt.usage, "' from (FERPlus label.csv files are ",
                  "already one split each)");
  const int needed = std::max({name, usage, *std::max_element(votes, votes + 10)}) + 1;
  UsageFilter filter{lower(opt.usage), {}};
  // generate_training_data.py puts each Usage in its own folder; use it when present.
  auto image_folder = [&](const std::string& u) {
    const char* sub = u == "Training"      ? "FER2013Train"
                      : u == "PublicTest"  ? "FER2013Valid"
                      : u == "PrivateTest" ? "FER2013Test"
                                           : nullptr;
    std::error_code ec;
    if (sub && fs::is_directory(fs::path(base) / sub, ec)) return (fs::path(base) / sub).string();
    return base;
  };
  std::vector<std::pair<std::string, std::string>> folders;  // usage -> folder, cached
  bool pending = !header;  // without a header, the first record is already data
  while (pending || csv.next(f)) {
    pending = false;
    if (int(f.size()) < needed) csv.fail("expected ", needed, " fields, found ", f.size());
    const std::string u = usage >= 0 ? f[std::size_t(usage)] : "";
    if (!filter.keep(u)) continue;
    int64_t v[10];
    for (int k = 0; k < 10; ++k)
      if (!parse_count(f[std::size_t(votes[k])], v[k]))
        csv.fail("vote count '", f[std::size_t(votes[k])], "' for ",
                 ferplus_columns()[std::size_t(k)], " is not a non-negative integer");
    const FerPlusVote vote = ferplus_label(v, opt.ferplus_rule);
    if (!vote.excluded.empty()) {
      ds.skip(vote.excluded);
      continue;
    }
    const std::string& image = f[std::size_t(name)];
    if (image.empty()) {
      ds.skip("FER+ row without an image name");
      continue;
    }
    auto it =
        std::find_if(folders.begin(), folders.end(), [&](const auto& p) { return p.first == u; });
    if (it == folders.end()) it = folders.insert(folders.end(), {u, image_folder(u)});
    LabelledImage s;
    s.path = resolve(it->second, image);
    s.name = s.path;
    s.label = vote.label;
    ds.samples.push_back(std::move(s));
  }
  if (ds.samples.empty() && ds.skipped.empty() && !opt.usage.empty())
    csv.fail_file("no rows with Usage '", opt.usage, "' (found: ", join(filter.seen), ")");
}

inline void read_image_label_csv(const std::string& path, const DatasetOptions& opt, Dataset& ds) {
  if (!opt.usage.empty())
    throw Error(path + ": an image,label CSV has no Usage column to select '" + opt.usage +
                "' from");
  CsvReader csv(path);
  const std::string base = opt.images_dir.empty() ? parent_dir(path) : opt.images_dir;
  std::vector<std::string> f;
  int image = 0, label = 1;
  bool named = false;  // a header gave the columns: extra columns are allowed
  bool first = true;
  while (csv.next(f)) {
    if (first) {
      first = false;
      int i_col = -1, l_col = -1;
      for (std::size_t i = 0; i < f.size(); ++i) {
        const std::string h = lower(f[i]);
        if (i_col < 0 && (h == "image" || h == "path" || h == "file" || h == "filename" ||
                          h == "image_path" || h == "img"))
          i_col = int(i);
        if (l_col < 0 && (h == "label" || h == "emotion" || h == "class" || h == "expression"))
          l_col = int(i);
      }
      if (i_col >= 0 && l_col >= 0) {
        image = i_col;
        label = l_col;
        named = true;
        continue;
      }
    }
    if (named ? f.size() < std::size_t(std::max(image, label) + 1) : f.size() != 2)
      csv.fail("expected image,label; found ", f.size(), " field", f.size() == 1 ? "" : "s");
    const std::string& img = f[std::size_t(image)];
    const std::string& lab = f[std::size_t(label)];
    if (img.empty()) csv.fail("empty image path");
    if (lab.empty()) csv.fail("empty label for ", img);
    LabelledImage s;
    s.path = resolve(base, img);
    s.name = s.path;
    s.label = canonical_label(lab);
    ds.samples.push_back(std::move(s));
  }
}

// The format of a file, from its first record.
inline DatasetFormat sniff_csv(const std::string& path) {
  CsvReader csv(path);
  std::vector<std::string> f;
  if (!csv.next(f)) csv.fail_file("empty file");
  bool pixels = false, image_name = false;
  for (const std::string& h : f) {
    pixels = pixels || lower(h) == "pixels";
    image_name = image_name || lower(h) == "image name";
  }
  if (pixels) return DatasetFormat::Fer2013;
  if (image_name) return DatasetFormat::FerPlus;
  int64_t v;
  const bool votes = (f.size() == 11 || f.size() == 12) && parse_count(f.back(), v) &&
                     parse_count(f[f.size() - 10], v);
  if (votes) return DatasetFormat::FerPlus;
  if (f.size() == 2 || (f.size() > 2 && lower(f[0]) == "image"))
    return DatasetFormat::ImageLabelCsv;
  csv.fail(
      "unknown dataset format: expected a FER-2013 CSV (emotion,pixels,Usage), FER+ votes "
      "(fer2013new.csv or label.csv) or image,label rows; the first line has ",
      f.size(), " fields");
}

}  // namespace detail

// Reads a labelled dataset (see the top of this file). Throws mien::Error for a missing
// path, an unknown format, a malformed row (naming file:line) or an empty result.
inline Dataset read_dataset(const std::string& path, const DatasetOptions& opt = {}) {
  namespace fs = std::filesystem;
  Dataset ds;
  ds.path = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file or folder");
  std::string file = path;
  DatasetFormat format = opt.format;
  if (fs::is_directory(path, ec)) {
    bool has_classes = false;
    std::vector<std::string> subfolders;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (detail::is_hidden(e.path()) || !e.is_directory(ec)) continue;
      subfolders.push_back(e.path().filename().string());
      has_classes = has_classes || detail::is_emotion_label(subfolders.back());
    }
    std::sort(subfolders.begin(), subfolders.end());
    auto inside = [&](const char* name) {
      const fs::path p = fs::path(path) / name;
      return fs::is_regular_file(p, ec) ? p.string() : std::string();
    };
    if (format == DatasetFormat::Folders || (format == DatasetFormat::Auto && has_classes)) {
      format = DatasetFormat::Folders;
    } else if (format != DatasetFormat::ImageLabelCsv) {
      // A folder holding the label file of a format: FERPlus's per-split folders hold
      // label.csv beside the images; the FER-2013 download holds fer2013.csv.
      std::vector<const char*> names;
      if (format != DatasetFormat::Fer2013)
        names.insert(names.end(), {"label.csv", "fer2013new.csv"});
      if (format != DatasetFormat::FerPlus)
        names.insert(names.end(), {"fer2013.csv", "icml_face_data.csv"});
      for (const char* n : names)
        if (!inside(n).empty()) {
          file = inside(n);
          break;
        }
      if (file == path)
        throw Error(path +
                    ": unknown dataset layout: expected class folders (angry/, happy/, ...), "
                    "label.csv (FER+), fer2013new.csv or fer2013.csv" +
                    (subfolders.empty() ? std::string()
                                        : "; subfolders found: " + detail::join(subfolders)));
    } else {
      throw Error(path + ": is a folder; an image,label CSV is a file");
    }
  }
  if (format != DatasetFormat::Folders) {
    if (format == DatasetFormat::Auto) format = detail::sniff_csv(file);
  }
  switch (format) {
    case DatasetFormat::Folders:
      if (!opt.usage.empty())
        throw Error(path + ": a folder per class has no Usage to select '" + opt.usage + "' from");
      if (!opt.images_dir.empty())
        throw Error(path + ": a folder per class holds its images; it takes no images folder");
      ds.format = "folder per class";
      detail::read_folders(path, ds);
      break;
    case DatasetFormat::Fer2013:
      ds.format = "FER-2013 CSV";
      ds.face_crops = true;
      detail::read_fer2013(file, opt, ds);
      break;
    case DatasetFormat::FerPlus:
      detail::read_ferplus(file, opt, ds);
      break;
    default:
      ds.format = "image,label CSV";
      detail::read_image_label_csv(file, opt, ds);
      break;
  }
  if (ds.samples.empty()) {
    std::string why;
    for (const auto& s : ds.skipped)
      why += (why.empty() ? " (left out: " : ", ") + std::to_string(s.second) + " " + s.first;
    throw Error(path + ": empty dataset: no labelled images" + (why.empty() ? "" : why + ")"));
  }
  return ds;
}

// The image of a sample: decoded from its file, or its inline gray pixels as RGB.
inline Image load_labelled_image(const LabelledImage& s) {
  if (!s.path.empty()) return load_image(s.path);
  MIEN_CHECK(s.gray.size() == std::size_t(s.width) * std::size_t(s.height), s.name,
             ": inline pixels do not match ", s.width, "x", s.height);
  Image img(s.width, s.height);
  for (std::size_t i = 0; i < s.gray.size(); ++i)
    img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = s.gray[i];
  return img;
}

// ---- evaluation ----------------------------------------------------------------------

// Which images are classified whole, as face crops, instead of going through the detector.
enum class CropsMode {
  Dataset,  // All for formats that are crops by definition (FER-2013 CSV, FER+), else Off
  Off,      // none: every image goes through the detector
  Auto,     // images no larger than EvalOptions::crop_max_side a side
  All,      // every image (a folder of FER-2013 PNGs, other pre-cropped sets)
};

inline CropsMode parse_crops_mode(const std::string& s) {
  if (s == "dataset") return CropsMode::Dataset;
  if (s == "off") return CropsMode::Off;
  if (s == "auto") return CropsMode::Auto;
  if (s == "all") return CropsMode::All;
  throw Error("unknown crops mode '" + s + "' (expected all, auto, off or dataset)");
}

struct EvalOptions {
  PipelineOptions pipeline;  // detection threshold, flip TTA (threads: see `threads`)
  CropsMode crops = CropsMode::Dataset;
  int crop_max_side = 96;  // CropsMode::Auto: images no larger than this are face crops
  int threads = 1;
  int batch = 64;  // crops per classifier run
};

enum class SampleStatus { Ok, Unreadable, NoFace, LabelNotPredicted };

struct SampleResult {
  SampleStatus status = SampleStatus::LabelNotPredicted;
  int truth = -1, predicted = -1;  // indices into EvalResult::labels
  bool detected = false;           // the face came from the detector (not a crop)
  Probabilities scores;            // in EvalResult::labels order
  std::string error;               // why an image was unreadable
};

struct EvalResult {
  // The model's labels, FER-2013 classes first in FER order (so that reports of different
  // models line up), then any others.
  std::vector<std::string> labels;
  ConfusionMatrix confusion;
  std::vector<SampleResult> samples;  // one per Dataset::samples entry
  int64_t unreadable = 0, no_face = 0, detected = 0;
  // Dataset labels the model cannot predict, with their counts (left out of the metrics).
  std::vector<std::pair<std::string, int64_t>> unpredictable;

  // Every image with a label the model predicts, whether classified, faceless or unreadable.
  int64_t attempted() const { return confusion.total() + no_face + unreadable; }
  // The headline accuracy: an image without a detected face or that could not be read
  // counts as wrong (a user of the pipeline gets no answer for it). The confusion
  // matrix's accuracy() is the same over the classified images only.
  double accuracy_all() const {
    return attempted() > 0 ? double(confusion.correct()) / double(attempted()) : 0.0;
  }
};

// Classifies every sample and scores it. Crops (EvalOptions::crops) go through the emotion
// model(s) `batch` at a time; other images through the detector, keeping the largest face. Chunks
// of samples are shared out to `threads` workers, each with its own sessions. Unreadable images and
// images without a face are counted, not fatal, unless no image could be read at all. `progress`
// (optional) is called with (done, total) after each chunk, from one thread at a time.
inline EvalResult evaluate(const Pipeline& pipeline, const Dataset& ds, const EvalOptions& opt,
                           const std::function<void(std::size_t, std::size_t)>& progress = {}) {
  EvalResult r;
  const std::vector<std::string>& model_labels = pipeline.emotion_labels();
  for (const std::string& l : fer_labels())
    if (label_index(model_labels, l) >= 0) r.labels.push_back(l);
  for (const std::string& l : model_labels)
    if (label_index(r.labels, l) < 0) r.labels.push_back(l);
  std::vector<int> to_report(model_labels.size());  // pipeline index -> r.labels index
  for (std::size_t i = 0; i < model_labels.size(); ++i)
    to_report[i] = label_index(r.labels, model_labels[i]);
  r.confusion = ConfusionMatrix(r.labels);
  const std::size_t n = ds.samples.size();
  r.samples.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    r.samples[i].truth = label_index(r.labels, ds.samples[i].label);

  const std::size_t batch = std::size_t(std::max(1, opt.batch));
  const std::size_t chunks = (n + batch - 1) / batch;
  const int workers =
      int(std::max<std::size_t>(1, std::min<std::size_t>(std::max(1, opt.threads), chunks)));
  // Leftover threads (fewer chunks than threads) go to the layers inside each run.
  const int inner = std::max(1, std::max(1, opt.threads) / workers);
  const CropsMode crops_mode = opt.crops != CropsMode::Dataset ? opt.crops
                               : ds.face_crops                 ? CropsMode::All
                                                               : CropsMode::Off;
  PipelineOptions popt = opt.pipeline;
  popt.gender = false;
  popt.detect.threads = inner;

  auto to_scores = [&](const Probabilities& p) {
    Probabilities out(r.labels.size(), 0.f);
    for (std::size_t j = 0; j < p.size(); ++j) out[std::size_t(to_report[j])] = p[j];
    return out;
  };
  std::mutex mutex;
  std::size_t done = 0;  // samples finished, under `mutex`
  auto tick = [&](std::size_t& k) {
    if (k == 0) return;
    std::lock_guard<std::mutex> lock(mutex);
    done += k;
    k = 0;
    if (progress) progress(done, n);
  };
  auto run_chunk = [&](std::size_t c) {
    const std::size_t begin = c * batch, end = std::min(n, begin + batch);
    // Photos take a detector run each, so they are reported one by one (a progress bar
    // keeps moving on a folder of photos); crops when their batch is done.
    std::size_t finished = 0;
    std::vector<Image> crops;
    std::vector<std::size_t> crop_index;
    crops.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) {
      SampleResult& s = r.samples[i];
      if (s.truth < 0) {  // nothing to compare a prediction with: skip the work
        ++finished;
        continue;
      }
      Image img;
      try {
        img = load_labelled_image(ds.samples[i]);
      } catch (const Error& e) {
        s.status = SampleStatus::Unreadable;
        s.error = e.what();
        ++finished;
        continue;
      }
      if (crops_mode == CropsMode::All ||
          (crops_mode == CropsMode::Auto && std::max(img.width, img.height) <= opt.crop_max_side)) {
        crops.push_back(std::move(img));
        crop_index.push_back(i);
        continue;
      }
      s.detected = true;
      ++finished;
      std::vector<FaceResult> faces;
      try {
        faces = pipeline.analyze(img, popt);
      } catch (const Error& e) {  // e.g. a photo too large to letterbox: that image only
        s.status = SampleStatus::Unreadable;
        s.error = ds.samples[i].name + ": " + e.what();
        continue;
      }
      if (faces.empty()) {
        s.status = SampleStatus::NoFace;
      } else {
        const auto largest = std::max_element(faces.begin(), faces.end(),
                                              [](const FaceResult& a, const FaceResult& b) {
                                                return box_area(a.face) < box_area(b.face);
                                              });
        s.scores = to_scores(largest->emotion_scores);
        s.status = SampleStatus::Ok;
      }
      tick(finished);
    }
    if (!crops.empty()) {
      std::vector<const Image*> ptrs;
      for (const Image& im : crops) ptrs.push_back(&im);
      const std::vector<Probabilities> p = pipeline.classify_crops(ptrs, popt.flip_tta, inner);
      for (std::size_t k = 0; k < crop_index.size(); ++k) {
        SampleResult& s = r.samples[crop_index[k]];
        s.scores = to_scores(p[k]);
        s.status = SampleStatus::Ok;
      }
      finished += crops.size();
    }
    tick(finished);
  };

  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  auto work = [&]() {
    for (;;) {
      const std::size_t c = next.fetch_add(1);
      if (c >= chunks || failed) return;
      try {
        run_chunk(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
    }
  };
  if (workers == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < workers; ++t) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);

  int64_t attempted = 0;
  const SampleResult* first_unreadable = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    SampleResult& s = r.samples[i];
    if (s.truth < 0) {
      const std::string& l = ds.samples[i].label;
      auto it = std::find_if(r.unpredictable.begin(), r.unpredictable.end(),
                             [&](const auto& p) { return p.first == l; });
      if (it == r.unpredictable.end())
        r.unpredictable.push_back({l, 1});
      else
        ++it->second;
      continue;
    }
    ++attempted;
    if (s.detected) ++r.detected;
    if (s.status == SampleStatus::Unreadable) {
      ++r.unreadable;
      if (!first_unreadable) first_unreadable = &s;
    } else if (s.status == SampleStatus::NoFace) {
      ++r.no_face;
    } else {
      s.predicted = argmax(s.scores);
      r.confusion.add(s.truth, s.predicted);
    }
  }
  if (attempted == 0) {
    std::vector<std::string> names;
    for (const auto& u : r.unpredictable) names.push_back(u.first);
    throw Error(ds.path + ": no image has a label the model predicts (dataset labels: " +
                detail::join(names) + "; model labels: " + detail::join(r.labels) + ")");
  }
  if (r.unreadable == attempted)
    throw Error(ds.path + ": none of the " + std::to_string(attempted) +
                " images could be read; the first: " + first_unreadable->error);
  return r;
}

}  // namespace mien
