// What a vision model wants as input, read from its metadata (FORMAT.md, "Model
// description"): size, colour order, and the per-channel affine normalisation
// v * scale + offset applied to 0..255 pixel values.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "mien/model/model.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/model_checks.hpp"

namespace mien {

struct InputSpec {
  int height = 0, width = 0;
  ColorMode color = ColorMode::Rgb;
  std::vector<float> scale, offset;  // one per channel

  int channels() const { return color_channels(color); }

  // Every key is checked for type and range; errors name the model file and the key.
  static InputSpec from_model(const Model& model) {
    try {
      return read(model);
    } catch (Error& e) {
      e.set_file(model.origin());
      throw;
    }
  }

 private:
  static InputSpec read(const Model& model) {
    const GraphDef& g = model.graph();
    const Metadata& m = g.meta;
    MIEN_CHECK(g.inputs.size() == 1, "a vision model must have exactly one input");
    const InputDef& in = g.inputs[0];
    InputSpec s;
    s.color = parse_color_mode(
        meta::choice(m, "input.color", in.c == 1 ? "gray" : "rgb", {"rgb", "bgr", "gray", "grey"}));
    MIEN_CHECK(s.channels() == in.c, "input.color '", m.get_string("input.color", ""),
               "' does not match the model's ", in.c, " input channels");
    // Checked as int64 before narrowing: 2^40 must not wrap to 0.
    MIEN_CHECK(m.has("input.height") || in.h > 0,
               "the graph input has no fixed height and metadata key 'input.height' is missing");
    MIEN_CHECK(m.has("input.width") || in.w > 0,
               "the graph input has no fixed width and metadata key 'input.width' is missing");
    s.height = int(meta::integer(m, "input.height", in.h, 1, 4096));
    s.width = int(meta::integer(m, "input.width", in.w, 1, 4096));
    MIEN_CHECK((in.h == -1 || in.h == s.height) && (in.w == -1 || in.w == s.width),
               "input.height/width disagree with the graph input");
    if (m.has("input.resize")) meta::choice(m, "input.resize", "", {"letterbox", "stretch"});
    auto per_channel = [&](const char* key, double fallback) {
      std::vector<double> v = meta::finite_numbers(m, key, {fallback});
      MIEN_CHECK(v.size() == 1 || int(v.size()) == s.channels(), key, " has ", v.size(),
                 " values for ", s.channels(), " channels");
      std::vector<float> out(std::size_t(s.channels()));
      for (int c = 0; c < s.channels(); ++c) {
        const double x = v.size() == 1 ? v[0] : v[std::size_t(c)];
        // Finite as a double but not as a float (1e300) is as bad as infinity.
        MIEN_CHECK(std::fabs(x) <= 1e6, "metadata key '", key, "' value ", x,
                   " is out of range (|x| <= 1e6)");
        out[std::size_t(c)] = float(x);
      }
      return out;
    };
    s.scale = per_channel("input.scale", 1.0 / 255.0);
    s.offset = per_channel("input.offset", 0.0);
    return s;
  }
};

}  // namespace mien
