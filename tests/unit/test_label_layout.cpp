// What people see on drawn photos and videos: labels that never overlap or leave the image,
// text that reads on every label colour, landmarks where the detector put them.
#include <doctest/doctest.h>

#include <random>

#include "mien/vision/annotate.hpp"
#include "mien/vision/draw.hpp"
#include "mien/vision/label_layout.hpp"

using namespace mien;

namespace {

// Every placed label inside the image and no two intersecting; returns how many were placed.
int check_layout(int width, int height, const std::vector<LabelRequest>& req,
                 const std::vector<LabelPlacement>& got) {
  REQUIRE(got.size() == req.size());
  int placed = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].variant < 0) continue;
    ++placed;
    CAPTURE(i);
    const Rect& r = got[i].rect;
    const Rect& want = req[i].variants[std::size_t(got[i].variant)];
    CHECK(r.w == want.w);
    CHECK(r.h == want.h);
    CHECK(inside(r, width, height));
    for (std::size_t j = i + 1; j < got.size(); ++j)
      if (got[j].variant >= 0) CHECK_FALSE(intersects(r, got[j].rect));
  }
  return placed;
}

LabelRequest request(int x, int y, int size) {
  LabelRequest q;
  q.face = {x, y, size, size};
  q.variants = {{0, 0, 180, 44}, {0, 0, 180, 22}, {0, 0, 90, 12}, {0, 0, 40, 12}};
  return q;
}

}  // namespace

TEST_CASE("labels: a synthetic crowd of overlapping boxes, at the edges too") {
  const int W = 640, H = 480;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> size(20, 120), px(-60, W), py(-60, H);
  for (int round = 0; round < 20; ++round) {
    std::vector<LabelRequest> req;
    const int n = 5 + round * 4;  // 5 .. 81 faces
    for (int i = 0; i < n; ++i) req.push_back(request(px(rng), py(rng), size(rng)));
    // Faces in every corner and along every edge, partly outside.
    req.push_back(request(-10, -10, 60));
    req.push_back(request(W - 50, -5, 60));
    req.push_back(request(-20, H - 40, 80));
    req.push_back(request(W - 40, H - 40, 90));
    req.push_back(request(W / 2, H - 30, 70));
    CAPTURE(n);
    const int placed = check_layout(W, H, req, place_labels(W, H, req));
    CHECK(placed > 0);
  }
}

TEST_CASE("labels: room for everyone keeps the richest label, next to its face") {
  std::vector<LabelRequest> req{request(50, 100, 80), request(350, 100, 80), request(50, 350, 80),
                                request(350, 350, 80)};
  const auto got = place_labels(640, 480, req);
  REQUIRE(check_layout(640, 480, req, got) == 4);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].variant == 0);
    CHECK_FALSE(got[i].covers);
    // Directly above or below the face, starting at its left edge.
    CHECK(got[i].rect.x == req[i].face.x);
    const bool above = got[i].rect.y + got[i].rect.h == req[i].face.y;
    const bool below = got[i].rect.y == req[i].face.y + req[i].face.h;
    CHECK((above || below));
  }
  // A face at the top edge: the label goes below it, not out of the image.
  std::vector<LabelRequest> top{request(600, 0, 40)};
  const auto t = place_labels(640, 480, top);
  REQUIRE(check_layout(640, 480, top, t) == 1);
  CHECK(t[0].rect.y == 40);
  CHECK(t[0].rect.x == 640 - 180);  // shifted left to stay inside
  // Two faces side by side whose full labels would collide: both still labelled, apart.
  std::vector<LabelRequest> pair{request(100, 200, 60), request(170, 200, 60)};
  CHECK(check_layout(640, 480, pair, place_labels(640, 480, pair)) == 2);
  // A label larger than the image is left out rather than drawn outside it.
  LabelRequest huge;
  huge.face = {0, 0, 10, 10};
  huge.variants = {{0, 0, 700, 30}};
  CHECK(place_labels(640, 480, {huge})[0].variant == -1);
}

TEST_CASE("labels: black or white text, whichever reads on the colour") {
  // Every label colour, and a sweep of the whole RGB cube: at least WCAG AA (4.5:1).
  for (int i = 0; i < 8; ++i) {
    const Rgb bg = palette_color(i);
    CAPTURE(i);
    CHECK(contrast_ratio(text_color_on(bg), bg) >= 4.5);
  }
  for (int r = 0; r < 256; r += 15)
    for (int g = 0; g < 256; g += 15)
      for (int b = 0; b < 256; b += 15) {
        const Rgb bg{uint8_t(r), uint8_t(g), uint8_t(b)};
        CHECK(contrast_ratio(text_color_on(bg), bg) >= 4.5);
      }
  // The palette's yellow and cyan take black text (white on them is unreadable), its blue
  // and purple white text.
  CHECK(text_color_on(Rgb{255, 225, 25}).r == 0);
  CHECK(text_color_on(Rgb{70, 240, 240}).r == 0);
  CHECK(text_color_on(Rgb{145, 30, 180}).r == 255);
  CHECK(contrast_ratio(Rgb{0, 0, 0}, Rgb{255, 255, 255}) == doctest::Approx(21.0));
}

TEST_CASE("landmarks: dots are drawn at the keypoints, clipped at the border") {
  Image img(40, 30, Rgb{0, 0, 255});
  fill_disc(img, 10, 10, 2, Rgb{255, 255, 255});
  CHECK(img.pixel(10, 10)[0] == 255);
  CHECK(img.pixel(12, 10)[0] == 255);
  CHECK(img.pixel(10, 8)[0] == 255);
  CHECK(img.pixel(13, 10)[0] == 0);
  CHECK(img.pixel(12, 12)[0] == 0);               // round, not square
  fill_disc(img, -1, 29, 3, Rgb{255, 255, 255});  // partly outside: no crash
  CHECK(img.pixel(0, 29)[0] == 255);
  fill_disc(img, 1 << 30, -(1 << 30), 5, Rgb{255, 255, 255});
}
