// Face crops for classifiers: a square (or rectangular) window of the image, centred on the
// face, rotated so that the eyes are level, resampled to the model input with antialiasing,
// and with a chosen fill where the window leaves the photo.
//
// Why not crop_resize_to_tensor: it cannot rotate, and a tight photo (the face fills the
// frame) leaves part of the window outside the image, where black padding is a strong edge
// that no training crop had; replicating the edge is closer (+1 to +3 points on wild-dev,
// weights/README.md, "Crop geometry"). The resampling is plain bilinear: a box prefilter
// against aliasing when a 300-pixel face shrinks to 64 was tried and changed wild-dev
// accuracy by -0.5 to +0.5 points (noise) while making the crops 2-25x dearer.
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
// left) to its left eye (keypoint 1), as BlazeFace orders them. 0 without keypoints, and
// where the eyes do not tell a roll: closer than a fifth of the box width (a profile, where
// the far eye is a guess) or a line steeper than 45 degrees (upside down or a wrong eye).
inline double eye_angle(const Detection& face) {
  if (face.keypoints.size() < 2) return 0.0;
  const Point& r = face.keypoints[0];
  const Point& l = face.keypoints[1];
  const double dx = double(l.x) - r.x, dy = double(l.y) - r.y;
  if (!(std::hypot(dx, dy) >= 0.2 * face.w) || dx <= 0 || std::fabs(dy) > dx) return 0.0;
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

// Bilinear RGB at continuous image coordinates (pixel centres at +0.5), added to acc.
// Black fill: a point outside the image adds 0; edge fill: the nearest border pixel.
inline void add_sample(const Image& img, float x, float y, BorderFill fill, float* acc) {
  const float sx = x - 0.5f, sy = y - 0.5f;
  const float max_x = float(img.width - 1), max_y = float(img.height - 1);
  int x0, y0, x1, y1;
  float fx, fy;
  if (sx >= 0.f && sy >= 0.f && sx < max_x && sy < max_y) {  // interior: no clamping
    x0 = int(sx);
    y0 = int(sy);
    x1 = x0 + 1;
    y1 = y0 + 1;
    fx = sx - float(x0);
    fy = sy - float(y0);
  } else {
    if (fill == BorderFill::Black &&
        !(x >= 0.f && y >= 0.f && x < float(img.width) && y < float(img.height)))
      return;
    const float cx = std::clamp(sx, 0.f, max_x), cy = std::clamp(sy, 0.f, max_y);
    x0 = int(cx);
    y0 = int(cy);
    x1 = std::min(x0 + 1, img.width - 1);
    y1 = std::min(y0 + 1, img.height - 1);
    fx = cx - float(x0);
    fy = cy - float(y0);
  }
  const uint8_t *p00 = img.pixel(x0, y0), *p01 = img.pixel(x1, y0);
  const uint8_t *p10 = img.pixel(x0, y1), *p11 = img.pixel(x1, y1);
  for (int c = 0; c < 3; ++c) {
    const float top = p00[c] + (p01[c] - p00[c]) * fx;
    const float bot = p10[c] + (p11[c] - p10[c]) * fx;
    acc[c] += top + (bot - top) * fy;
  }
}

}  // namespace detail

// Resamples the (possibly rotated) window to out_w x out_h NHWC floats, bilinear, as
// crop_resize_to_tensor does (out = v * scale[c] + offset[c], Gray from the interpolated
// colour; output pixel centres at half-pixel positions of the window).
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
  const double ca = std::cos(win.angle), sa = std::sin(win.angle);
  // Image position of output pixel (i, j)'s centre: origin + i * column step + j * row step.
  const double u0 = 0.5 * step_x - win.w / 2, v0 = 0.5 * step_y - win.h / 2;
  const double ox = win.cx + ca * u0 - sa * v0, oy = win.cy + sa * u0 + ca * v0;
  const int r = mode == ColorMode::Bgr ? 2 : 0, b = 2 - r;
  for (int j = 0; j < out_h; ++j) {
    const double row_x = ox - sa * j * step_y, row_y = oy + ca * j * step_y;
    for (int i = 0; i < out_w; ++i) {
      float acc[3] = {0.f, 0.f, 0.f};
      detail::add_sample(img, float(row_x + ca * i * step_x), float(row_y + sa * i * step_x), fill,
                         acc);
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
