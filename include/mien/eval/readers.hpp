// Labelled face datasets: the readers behind `mien eval` and evaluate() (eval/evaluate.hpp).
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
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "mien/core/error.hpp"
#include "mien/io/csv.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/labels.hpp"

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

}  // namespace mien
