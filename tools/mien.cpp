// The mien command line. Exit status: 0 success, 1 failure (bad file, failed check, ...),
// 2 usage error.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "tools/cli/args.hpp"
#include "tools/cli/eval_command.hpp"
#include "tools/cli/image_command.hpp"
#include "tools/cli/model_commands.hpp"
#include "tools/cli/quantize_command.hpp"
#include "tools/cli/serve_command.hpp"
#include "tools/cli/video_command.hpp"

namespace {

constexpr const char* kUsage =
    "usage: mien COMMAND [options] ...\n"
    "\n"
    "Face emotion and gender on the CPU.\n"
    "\n"
    "commands:\n"
    "  image FILE|DIR   faces in photos with their emotion and gender\n"
    "  video VIDEO      faces tracked through videos: emotion timeline, summary, drawing\n"
    "  info MODEL...    inputs, outputs, layers, parameters, MACs and metadata of models\n"
    "  check MODEL...   verify models against their embedded reference outputs\n"
    "  eval DATASET     accuracy of the emotion model(s) on a labelled set of faces\n"
    "  quantize MODEL   an int8 copy of a face classifier, calibrated on images\n"
    "  serve            HTTP API and web page: photos, webcam and videos in a browser\n"
    "\n"
    "`mien COMMAND --help` describes each command. Environment:\n"
    "MIEN_ISA=scalar|avx2|avx512|auto chooses the kernels (default: the best this CPU has).\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (command == "--version") {
      std::printf("mien 0.1.0 (%s kernels available)\n", mien::available_isas().c_str());
      return 0;
    }
    if (command == "image") return mien::cli::cmd_image(args);
    if (command == "video") return mien::cli::cmd_video(args);
    if (command == "info") return mien::cli::cmd_info(args);
    if (command == "check") return mien::cli::cmd_check(args);
    if (command == "eval") return mien::cli::cmd_eval(args);
    if (command == "quantize") return mien::cli::cmd_quantize(args);
    if (command == "serve") return mien::cli::cmd_serve(args);
    throw mien::cli::UsageError("unknown command '" + command + "'");
  } catch (const mien::cli::UsageError& e) {
    std::fprintf(stderr, "mien: %s\n(see `mien --help`)\n", e.what());
    return 2;
  } catch (const mien::Error& e) {
    std::fprintf(stderr, "mien: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mien: error: %s\n", e.what());
    return 1;
  }
}
