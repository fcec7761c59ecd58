// `mien image FILE|DIR...`: every face in each photo with its emotion and gender, as a
// table or JSON lines, optionally drawn onto a copy of the image.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "mien/io/faces.hpp"
#include "mien/vision/annotate.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/output_names.hpp"
#include "tools/cli/pipeline_options.hpp"

namespace mien::cli {

inline bool is_image_path(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  static const char* exts[] = {".jpg", ".jpeg", ".png", ".bmp", ".tga",
                               ".gif", ".pnm",  ".ppm", ".pgm", ".psd"};
  for (const char* e : exts)
    if (ext == e) return true;
  return false;
}

// Files as given; folders expanded to their images, sorted (with `recursive`, those of
// every sub-folder too, hidden ones skipped).
inline std::vector<std::string> expand_inputs(const std::vector<std::string>& args,
                                              bool recursive = false) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (a != "-" && fs::is_directory(a, ec)) {
      std::vector<std::string> found;
      auto take = [&](const fs::directory_entry& e) {
        if (e.is_regular_file(ec) && is_image_path(e.path())) found.push_back(e.path().string());
      };
      if (recursive) {
        fs::recursive_directory_iterator it(a, fs::directory_options::skip_permission_denied, ec),
            end;
        for (; !ec && it != end; it.increment(ec)) {
          const std::string name = it->path().filename().string();
          if (!name.empty() && name[0] == '.') {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
          }
          take(*it);
        }
      } else {
        for (const auto& e : fs::directory_iterator(a, ec)) take(e);
      }
      if (ec) throw Error(a + ": cannot list the folder: " + ec.message());
      std::sort(found.begin(), found.end());
      if (found.empty())
        throw Error(a + ": folder holds no images" +
                    std::string(recursive ? "" : " (--recursive looks into sub-folders)"));
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(a);
    }
  }
  return files;
}

// "-" is standard input (e.g. `curl ... | mien image -`), read whole, at most 1 GiB.
inline Image load_input_image(const std::string& file, const DecodeLimits& limits) {
  if (file != "-") return load_image(file, limits);
  std::vector<uint8_t> bytes;
  char buf[1 << 16];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
    bytes.insert(bytes.end(), buf, buf + got);
    if (bytes.size() > (std::size_t(1) << 30)) throw Error("<stdin>: image larger than 1 GiB");
  }
  if (std::ferror(stdin)) throw Error(std::string("<stdin>: cannot read: ") + std::strerror(errno));
  return decode_image(bytes.data(), bytes.size(), "<stdin>", limits);
}

inline void print_table(const std::string& file, const Image& img,
                        const std::vector<FaceResult>& faces, const Pipeline& p) {
  std::printf("%s  %dx%d  %zu face%s\n", file.c_str(), img.width, img.height, faces.size(),
              faces.size() == 1 ? "" : "s");
  if (faces.empty()) return;
  std::printf("  %-3s %-22s %-6s %-10s %-6s", "#", "box x,y wxh", "score", "emotion", "p");
  const bool age = faces.front().age >= 0;
  // "p" padded to its column only when the age column follows (no trailing blanks).
  if (faces.front().gender >= 0) std::printf(age ? " %-7s %-4s" : " %-7s %s", "gender", "p");
  if (age) std::printf(" %5s", "age");
  std::printf("\n");
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const FaceResult& r = faces[i];
    char box[64];
    std::snprintf(box, sizeof box, "%.0f,%.0f %.0fx%.0f", double(r.face.x), double(r.face.y),
                  double(r.face.w), double(r.face.h));
    std::printf("  %-3zu %-22s %-6.2f %-10s %-6.2f", i + 1, box, double(r.face.score),
                p.emotion_labels()[std::size_t(r.emotion)].c_str(),
                double(r.emotion_scores[std::size_t(r.emotion)]));
    if (r.gender >= 0)
      std::printf(" %-7s %.2f", p.gender_labels()[std::size_t(r.gender)].c_str(),
                  double(r.gender_score));
    if (age) std::printf(" %5.1f", double(r.age));
    std::printf("\n");
  }
}

// The drawn copy's extension: the input's when mien can write it, else .png.
inline std::string draw_extension(const std::string& input) {
  std::string ext = std::filesystem::path(input).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (ext != ".jpg" && ext != ".jpeg" && ext != ".png" && ext != ".bmp" && ext != ".tga")
    ext = ".png";
  return ext;
}

inline int cmd_image(const std::vector<std::string>& argv) {
  ArgParser args("mien image [options] FILE|DIR...",
                 "Find every face in each image and print its emotion and gender.\n"
                 "Folders are expanded to the images they hold.");
  args.flag("--json", "print one JSON object per image instead of a table")
      .option("--draw", "OUT", "write the annotated image to OUT (a folder for several inputs)")
      .flag("--landmarks",
            "with --draw: also draw the detector's landmarks (eyes, nose, mouth, ears)")
      .flag("--recursive", "look for images in the sub-folders of folders too")
      .option("--max-pixels", "N", "refuse images larger than N pixels", "50000000");
  add_model_options(args);
  add_detect_options(args);
  add_run_options(args);
  if (!args.parse(argv)) return 0;
  if (args.positional().empty()) throw UsageError("mien image needs at least one image");
  const PipelineOptions opt = pipeline_options(args);
  const Pipeline pipeline = make_pipeline(args);
  DecodeLimits limits;
  limits.max_pixels = args.get_int("--max-pixels", 1, int(MIEN_MAX_IMAGE_PIXELS));
  const std::vector<std::string> files = expand_inputs(args.positional(), args.has("--recursive"));
  const bool many = files.size() > 1;
  const std::string draw = args.get("--draw");
  std::vector<std::string> draw_paths(files.size(), draw);
  if (!draw.empty() && many) {
    std::error_code ec;
    std::filesystem::create_directories(draw, ec);
    if (!std::filesystem::is_directory(draw))
      throw Error(draw + ": cannot create the output folder");
    const std::vector<std::string> names = unique_output_names(
        files,
        [](const std::string& stem, const std::string& in) { return stem + draw_extension(in); });
    for (std::size_t i = 0; i < files.size(); ++i)
      draw_paths[i] = (std::filesystem::path(draw) / names[i]).string();
  }
  int failures = 0;
  for (std::size_t fi = 0; fi < files.size(); ++fi) {
    const std::string& file = files[fi];
    try {
      Image img = load_input_image(file, limits);
      const std::vector<FaceResult> faces = pipeline.analyze(img, opt);
      if (args.has("--json")) {
        std::printf("%s\n", json_text(image_json(file, img, faces, pipeline)).c_str());
      } else {
        print_table(file, img, faces, pipeline);
      }
      std::fflush(stdout);
      if (!draw.empty()) {
        AnnotateOptions ao;
        ao.landmarks = args.has("--landmarks");
        annotate(img, faces, pipeline, {}, ao);
        save_image(img, draw_paths[fi]);
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "mien: error: %s\n", e.what());
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

}  // namespace mien::cli
