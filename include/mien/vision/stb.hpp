// The one place mien includes stb_image / stb_image_write (Debian libstb-dev, public domain).
//
// mien is header-only, so there is no .cpp to hold stb's implementation. Instead every
// translation unit that includes this header compiles its own *static* copy
// (STB_IMAGE_STATIC / STB_IMAGE_WRITE_STATIC): no duplicate symbols at link time, and
// unused functions are dropped by the compiler. Only the TUs that actually call
// load_image / save_image pay for the code, which in practice is one or two per program.
//
// If a program includes stb_image.h itself, include mien first: stb's include guard then
// makes the later include a no-op and the program shares mien's static copy in that TU.
// (Including stb_image.h *before* mien with its own STB_IMAGE_IMPLEMENTATION in the same TU
// cannot work with any wrapper and is rejected below with a clear message.)
#pragma once

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(MIEN_STB_IMAGE_INCLUDED)
#error "mien/vision/stb.hpp must be included before stb_image.h in the same translation unit"
#endif
#define MIEN_STB_IMAGE_INCLUDED 1

// Our own limits (checked by mien before decoding, whatever stb is configured with).
// 100 megapixels is far beyond any camera photo a face pipeline sees; the side limit
// matches JPEG's own maximum and lets stb reject absurd headers early as well.
#define MIEN_MAX_IMAGE_PIXELS 100000000LL
#define MIEN_MAX_IMAGE_SIDE 65535
// What decode_image accepts unless told otherwise (DecodeLimits, --max-pixels): above the
// 48-50 MP of today's largest common phone photos, far below the hard limit.
#define MIEN_DEFAULT_MAX_PIXELS 50000000LL

// System headers that stb includes, included here first, outside the pragma region.
#include <cassert>
#include <climits>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_MAX_DIMENSIONS MIEN_MAX_IMAGE_SIDE
// Formats a face pipeline never sees: less code, less attack surface (HDR and PIC decoders
// have had the most memory-safety bugs).
#define STBI_NO_PSD
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_LINEAR

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION

// stb is C written for many compilers; its internals are not -Wall -Wextra clean in C++.
// Silence them here only, so mien's own code keeps every warning.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma clang diagnostic ignored "-Wunused-but-set-variable"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#pragma clang diagnostic ignored "-Wcast-qual"
#pragma clang diagnostic ignored "-Wshadow"
#pragma clang diagnostic ignored "-Wconversion"
#pragma clang diagnostic ignored "-Wsign-conversion"
#pragma clang diagnostic ignored "-Wdouble-promotion"
#pragma clang diagnostic ignored "-Wold-style-cast"
#pragma clang diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma clang diagnostic ignored "-Wcomma"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

// Debian/Ubuntu install the headers under include/stb/; vcpkg, conan and most others put
// them directly on the include path.
#if __has_include(<stb_image.h>)
#include <stb_image.h>
#include <stb_image_write.h>
#else
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#endif

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
