// Where the labels of many faces go so that none overlaps another or leaves the image.
//
// Each face offers label variants, richest first (e.g. two lines at full size, one line,
// one line at the smallest size). All faces use the same variant level, so a photo's labels
// look alike: the layout takes the richest level at which every label finds a place next
// to its face, above or below the box, covering no face. Next best is a label inside its
// own box (top or bottom edge: a face at the image border), then one over another face;
// a richer level that needs those loses to a plainer level that does not. In a crowd
// where even the smallest labels do not fit, labels may
// also move further up or down (stacked), and a label that still finds no place is left
// out: an unlabelled box beats labels printed over each other.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace mien {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

inline bool intersects(const Rect& a, const Rect& b) {
  return int64_t(a.x) < int64_t(b.x) + b.w && int64_t(b.x) < int64_t(a.x) + a.w &&
         int64_t(a.y) < int64_t(b.y) + b.h && int64_t(b.y) < int64_t(a.y) + a.h;
}

inline bool inside(const Rect& r, int width, int height) {
  return r.x >= 0 && r.y >= 0 && r.w >= 0 && r.h >= 0 && int64_t(r.x) + r.w <= width &&
         int64_t(r.y) + r.h <= height;
}

struct LabelRequest {
  Rect face;
  std::vector<Rect> variants;  // sizes (w, h) of the label variants, richest first
};

struct LabelPlacement {
  int variant = -1;     // index into the request's variants; -1: no place, not drawn
  Rect rect;            // where the label goes (when variant >= 0)
  bool covers = false;  // it covers a face (its own or another)
};

namespace detail {

// Candidate top-left corners for a w x h label of `face`, best first; `stack` adds places
// further above and below.
inline std::vector<Rect> label_candidates(const Rect& face, int w, int h, int width, bool stack) {
  const int left = std::clamp(face.x, 0, std::max(0, width - w));
  const int right = std::clamp(face.x + face.w - w, 0, std::max(0, width - w));
  std::vector<Rect> c;
  for (int x : {left, right}) {
    c.push_back({x, face.y - h, w, h});       // above
    c.push_back({x, face.y + face.h, w, h});  // below
  }
  for (int x : {left, right}) {
    c.push_back({x, face.y, w, h});               // inside, top
    c.push_back({x, face.y + face.h - h, w, h});  // inside, bottom
  }
  if (stack)
    for (int k = 1; k <= 6; ++k)
      for (int x : {left, right}) {
        c.push_back({x, face.y - h * (k + 1), w, h});
        c.push_back({x, face.y + face.h + h * k, w, h});
      }
  return c;
}

// Greedy placement of every label at `level` (the last variant when a face has fewer).
inline std::vector<LabelPlacement> place_at_level(int width, int height,
                                                  const std::vector<LabelRequest>& req, int level,
                                                  bool stack) {
  std::vector<LabelPlacement> out(req.size());
  std::vector<Rect> placed;
  // Larger faces choose first: they are the ones people look at.
  std::vector<std::size_t> order(req.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return int64_t(req[a].face.w) * req[a].face.h > int64_t(req[b].face.w) * req[b].face.h;
  });
  for (std::size_t i : order) {
    const LabelRequest& r = req[i];
    if (r.variants.empty()) continue;
    const int v = std::min(level, int(r.variants.size()) - 1);
    const int w = r.variants[std::size_t(v)].w, h = r.variants[std::size_t(v)].h;
    const std::vector<Rect> cand = label_candidates(r.face, w, h, width, stack);
    // First a place that covers no face, then one covering only its own, then any.
    for (int pass = 0; pass < 3 && out[i].variant < 0; ++pass)
      for (const Rect& c : cand) {
        if (!inside(c, width, height)) continue;
        bool free = true;
        for (const Rect& p : placed) free = free && !intersects(c, p);
        if (pass < 2)
          for (std::size_t j = 0; j < req.size() && free; ++j)
            free = !intersects(c, req[j].face) || (pass == 1 && j == i);
        if (!free) continue;
        out[i] = {v, c, pass > 0};
        placed.push_back(c);
        break;
      }
  }
  return out;
}

}  // namespace detail

// One placement per request; placed rectangles never intersect and lie inside the image.
inline std::vector<LabelPlacement> place_labels(int width, int height,
                                                const std::vector<LabelRequest>& req) {
  int levels = 0;
  for (const LabelRequest& r : req) levels = std::max(levels, int(r.variants.size()));
  // (labels left out, labels covering a face): lower is better.
  auto cost = [&](const std::vector<LabelPlacement>& p) {
    std::pair<int, int> c{0, 0};
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (p[i].variant < 0 && !req[i].variants.empty()) ++c.first;
      if (p[i].variant >= 0 && p[i].covers) ++c.second;
    }
    return c;
  };
  std::vector<LabelPlacement> best(req.size());
  for (int level = 0; level < levels; ++level) {
    std::vector<LabelPlacement> p = detail::place_at_level(width, height, req, level, false);
    if (cost(p) == std::make_pair(0, 0)) return p;
    if (level == 0 || cost(p) < cost(best)) best = std::move(p);
  }
  if (levels == 0 || cost(best).first == 0) return best;
  std::vector<LabelPlacement> stacked =
      detail::place_at_level(width, height, req, levels - 1, true);
  return cost(stacked) < cost(best) ? stacked : best;
}

}  // namespace mien
