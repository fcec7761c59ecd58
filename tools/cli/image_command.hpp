// `mien image FILE|DIR...`: every face in each photo with its emotion and gender, as a
// table or JSON lines, optionally drawn onto a copy of the image.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "mien/io/batch_records.hpp"
#include "mien/io/faces.hpp"
#include "mien/vision/annotate.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "tools/cli/args.hpp"
#include "tools/cli/interrupt.hpp"
#include "tools/cli/output_names.hpp"
#include "tools/cli/pipeline_options.hpp"
#include "tools/cli/progress.hpp"
#include "tools/cli/record_file.hpp"
#include "tools/cli/shard.hpp"

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

struct InputFile {
  std::string path;
  // Its name relative to the folder argument it was found in ('/' separators), or the
  // argument itself for a file: what --shard hashes, the same wherever the data is mounted.
  std::string key;
};

// Files as given; folders expanded to their images, sorted (with `recursive`, those of
// every sub-folder too, hidden ones skipped).
inline std::vector<InputFile> expand_input_files(const std::vector<std::string>& args,
                                                 bool recursive = false) {
  namespace fs = std::filesystem;
  std::vector<InputFile> files;
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
      for (std::string& f : found) {
        std::string key = fs::path(f).lexically_relative(a).generic_string();
        files.push_back({std::move(f), std::move(key)});
      }
    } else {
      files.push_back({a, a});
    }
  }
  return files;
}

inline std::vector<std::string> expand_inputs(const std::vector<std::string>& args,
                                              bool recursive = false) {
  std::vector<std::string> paths;
  for (InputFile& f : expand_input_files(args, recursive)) paths.push_back(std::move(f.path));
  return paths;
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

// What goes where in a run of `mien image`: stdout gets a table or --json unless the
// results go to --jsonl/--csv (files, or "-" for stdout); the progress bar and summary
// are for runs over folders or with those outputs.
struct ImageOutputs {
  std::unique_ptr<RecordFile> jsonl, csv;
  bool json_stdout = false, table = false, batch = false;
};

inline ImageOutputs open_image_outputs(const ArgParser& args, bool from_folder) {
  ImageOutputs o;
  const std::string jsonl = args.get("--jsonl"), csv = args.get("--csv");
  o.json_stdout = args.has("--json");
  if (args.has("--jsonl") && jsonl.empty()) throw UsageError("--jsonl needs a file name or -");
  if (args.has("--csv") && csv.empty()) throw UsageError("--csv needs a file name or -");
  const int to_stdout = int(o.json_stdout) + int(jsonl == "-") + int(csv == "-");
  if (to_stdout > 1)
    throw UsageError("only one of --json, --jsonl -, --csv - can write to standard output");
  if (!jsonl.empty() && jsonl == csv) throw UsageError("--jsonl and --csv name the same file");
  // Opened before the models load and the folders are read: a wrong path fails at once.
  if (!jsonl.empty()) o.jsonl = std::make_unique<RecordFile>(jsonl);
  if (!csv.empty()) o.csv = std::make_unique<RecordFile>(csv);
  o.table = !o.json_stdout && !o.jsonl && !o.csv;
  o.batch = o.jsonl || o.csv || args.has("--shard") || from_folder;
  return o;
}

inline int cmd_image(const std::vector<std::string>& argv) {
  ArgParser args("mien image [options] FILE|DIR...",
                 "Find every face in each image and print its emotion and gender.\n"
                 "Folders are expanded to the images they hold. --jsonl/--csv write one\n"
                 "record per image (JSONL) or per face (CSV), failed images included, flushed\n"
                 "after each image; '-' is standard output. Exit status: 0 all images\n"
                 "analysed, 1 some failed (their errors are in the outputs too), 2 usage\n"
                 "error, 130/143 stopped by SIGINT/SIGTERM (the image in progress is\n"
                 "finished and written first).");
  args.flag("--json", "print one JSON object per image instead of a table")
      .option("--jsonl", "OUT",
              "write one JSON line per image to OUT ('-' = stdout): the --json object\n"
              "                          plus \"status\":\"ok\", or {\"file\",\"status\":\"error\","
              "\"error\"}")
      .option(
          "--csv", "OUT",
          "write a CSV row per face to OUT ('-' = stdout): file,status,error,face,\n"
          "                          x,y,w,h,score,p_<emotion>...,emotion,gender,gender_score,\n"
          "                          age (one row for an image without faces or that failed)")
      .option("--shard", "K/N",
              "analyse shard K of N (1 <= K <= N): the images whose path inside\n"
              "                          their folder hashes into shard K: the same split on every "
              "machine")
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
  const Shard shard = args.has("--shard") ? parse_shard(args.get("--shard")) : Shard{};
  DecodeLimits limits;
  limits.max_pixels = args.get_int("--max-pixels", 1, int(MIEN_MAX_IMAGE_PIXELS));
  bool from_folder = false;
  for (const std::string& a : args.positional()) {
    std::error_code ec;
    from_folder = from_folder || (a != "-" && std::filesystem::is_directory(a, ec));
  }
  ImageOutputs out = open_image_outputs(args, from_folder);
  const Pipeline pipeline = make_pipeline(args);
  const std::vector<InputFile> all = expand_input_files(args.positional(), args.has("--recursive"));
  std::vector<std::string> all_paths, files, draw_paths;
  for (const InputFile& f : all) all_paths.push_back(f.path);
  const bool many = all.size() > 1;
  const std::string draw = args.get("--draw");
  std::vector<std::string> draw_names;
  if (!draw.empty() && many) {
    std::error_code ec;
    std::filesystem::create_directories(draw, ec);
    if (!std::filesystem::is_directory(draw))
      throw Error(draw + ": cannot create the output folder");
    // Named among all the images, not the shard's: shards drawing into one folder never
    // write two images onto one name.
    draw_names = unique_output_names(all_paths, [](const std::string& stem, const std::string& in) {
      return stem + draw_extension(in);
    });
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!in_shard(all[i].key, shard)) continue;
    files.push_back(all[i].path);
    draw_paths.push_back(
        draw_names.empty() ? draw : (std::filesystem::path(draw) / draw_names[i]).string());
  }
  if (out.csv) out.csv->write(batch_csv_header(pipeline));
  // Ctrl-C in a long run: finish the image in progress, write it, stop (a second one kills).
  std::unique_ptr<InterruptWatch> watch;
  if (out.batch) watch = std::make_unique<InterruptWatch>([] {});
  // A bar on a terminal that also shows the table would be torn by every line.
  const bool stdout_lines =
      out.table || out.json_stdout || args.get("--jsonl") == "-" || args.get("--csv") == "-";
  ProgressBar bar(out.batch && (!stdout_lines || !::isatty(1)), "", "images");
  const auto start = std::chrono::steady_clock::now();
  int failures = 0;
  std::size_t done = 0, face_count = 0;
  // As many images in flight as --threads: a photo with one small face leaves threads idle
  // inside analyze (wild-dev, --threads 2: 99% CPU one at a time). Decoding and analysis
  // run on the side; results are printed and written here, in input order.
  struct Analysed {
    Image img;
    std::vector<FaceResult> faces;
  };
  const std::size_t window = std::size_t(std::max(1, opt.detect.threads));
  std::deque<std::future<Analysed>> flight;
  std::size_t launched = 0;
  for (; done < files.size(); ++done) {
    while (launched < files.size() && flight.size() < window && !InterruptWatch::signal()) {
      flight.push_back(std::async(std::launch::async, [&, file = files[launched++]] {
        Analysed a;
        a.img = load_input_image(file, limits);
        a.faces = pipeline.analyze(a.img, opt);
        return a;
      }));
    }
    if (flight.empty()) break;  // interrupted: the images in flight are written, no new ones
    bar.update(int64_t(done), int64_t(files.size()));
    std::future<Analysed> result = std::move(flight.front());
    flight.pop_front();
    const std::string& file = files[done];
    std::string jsonl, csv;
    try {
      Analysed a = result.get();
      Image& img = a.img;
      const std::vector<FaceResult>& faces = a.faces;
      face_count += faces.size();
      if (out.json_stdout) {
        std::printf("%s\n", json_text(image_json(file, img, faces, pipeline)).c_str());
      } else if (out.table) {
        print_table(file, img, faces, pipeline);
      }
      std::fflush(stdout);
      if (out.jsonl) jsonl = json_text(image_record_ok(file, img, faces, pipeline)) + "\n";
      if (out.csv) csv = batch_csv_rows(file, faces, pipeline);
      if (!draw.empty()) {
        AnnotateOptions ao;
        ao.landmarks = args.has("--landmarks");
        annotate(img, faces, pipeline, {}, ao);
        save_image(img, draw_paths[done]);
      }
    } catch (const std::exception& e) {  // Error, or bad_alloc on a huge image: next image
      bar.finish();
      std::fprintf(stderr, "mien: error: %s\n", e.what());
      ++failures;
      if (out.jsonl) jsonl = json_text(image_record_error(file, e.what())) + "\n";
      if (out.csv) csv = batch_csv_error_row(file, e.what(), pipeline);
    }
    // Outside the try: an output that cannot be written ends the run (exit 1).
    if (out.jsonl) out.jsonl->write(jsonl);
    if (out.csv) out.csv->write(csv);
  }
  bar.update(int64_t(done), int64_t(files.size()));
  bar.finish();
  if (out.jsonl) out.jsonl->close();
  if (out.csv) out.csv->close();
  if (out.batch) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string of = shard.count > 1 ? " (shard " + std::to_string(shard.index) + "/" +
                                           std::to_string(shard.count) + " of " +
                                           std::to_string(all.size()) + ")"
                                     : "";
    if (done < files.size()) of += " of " + std::to_string(files.size()) + ", interrupted";
    std::fprintf(stderr,
                 "mien image: %zu image%s%s, %zu face%s, %d failed, %.1f s (%.2f images/s)\n", done,
                 done == 1 ? "" : "s", of.c_str(), face_count, face_count == 1 ? "" : "s", failures,
                 secs, secs > 0 ? double(done) / secs : 0.0);
  }
  if (InterruptWatch::signal()) return InterruptWatch::exit_code();
  return failures ? 1 : 0;
}

}  // namespace mien::cli
