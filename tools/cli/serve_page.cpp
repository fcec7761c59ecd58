// The page of `mien serve`, tools/cli/web/index.html turned into a string at build time
// (CMakeLists.txt, cmake/embed_text.cmake). A translation unit of its own: editing the page
// recompiles these few lines, not the whole engine in tools/mien.cpp.
namespace mien::cli {

extern const char* const kServePage;
const char* const kServePage =
#include "mien_serve_page.inc"
    ;

}  // namespace mien::cli
