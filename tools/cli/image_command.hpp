// `mien image FILE|DIR...`: every face in each photo with its emotion and gender, as a
// table or JSON lines, optionally drawn onto a copy of the image.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "mien/vision/annotate.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/json.hpp"
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

// Files as given; folders expanded to their images (not recursive), sorted.
inline std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    std::error_code ec;
    if (std::filesystem::is_directory(a, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::directory_iterator(a, ec))
        if (e.is_regular_file(ec) && is_image_path(e.path())) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      if (found.empty()) throw Error(a + ": folder holds no images");
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(a);
    }
  }
  return files;
}

inline std::string face_json(const FaceResult& r, const Pipeline& p) {
  const Detection& f = r.face;
  std::string s = "{\"box\":[" + json_number(f.x, 7) + "," + json_number(f.y, 7) + "," +
                  json_number(f.w, 7) + "," + json_number(f.h, 7) +
                  "],\"score\":" + json_number(f.score) + ",\"landmarks\":[";
  for (std::size_t k = 0; k < f.keypoints.size(); ++k)
    s += std::string(k ? "," : "") + "[" + json_number(f.keypoints[k].x, 7) + "," +
         json_number(f.keypoints[k].y, 7) + "]";
  s += "],\"emotion\":{\"label\":" +
       json_string(r.emotion >= 0 ? p.emotion_labels()[std::size_t(r.emotion)] : "") +
       ",\"scores\":{";
  for (std::size_t k = 0; k < r.emotion_scores.size(); ++k)
    s += std::string(k ? "," : "") + json_string(p.emotion_labels()[k]) + ":" +
         json_number(r.emotion_scores[k]);
  s += "}}";
  if (r.gender >= 0)
    s += ",\"gender\":{\"label\":" + json_string(p.gender_labels()[std::size_t(r.gender)]) +
         ",\"score\":" + json_number(r.gender_score) + "}";
  return s + "}";
}

inline void print_table(const std::string& file, const Image& img,
                        const std::vector<FaceResult>& faces, const Pipeline& p) {
  std::printf("%s  %dx%d  %zu face%s\n", file.c_str(), img.width, img.height, faces.size(),
              faces.size() == 1 ? "" : "s");
  if (faces.empty()) return;
  std::printf("  %-3s %-22s %-6s %-10s %-6s", "#", "box x,y wxh", "score", "emotion", "p");
  if (faces.front().gender >= 0) std::printf(" %-7s %s", "gender", "p");
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
    std::printf("\n");
  }
}

inline std::string draw_path(const std::string& out, const std::string& input, bool many) {
  if (!many) return out;
  std::filesystem::path in(input);
  std::string ext = in.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (ext != ".jpg" && ext != ".jpeg" && ext != ".png" && ext != ".bmp" && ext != ".tga")
    ext = ".png";
  return (std::filesystem::path(out) / (in.stem().string() + ext)).string();
}

inline int cmd_image(const std::vector<std::string>& argv) {
  ArgParser args("mien image [options] FILE|DIR...",
                 "Find every face in each image and print its emotion and gender.\n"
                 "Folders are expanded to the images they hold.");
  args.flag("--json", "print one JSON object per image instead of a table")
      .option("--draw", "OUT", "write the annotated image to OUT (a folder for several inputs)")
      .flag("--landmarks",
            "with --draw: also draw the detector's landmarks (eyes, nose, mouth, ears)");
  add_model_options(args);
  add_detect_options(args);
  add_run_options(args);
  if (!args.parse(argv)) return 0;
  if (args.positional().empty()) throw UsageError("mien image needs at least one image");
  const PipelineOptions opt = pipeline_options(args);
  const Pipeline pipeline = make_pipeline(args);
  const std::vector<std::string> files = expand_inputs(args.positional());
  const bool many = files.size() > 1;
  const std::string draw = args.get("--draw");
  if (!draw.empty() && many) {
    std::error_code ec;
    std::filesystem::create_directories(draw, ec);
    if (!std::filesystem::is_directory(draw))
      throw Error(draw + ": cannot create the output folder");
  }
  int failures = 0;
  for (const std::string& file : files) {
    try {
      Image img = load_image(file);
      const std::vector<FaceResult> faces = pipeline.analyze(img, opt);
      if (args.has("--json")) {
        std::string s = "{\"file\":" + json_string(file) +
                        ",\"width\":" + std::to_string(img.width) +
                        ",\"height\":" + std::to_string(img.height) + ",\"faces\":[";
        for (std::size_t i = 0; i < faces.size(); ++i)
          s += (i ? "," : "") + face_json(faces[i], pipeline);
        std::printf("%s]}\n", s.c_str());
      } else {
        print_table(file, img, faces, pipeline);
      }
      std::fflush(stdout);
      if (!draw.empty()) {
        AnnotateOptions ao;
        ao.landmarks = args.has("--landmarks");
        annotate(img, faces, pipeline, {}, ao);
        save_image(img, draw_path(draw, file, many));
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "mien: error: %s\n", e.what());
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

}  // namespace mien::cli
