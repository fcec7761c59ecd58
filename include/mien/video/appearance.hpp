// A cheap appearance cue for re-linking track fragments: the face crop shrunk to a 12x12
// gray thumbnail, normalised to zero mean and unit length, so that two crops compare by
// their normalised cross-correlation (1 = same pattern, independent of brightness and
// contrast). It tells a face that reappears after a gap from a different face at that
// place; it is no face recogniser (a turned head scores lower), so the tracker only uses
// it to allow links that position and size alone would not.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "mien/vision/detection.hpp"
#include "mien/vision/image.hpp"

namespace mien {

inline constexpr int kAppearanceSide = 12;

// Descriptor of `box` in `img` (box clipped to the image); empty when nothing of the box is
// inside the image or the crop is flat (no pattern to compare).
inline std::vector<float> face_appearance(const Image& img, const Detection& box) {
  const int n = kAppearanceSide;
  const float x0 = std::max(0.f, box.x), y0 = std::max(0.f, box.y);
  const float x1 = std::min(float(img.width), box.x + box.w);
  const float y1 = std::min(float(img.height), box.y + box.h);
  if (img.width <= 0 || img.height <= 0 || x1 - x0 < 2 || y1 - y0 < 2) return {};
  std::vector<float> d(std::size_t(n * n), 0.f);
  // Each cell averages a few sampled pixels: enough to blur away JPEG noise and jitter.
  constexpr int kSub = 3;
  for (int cy = 0; cy < n; ++cy)
    for (int cx = 0; cx < n; ++cx) {
      float sum = 0;
      for (int sy = 0; sy < kSub; ++sy)
        for (int sx = 0; sx < kSub; ++sx) {
          const float fx = x0 + (x1 - x0) * (float(cx) + (float(sx) + 0.5f) / kSub) / float(n);
          const float fy = y0 + (y1 - y0) * (float(cy) + (float(sy) + 0.5f) / kSub) / float(n);
          const int px = std::clamp(int(fx), 0, img.width - 1);
          const int py = std::clamp(int(fy), 0, img.height - 1);
          const uint8_t* p = img.pixel(px, py);
          sum += 0.299f * float(p[0]) + 0.587f * float(p[1]) + 0.114f * float(p[2]);
        }
      d[std::size_t(cy * n + cx)] = sum / float(kSub * kSub);
    }
  float mean = 0;
  for (float v : d) mean += v;
  mean /= float(d.size());
  float norm = 0;
  for (float& v : d) {
    v -= mean;
    norm += v * v;
  }
  norm = std::sqrt(norm);
  if (norm < 1e-3f * float(d.size())) return {};
  for (float& v : d) v /= norm;
  return d;
}

// Normalised cross-correlation of two descriptors in [-1, 1]; 0 when either is missing.
inline float appearance_similarity(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.empty() || a.size() != b.size()) return 0.f;
  float dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.f;
}

}  // namespace mien
