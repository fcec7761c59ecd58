// The one translation unit of mien::impl (CMake): the pipeline's entry points compiled
// once, so that programs linking it only parse the headers (include/mien/core/api.hpp).
// Built with MIEN_SEPARATE_IMPL and MIEN_IMPLEMENTATION.
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
