// The YUV 4:2:0 -> RGB kernel of VideoReader (video/yuv_to_rgb.hpp): every ISA gives the
// scalar path's exact bytes on awkward sizes, the scalar path stays within one level of
// the textbook formula in doubles (both matrices, both ranges, chroma of each 2x2 block),
// known colours, and the parsing of ffmpeg's pixel format line that picks matrix and range.
#include <cmath>
#include <random>

#include "mien/video/frames.hpp"
#include "mien/video/yuv_to_rgb.hpp"
#include "test_util.hpp"

using namespace mien;

namespace {

struct Planes {
  int w, h;
  std::vector<uint8_t> data;  // Y, then U and V of ceil(w/2) x ceil(h/2)
  int cw() const { return (w + 1) / 2; }
  int ch() const { return (h + 1) / 2; }
  uint8_t& y(int x, int r) { return data[std::size_t(r) * w + x]; }
  uint8_t& u(int x, int r) { return data[std::size_t(w) * h + std::size_t(r) * cw() + x]; }
  uint8_t& v(int x, int r) {
    return data[std::size_t(w) * h + std::size_t(cw()) * ch() + std::size_t(r) * cw() + x];
  }
};

Planes random_planes(int w, int h, std::mt19937& rng) {
  Planes p{w, h, {}};
  p.data.resize(std::size_t(w) * h + 2 * std::size_t(p.cw()) * p.ch());
  std::uniform_int_distribution<int> d(0, 255);
  for (uint8_t& b : p.data) b = uint8_t(d(rng));
  return p;
}

std::vector<uint8_t> convert(Planes& p, const YuvColor& c, Isa isa) {
  std::vector<uint8_t> rgb(std::size_t(p.w) * p.h * 3, 0xAB);
  yuv420_to_rgb(p.data.data(), p.w, p.h, c, rgb.data(), isa);
  return rgb;
}

// The textbook conversion in doubles, from the matrix's Kr and Kb: the naive reference.
std::vector<uint8_t> reference(Planes& p, double kr, double kb, bool full) {
  const double kg = 1 - kr - kb;
  std::vector<uint8_t> rgb(std::size_t(p.w) * p.h * 3);
  for (int r = 0; r < p.h; ++r)
    for (int x = 0; x < p.w; ++x) {
      const double y = full ? p.y(x, r) : (p.y(x, r) - 16) * 255.0 / 219;
      const double cs = full ? 1.0 : 255.0 / 224;
      const double u = (p.u(x / 2, r / 2) - 128) * cs, v = (p.v(x / 2, r / 2) - 128) * cs;
      const double c[3] = {y + 2 * (1 - kr) * v,
                           y - 2 * kb * (1 - kb) / kg * u - 2 * kr * (1 - kr) / kg * v,
                           y + 2 * (1 - kb) * u};
      for (int k = 0; k < 3; ++k)
        rgb[(std::size_t(r) * p.w + x) * 3 + k] =
            uint8_t(std::lround(std::min(255.0, std::max(0.0, c[k]))));
    }
  return rgb;
}

const int kSizes[][2] = {{1, 1},  {2, 2},  {3, 5},  {31, 3}, {32, 2},    {33, 7},
                         {63, 4}, {64, 3}, {65, 9}, {97, 1}, {323, 241}, {1920, 4}};

}  // namespace

TEST_CASE("yuv_to_rgb: every ISA gives the scalar bytes on awkward sizes") {
  std::mt19937 rng(7);
  for (const auto& s : kSizes) {
    Planes p = random_planes(s[0], s[1], rng);
    for (int space : {1, 2, 4, 7, 9})
      for (bool full : {false, true}) {
        const YuvColor c{space, full};
        const std::vector<uint8_t> ref = convert(p, c, Isa::Scalar);
        for (Isa isa : test::isas()) {
          CAPTURE(std::string(isa_name(isa)));
          CAPTURE(s[0]);
          CAPTURE(s[1]);
          CAPTURE(space);
          CAPTURE(full);
          CHECK(convert(p, c, isa) == ref);
        }
      }
  }
}

TEST_CASE("yuv_to_rgb: within one level of the formula, chroma of each 2x2 block") {
  std::mt19937 rng(11);
  struct Matrix {
    int space;
    double kr, kb;
  };
  const Matrix matrices[] = {{2, 0.299, 0.114}, {5, 0.299, 0.114}, {1, 0.2126, 0.0722}};
  for (const int* s : {kSizes[2], kSizes[5], kSizes[10]}) {
    Planes p = random_planes(s[0], s[1], rng);
    for (const Matrix& m : matrices)
      for (bool full : {false, true}) {
        const std::vector<uint8_t> ref = reference(p, m.kr, m.kb, full);
        for (Isa isa : test::isas()) {
          const std::vector<uint8_t> got = convert(p, YuvColor{m.space, full}, isa);
          int worst = 0;
          for (std::size_t i = 0; i < got.size(); ++i)
            worst = std::max(worst, std::abs(int(got[i]) - int(ref[i])));
          CAPTURE(std::string(isa_name(isa)));
          CAPTURE(m.space);
          CAPTURE(full);
          CHECK(worst <= 1);
        }
      }
  }
}

TEST_CASE("yuv_to_rgb: known colours") {
  auto one = [](int y, int u, int v, const YuvColor& c, Isa isa) {
    // A 2x2 frame of one colour: all four pixels must agree.
    Planes p{2, 2, {uint8_t(y), uint8_t(y), uint8_t(y), uint8_t(y), uint8_t(u), uint8_t(v)}};
    const std::vector<uint8_t> rgb = convert(p, c, isa);
    for (int i = 3; i < 12; ++i) CHECK(rgb[std::size_t(i)] == rgb[std::size_t(i % 3)]);
    return Rgb{rgb[0], rgb[1], rgb[2]};
  };
  auto near = [](Rgb a, int r, int g, int b) {
    CAPTURE(int(a.r));
    CAPTURE(int(a.g));
    CAPTURE(int(a.b));
    // 2: the 8-bit YUV of a pure colour is itself rounded.
    CHECK(std::abs(a.r - r) <= 2);
    CHECK(std::abs(a.g - g) <= 2);
    CHECK(std::abs(a.b - b) <= 2);
  };
  for (Isa isa : test::isas()) {
    CAPTURE(std::string(isa_name(isa)));
    const YuvColor tv601{2, false}, pc601{2, true}, tv709{1, false};
    near(one(16, 128, 128, tv601, isa), 0, 0, 0);
    near(one(235, 128, 128, tv601, isa), 255, 255, 255);
    near(one(0, 128, 128, pc601, isa), 0, 0, 0);
    near(one(255, 128, 128, pc601, isa), 255, 255, 255);
    near(one(126, 128, 128, pc601, isa), 126, 126, 126);
    // Below black and above white on limited range clip.
    near(one(0, 128, 128, tv601, isa), 0, 0, 0);
    near(one(255, 128, 128, tv601, isa), 255, 255, 255);
    // Pure red, green and blue as each matrix encodes them (limited range, 8-bit).
    near(one(81, 90, 240, tv601, isa), 255, 0, 0);
    near(one(145, 54, 34, tv601, isa), 0, 255, 0);
    near(one(41, 240, 110, tv601, isa), 0, 0, 255);
    near(one(63, 102, 240, tv709, isa), 255, 0, 0);
    near(one(173, 42, 26, tv709, isa), 0, 255, 0);
    near(one(32, 240, 118, tv709, isa), 0, 0, 255);
    // The wrong matrix moves a colour far: the kernel does use the one it is given.
    const Rgb red709_as_601 = one(63, 102, 240, tv601, isa);
    CHECK(255 - red709_as_601.r > 15);
  }
}

TEST_CASE("yuv_to_rgb: a chroma sample colours its 2x2 block, the last one an odd edge") {
  for (Isa isa : test::isas()) {
    CAPTURE(std::string(isa_name(isa)));
    for (int w : {3, 35, 67}) {
      // Y flat, every chroma column a different U: pixel x takes column x / 2, on both
      // rows of its pair and on the odd last row and column.
      Planes p{w, 3, {}};
      p.data.assign(std::size_t(w) * 3 + 2 * std::size_t(p.cw()) * p.ch(), 128);
      for (int r = 0; r < p.ch(); ++r)
        for (int c = 0; c < p.cw(); ++c) p.u(c, r) = uint8_t(60 + 5 * c + 40 * r);
      const std::vector<uint8_t> rgb = convert(p, YuvColor{2, true}, isa);
      for (int r = 0; r < 3; ++r)
        for (int x = 0; x < w; ++x) {
          const int u = p.u(x / 2, r / 2) - 128;
          // Blue moves with U (1.772 per level on full-range BT.601).
          const int expect = std::min(255, std::max(0, int(std::lround(128 + 1.772 * u))));
          CAPTURE(w);
          CAPTURE(x);
          CAPTURE(r);
          CHECK(std::abs(rgb[(std::size_t(r) * w + x) * 3 + 2] - expect) <= 1);
        }
    }
  }
}

TEST_CASE("yuv_to_rgb: ffmpeg's colorspace names and pixel format lines") {
  CHECK(colorspace_from_name("bt709") == 1);
  CHECK(colorspace_from_name("bt470bg") == 5);
  CHECK(colorspace_from_name("smpte170m") == 6);
  CHECK(colorspace_from_name("bt2020nc") == 9);
  CHECK(colorspace_from_name("") == 2);
  CHECK(colorspace_from_name("progressive") == 2);
  std::string f, r, c;
  CHECK(detail::parse_pixel_format(
      "  Stream #0:0(und): Video: rawvideo (I420 / 0x30323449), yuv420p(tv, bt709, progressive), "
      "64x48 [SAR 1:1 DAR 4:3], q=2-31, 184 kb/s, 5 fps, 5 tbn (default)",
      f, r, c));
  CHECK(f == "yuv420p");
  CHECK(r == "tv");
  CHECK(c == "bt709");
  CHECK(detail::parse_pixel_format(
      "  Stream #0:0: Video: rawvideo (I420 / 0x30323449), yuvj420p(pc, "
      "bt470bg/unknown/unknown, progressive), 64x48, q=2-31, 184 kb/s, 5 fps, 5 tbn",
      f, r, c));
  CHECK(f == "yuvj420p");
  CHECK(r == "pc");
  CHECK(c == "bt470bg");
  CHECK(detail::parse_pixel_format(
      "  Stream #0:0: Video: rawvideo (I420 / 0x30323449), yuv420p(progressive), 64x48", f, r, c));
  CHECK(f == "yuv420p");
  CHECK(r.empty());
  CHECK(c == "progressive");  // not a colorspace name: unspecified, BT.601
  CHECK(colorspace_from_name(c) == 2);
  CHECK(detail::parse_pixel_format(
      "Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 8x8", f, r, c));
  CHECK(f == "rgb24");
  CHECK(r.empty());
  CHECK(c.empty());
  CHECK_FALSE(detail::parse_pixel_format("Stream #0:1: Audio: aac, 44100 Hz", f, r, c));
}
