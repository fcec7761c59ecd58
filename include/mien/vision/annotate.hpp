// Draws pipeline results on an image: a box per face in its emotion's colour and a label
// with the top three emotions ("#1 happy 87% | woman 91% | age 31" over "sad 7%  fear 3%";
// in crowds "#1 happy 87% | woman, 31"), in
// black or white, whichever reads better on the label's colour. Labels are laid out
// together (label_layout.hpp): they never overlap one another or leave the image, and in
// crowds they shrink to one line, then to a smaller font, before being left out.
// Optionally the detector's landmarks (eyes, nose, mouth, ears for BlazeFace) as dots.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "mien/vision/draw.hpp"
#include "mien/vision/label_layout.hpp"
#include "mien/vision/pipeline.hpp"

namespace mien {

struct AnnotateOptions {
  bool landmarks = false;  // draw each face's detector keypoints
};

inline std::string percent(float p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", double(p) * 100.0);
  return buf;
}

namespace detail {

// The emotion indices by probability, largest first.
inline std::vector<int> emotion_ranking(const std::vector<float>& scores) {
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scores[std::size_t(a)] > scores[std::size_t(b)]; });
  return order;
}

struct LabelText {
  std::string text;
  int scale = 1;
};

// A face's label variants, richest first: both lines, the first line, the first line
// smaller, and the title with the emotion's name at the smallest size.
inline std::vector<LabelText> label_variants(const FaceResult& r, const Pipeline& p,
                                             const std::string& title, int scale) {
  const std::string prefix = title.empty() ? "" : title + " ";
  std::string line1 = prefix, second, name;
  if (r.emotion >= 0 && std::size_t(r.emotion) < r.emotion_scores.size()) {
    name = p.emotion_labels()[std::size_t(r.emotion)];
    line1 += name + " " + percent(r.emotion_scores[std::size_t(r.emotion)]);
    int shown = 0;
    for (int k : emotion_ranking(r.emotion_scores)) {
      if (k == r.emotion || shown == 2) continue;
      second += (shown ? "  " : "") + p.emotion_labels()[std::size_t(k)] + " " +
                percent(r.emotion_scores[std::size_t(k)]);
      ++shown;
    }
  }
  // `compact` ("happy 73% | woman, 31") drops the gender's probability: with the age added
  // it is what keeps crowded photos' labels at full size (about as wide as the label was
  // without age). Whole years: the model's error is years, a decimal would only crowd it.
  std::string compact = line1;
  const std::string years = r.age >= 0 ? std::to_string(int(std::lround(r.age))) : "";
  if (r.gender >= 0) {
    const std::string& g = p.gender_labels()[std::size_t(r.gender)];
    line1 += " | " + g + " " + percent(r.gender_score);
    compact += " | " + g + (years.empty() ? "" : ", " + years);
  } else if (!years.empty()) {
    compact += " | age " + years;
  }
  if (!years.empty()) line1 += " | age " + years;
  std::vector<LabelText> v;
  auto add = [&](const std::string& text, int s) {
    if (text.empty()) return;
    if (v.empty() || v.back().text != text || v.back().scale != s) v.push_back({text, s});
  };
  add(second.empty() ? line1 : line1 + "\n" + second, scale);
  add(line1, scale);
  add(compact, scale);
  if (scale > 2) add(compact, (scale + 1) / 2);
  add(line1, 1);
  add(compact, 1);
  add(prefix + name, 1);
  return v;
}

}  // namespace detail

// `titles` (e.g. track ids, may be empty) prefixes each face's label.
inline void annotate(Image& img, const std::vector<FaceResult>& results, const Pipeline& p,
                     const std::vector<std::string>& titles = {}, AnnotateOptions opt = {}) {
  const int scale = std::max(1, std::min(img.width, img.height) / 360);
  std::vector<std::vector<detail::LabelText>> texts;
  std::vector<LabelRequest> req;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const FaceResult& r = results[i];
    const Detection& f = r.face;
    draw_rect(img, int(f.x), int(f.y), int(f.w), int(f.h), palette_color(r.emotion), 2 * scale);
    texts.push_back(detail::label_variants(r, p, i < titles.size() ? titles[i] : "", scale));
    LabelRequest q;
    q.face = {int(f.x), int(f.y), int(f.w), int(f.h)};
    for (const detail::LabelText& t : texts.back()) {
      const TextSize s = label_box_size(t.text, t.scale);
      q.variants.push_back({0, 0, s.w, s.h});
    }
    req.push_back(q);
  }
  if (opt.landmarks) {
    // White dots in a dark ring: visible on skin, hair and background alike.
    const int radius = std::max(2, scale + 1);
    for (const FaceResult& r : results)
      for (const Point& k : r.face.keypoints) {
        fill_disc(img, int(k.x), int(k.y), radius + 1, Rgb{0, 0, 0});
        fill_disc(img, int(k.x), int(k.y), radius, Rgb{255, 255, 255});
      }
  }
  // Labels last, so that no box or dot is drawn over a label's text.
  const std::vector<LabelPlacement> where = place_labels(img.width, img.height, req);
  for (std::size_t i = 0; i < where.size(); ++i) {
    if (where[i].variant < 0) continue;
    const detail::LabelText& t = texts[i][std::size_t(where[i].variant)];
    const Rgb bg = palette_color(results[i].emotion);
    draw_label_box(img, where[i].rect.x, where[i].rect.y, t.text, text_color_on(bg), bg, t.scale);
  }
}

// One face alone (its label still stays inside the image).
inline void annotate_face(Image& img, const FaceResult& r, const Pipeline& p,
                          const std::string& title = "", AnnotateOptions opt = {}) {
  annotate(img, {r}, p, {title}, opt);
}

}  // namespace mien
