// Output file names for commands that take many inputs and write one file per input into
// a folder (image --draw, video --json/--csv/--draw): never two inputs onto one output.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mien/core/error.hpp"

namespace mien::cli {

// For each input, a file name (no folder) from `name_of(stem, input)`, unique among the
// inputs: "d1/clip.mp4" and "d2/clip.mp4" become "d1_clip" and "d2_clip" (as many parent
// folders as it takes), the same path given twice "clip" and "clip-2". `stdin_stem` names
// "-". Each renaming is reported on stderr, since the user did not choose it.
inline std::vector<std::string> unique_output_names(
    const std::vector<std::string>& inputs,
    const std::function<std::string(const std::string& stem, const std::string& input)>& name_of,
    const std::string& stdin_stem = "stdin") {
  const std::size_t n = inputs.size();
  std::vector<std::vector<std::string>> parts(n);  // parent folders, innermost first
  std::vector<std::string> stems(n), names(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (inputs[i] == "-") {
      stems[i] = stdin_stem;
      continue;
    }
    const std::filesystem::path p = std::filesystem::path(inputs[i]).lexically_normal();
    stems[i] = p.stem().string();
    for (std::filesystem::path d = p.parent_path(); !d.empty() && d.has_filename();
         d = d.parent_path())
      parts[i].push_back(d.filename().string());
  }
  std::vector<std::string> full(n);  // the same file given twice is told apart by number
  for (std::size_t i = 0; i < n; ++i)
    full[i] = inputs[i] == "-" ? "-" : std::filesystem::path(inputs[i]).lexically_normal().string();
  std::vector<std::size_t> depth(n, 0);
  auto make = [&](std::size_t i) {
    std::string stem = stems[i];
    for (std::size_t k = 0; k < depth[i]; ++k) stem = parts[i][k] + "_" + stem;
    return name_of(stem, inputs[i]);
  };
  for (std::size_t i = 0; i < n; ++i) names[i] = make(i);
  // Colliding names take one more parent folder each round, while any has one left.
  for (bool changed = true; changed;) {
    changed = false;
    std::map<std::string, std::vector<std::size_t>> users;
    for (std::size_t i = 0; i < n; ++i) users[names[i]].push_back(i);
    for (const auto& u : users) {
      if (u.second.size() < 2) continue;
      bool distinct = false;
      for (std::size_t i : u.second) distinct = distinct || full[i] != full[u.second[0]];
      if (!distinct) continue;
      for (std::size_t i : u.second)
        if (depth[i] < parts[i].size()) {
          ++depth[i];
          names[i] = make(i);
          changed = true;
        }
    }
  }
  // Still equal (the same file twice): number the later ones.
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < n; ++i) {
    const int k = ++seen[names[i]];
    if (k > 1) {
      const std::filesystem::path p(names[i]);
      names[i] = p.stem().string() + "-" + std::to_string(k) + p.extension().string();
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (names[i] != name_of(stems[i], inputs[i]))
      std::fprintf(stderr, "mien: note: %s: output named %s (another input has the same name)\n",
                   inputs[i].c_str(), names[i].c_str());
  return names;
}

// Creates (or empties) a file that will be written later, so that an unwritable output is
// found before any work is done, not after an hour of video.
inline void check_writable(const std::string& path, const std::string& what) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(path + ": cannot write " + what + ": " + std::strerror(errno));
  std::fclose(f);
}

}  // namespace mien::cli
