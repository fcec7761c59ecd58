// Face crops for classifiers: a square (or rectangular) window of the image, centred on the
// face, rotated so that the eyes are level, resampled to the model input with antialiasing,
// and with a chosen fill where the window leaves the photo.
//
// Why not crop_resize_to_tensor: a wild photo's face is often 150-350 pixels wide and the
// classifiers read 64x64, so a plain bilinear resample (4 taps) aliases; the classifiers
// were trained on faces that were downscaled properly (FER-2013's 48x48 crops). And a tight
// photo (the face fills the frame) leaves much of a 1.5x window outside the image, where
// black padding is a strong edge that no training crop had; replicating the edge is closer.
// Measured on wild-dev (weights/README.md, "Crop geometry").
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mien/vision/detection.hpp"
#include "mien/vision/image.hpp"

namespace mien {

// What a crop window reads outside the image.
enum class BorderFill { Black, Edge };

inline BorderFill parse_border_fill(const std::string& s) {
  if (s == "black") return BorderFill::Black;
  if (s == "edge") return BorderFill::Edge;
  throw Error("unknown crop fill '" + s + "' (expected black or edge)");
}

// A crop window in image pixels: centre, size, and rotation (radians; the window's x axis
// points along (cos a, sin a) in the image, so a = the angle of the line between the eyes
// makes them level in the crop).
struct CropWindow {
  double cx = 0, cy = 0, w = 0, h = 0, angle = 0;
};

// How a classifier places its window on a detected face (model metadata `crop.*`).
struct CropGeometry {
  float scale = 1.f;    // window side / the detector box's longer side
  float shift_y = 0.f;  // window centre below the box centre, in box heights (upright face)
  float aspect = 1.f;   // window width / height
  bool align = false;   // rotate so the eyes are level (needs eye keypoints)
  // Centre on the landmarks (midpoint of the eye centre and the mouth) instead of the box
  // centre; needs 4 keypoints (eyes, nose, mouth).
  bool landmark_centre = false;
  BorderFill fill = BorderFill::Black;
};

// The face's roll: the angle of the line from its right eye (keypoint 0, on the image's
// left) to its left eye (keypoint 1), as BlazeFace orders them. 0 without keypoints.
inline double eye_angle(const Detection& face) {
  if (face.keypoints.size() < 2) return 0.0;
  const Point& r = face.keypoints[0];
  const Point& l = face.keypoints[1];
  const double dx = double(l.x) - r.x, dy = double(l.y) - r.y;
  if (!(std::hypot(dx, dy) > 1e-3) || dx <= 0) return 0.0;  // degenerate or upside down
  return std::atan2(dy, dx);
}

inline CropWindow crop_window(const Detection& face, const CropGeometry& g) {
  CropWindow c;
  c.angle = g.align ? eye_angle(face) : 0.0;
  const double side = double(std::max(face.w, face.h)) * g.scale;
  c.h = side;
  c.w = side * g.aspect;
  // The shift runs along the face's own vertical axis, so it follows the rotation.
  const double shift = double(g.shift_y) * face.h;
  double x = face.x + face.w / 2.0, y = face.y + face.h / 2.0;
  if (g.landmark_centre && face.keypoints.size() >= 4) {
    const std::vector<Point>& k = face.keypoints;
    x = (k[0].x + k[1].x) / 4.0 + k[3].x / 2.0;
    y = (k[0].y + k[1].y) / 4.0 + k[3].y / 2.0;
  }
  c.cx = x - std::sin(c.angle) * shift;
  c.cy = y + std::cos(c.angle) * shift;
  return c;
}

namespace detail {

// Bilinear RGB at continuous image coordinates (pixel centres at +0.5). Black fill: a point
// outside the image is 0; edge fill: the nearest border pixel.
inline void sample_rgb(const Image& img, double x, double y, BorderFill fill, float* v) {
  if (fill == BorderFill::Black &&
      !(x >= 0.0 && y >= 0.0 && x < double(img.width) && y < double(img.height))) {
    v[0] = v[1] = v[2] = 0.f;
    return;
  }
  const double sx = std::clamp(x - 0.5, 0.0, double(img.width - 1));
  const double sy = std::clamp(y - 0.5, 0.0, double(img.height - 1));
  const int x0 = int(sx), y0 = int(sy);
  const int x1 = std::min(x0 + 1, img.width - 1), y1 = std::min(y0 + 1, img.height - 1);
  const float fx = float(sx - x0), fy = float(sy - y0);
  const uint8_t *p00 = img.pixel(x0, y0), *p01 = img.pixel(x1, y0);
  const uint8_t *p10 = img.pixel(x0, y1), *p11 = img.pixel(x1, y1);
  for (int c = 0; c < 3; ++c) {
    const float top = p00[c] + (p01[c] - p00[c]) * fx;
    const float bot = p10[c] + (p11[c] - p10[c]) * fx;
    v[c] = top + (bot - top) * fy;
  }
}

}  // namespace detail

// Resamples the (possibly rotated) window to out_w x out_h NHWC floats, as
// crop_resize_to_tensor does (out = v * scale[c] + offset[c], Gray from the interpolated
// colour). When the window is more than 1.5x larger than the output, each output pixel
// averages a grid of bilinear samples (one per source pixel step, at most 8x8): a box
// prefilter that removes the aliasing of plain bilinear shrinking.
inline void warp_crop_to_tensor(const Image& img, const CropWindow& win, int out_w, int out_h,
                                ColorMode mode, const float* scale, const float* offset,
                                BorderFill fill, float* out) {
  detail::check_image(img, "warp_crop_to_tensor");
  MIEN_CHECK(!img.empty(), "warp_crop_to_tensor: empty image");
  MIEN_CHECK(out_w > 0 && out_h > 0 && out != nullptr, "warp_crop_to_tensor: output ", out_w, "x",
             out_h);
  MIEN_CHECK(std::isfinite(win.cx) && std::isfinite(win.cy) && std::isfinite(win.angle) &&
                 win.w > 0 && win.h > 0 && std::isfinite(win.w) && std::isfinite(win.h),
             "warp_crop_to_tensor: invalid window");
  const int ch = color_channels(mode);
  float sc[3] = {1.f, 1.f, 1.f}, of[3] = {0.f, 0.f, 0.f};
  for (int c = 0; c < ch; ++c) {
    if (scale) sc[c] = scale[c];
    if (offset) of[c] = offset[c];
  }
  const double step_x = win.w / out_w, step_y = win.h / out_h;  // source pixels per output
  auto taps = [](double step) { return step > 1.5 ? std::min(8, int(std::lround(step))) : 1; };
  const int nx = taps(step_x), ny = taps(step_y);
  const double ca = std::cos(win.angle), sa = std::sin(win.angle);
  const int r = mode == ColorMode::Bgr ? 2 : 0, b = 2 - r;
  const float norm = 1.f / float(nx * ny);
  for (int j = 0; j < out_h; ++j) {
    for (int i = 0; i < out_w; ++i) {
      float acc[3] = {0.f, 0.f, 0.f};
      for (int sj = 0; sj < ny; ++sj) {
        const double v = (j + (sj + 0.5) / ny) * step_y - win.h / 2;
        for (int si = 0; si < nx; ++si) {
          const double u = (i + (si + 0.5) / nx) * step_x - win.w / 2;
          float px[3];
          detail::sample_rgb(img, win.cx + ca * u - sa * v, win.cy + sa * u + ca * v, fill, px);
          acc[0] += px[0];
          acc[1] += px[1];
          acc[2] += px[2];
        }
      }
      for (float& a : acc) a *= norm;
      if (mode == ColorMode::Gray) {
        const float g = 0.2989f * acc[0] + 0.587f * acc[1] + 0.114f * acc[2];
        out[std::size_t(j) * out_w + i] = g * sc[0] + of[0];
      } else {
        float* o = out + (std::size_t(j) * out_w + i) * 3;
        o[0] = acc[r] * sc[0] + of[0];
        o[1] = acc[1] * sc[1] + of[1];
        o[2] = acc[b] * sc[2] + of[2];
      }
    }
  }
}

}  // namespace mien
