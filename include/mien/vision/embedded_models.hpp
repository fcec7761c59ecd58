// Default models compiled into the program, so that `mien` and user programs work from
// any directory with no files beside them. Enabled by defining MIEN_EMBED_WEIGHTS_DIR (a
// string literal: the folder holding blazeface.mien, emotion.mien, face_expression.mien,
// gender.mien, age.mien) in at least one file of the program before including mien (CMake:
// mien_embed_default_models(target) compiles one small file that does). The bytes are pulled in
// with the assembler's .incbin into COMDAT sections, so several translation units may include this
// header and the linker keeps one copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mien/core/error.hpp"

namespace mien {

struct EmbeddedModel {
  const uint8_t* data = nullptr;
  std::size_t size = 0;
  bool available() const { return data != nullptr && size > 0; }
};

// The symbols are always declared weak, whether or not this translation unit embeds the
// models, and one body of embedded_model() tests them: a program whose files disagree about
// MIEN_EMBED_WEIGHTS_DIR still sees one definition of every inline function (no ODR
// hazard), and a program where no file embeds them gets null pointers (no model).
#if defined(__GNUC__) && defined(__ELF__)
#define MIEN_EMBEDDED_MODELS_SUPPORTED 1
#define MIEN_DECLARE_EMBEDDED_(name)                                    \
  extern "C" __attribute__((weak)) const uint8_t mien_##name##_begin[]; \
  extern "C" __attribute__((weak)) const uint8_t mien_##name##_end[];
MIEN_DECLARE_EMBEDDED_(blazeface)
MIEN_DECLARE_EMBEDDED_(emotion)
MIEN_DECLARE_EMBEDDED_(face_expression)
MIEN_DECLARE_EMBEDDED_(gender)
MIEN_DECLARE_EMBEDDED_(age)
#else
#define MIEN_EMBEDDED_MODELS_SUPPORTED 0
#endif

#if defined(MIEN_EMBED_WEIGHTS_DIR) && MIEN_EMBEDDED_MODELS_SUPPORTED
#define MIEN_INCBIN_(name, file)                                             \
  __asm__(".pushsection .rodata.mien_" #name ",\"aG\",@progbits,mien_" #name \
          ",comdat\n"                                                        \
          ".weak mien_" #name                                                \
          "_begin\n"                                                         \
          ".weak mien_" #name                                                \
          "_end\n"                                                           \
          ".balign 64\n"                                                     \
          "mien_" #name                                                      \
          "_begin:\n"                                                        \
          ".incbin \"" MIEN_EMBED_WEIGHTS_DIR "/" file                       \
          "\"\n"                                                             \
          "mien_" #name                                                      \
          "_end:\n"                                                          \
          ".popsection\n");
MIEN_INCBIN_(blazeface, "blazeface.mien")
MIEN_INCBIN_(emotion, "emotion.mien")
MIEN_INCBIN_(face_expression, "face_expression.mien")
MIEN_INCBIN_(gender, "gender.mien")
MIEN_INCBIN_(age, "age.mien")
#endif

// The model compiled into the program under `name` (blazeface, emotion, face_expression,
// gender, age), or an unavailable one.
inline EmbeddedModel embedded_model(const char* name) {
#if MIEN_EMBEDDED_MODELS_SUPPORTED
  auto make = [](const uint8_t* b, const uint8_t* e) {
    return b != nullptr && e != nullptr && e > b ? EmbeddedModel{b, std::size_t(e - b)}
                                                 : EmbeddedModel{};
  };
  const std::string n = name;
  if (n == "blazeface") return make(mien_blazeface_begin, mien_blazeface_end);
  if (n == "emotion") return make(mien_emotion_begin, mien_emotion_end);
  if (n == "face_expression") return make(mien_face_expression_begin, mien_face_expression_end);
  if (n == "gender") return make(mien_gender_begin, mien_gender_end);
  if (n == "age") return make(mien_age_begin, mien_age_end);
#else
  (void)name;
#endif
  return {};
}

}  // namespace mien
