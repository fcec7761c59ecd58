// Runs the built `mien` command line (and examples) in a subprocess for end-to-end tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace mien::test {

struct CommandResult {
  int status = -1;  // exit code
  std::string out;  // stdout + stderr
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `args` is appended verbatim (callers quote paths with quote()).
inline CommandResult run_command(const std::string& program, const std::string& args) {
  CommandResult r;
  const std::string cmd = quote(program) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline CommandResult mien_cli(const std::string& args) {
  return run_command(MIEN_CLI_PATH, args);
}

inline std::string source_path(const std::string& rel) {
  return std::string(MIEN_SOURCE_DIR) + "/" + rel;
}

// A fresh empty folder under the system temp dir.
inline std::string temp_dir(const std::string& name) {
  const std::string dir = "/tmp/mien_test_" + name + "_" + std::to_string(::getpid());
  std::system(("rm -rf " + quote(dir) + " && mkdir -p " + quote(dir)).c_str());
  return dir;
}

inline bool have_ffmpeg() {
  return run_command("ffmpeg", "-version").status == 0;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace mien::test
