// How the pipeline's entry points (Pipeline's constructor, default models and analysis;
// decode/load/encode/save_image) are compiled.
//
// Header-only (the default): they are inline, and every translation unit that calls them
// compiles the whole engine behind them (model loading, every layer and kernel, stb's
// decoders): about 30 s of CPU for an 8-line program at -O2.
//
// Compiled once (link the CMake target mien::impl, which defines MIEN_SEPARATE_IMPL for the
// whole program): they are ordinary functions, declared in the headers and defined once, in
// src/mien_impl.cpp (built with MIEN_IMPLEMENTATION); a program's own files then only
// parse the headers. MIEN_SEPARATE_IMPL must be the same for every file of a program (the
// target sees to that): mixing the two would give one function two definitions.
#pragma once

#if defined(MIEN_SEPARATE_IMPL)
#define MIEN_API
#if defined(MIEN_IMPLEMENTATION)
#define MIEN_API_BODIES 1
#else
#define MIEN_API_BODIES 0
#endif
#else
#define MIEN_API inline
#define MIEN_API_BODIES 1
#endif
