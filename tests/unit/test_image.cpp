// Image layer: decoding every format we accept, EXIF orientation, hostile/broken files,
// resampling against a naive reference, and drawing that must never leave the image.
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "mien/vision/draw.hpp"
#include "mien/vision/face_crop.hpp"
#include "mien/vision/image.hpp"
#include "test_util.hpp"

namespace {

using mien::ColorMode;
using mien::Image;
using mien::Rgb;
using Bytes = std::vector<uint8_t>;

// Encodes raw pixels (comp channels) with stb_image_write, in memory.
Bytes encode(const std::string& fmt, int w, int h, int comp, const Bytes& px, int quality = 95) {
  Bytes out;
  int ok = 0;
  if (fmt == "png") {
    ok = stbi_write_png_to_func(&mien::detail::append_bytes, &out, w, h, comp, px.data(), w * comp);
  } else if (fmt == "jpg") {
    ok = stbi_write_jpg_to_func(&mien::detail::append_bytes, &out, w, h, comp, px.data(), quality);
  } else if (fmt == "bmp") {
    ok = stbi_write_bmp_to_func(&mien::detail::append_bytes, &out, w, h, comp, px.data());
  } else if (fmt == "tga") {
    ok = stbi_write_tga_to_func(&mien::detail::append_bytes, &out, w, h, comp, px.data());
  }
  REQUIRE(ok);
  return out;
}

Bytes random_pixels(int w, int h, int comp, std::mt19937& rng) {
  Bytes px(std::size_t(w) * h * comp);
  std::uniform_int_distribution<int> d(0, 255);
  for (auto& v : px) v = uint8_t(d(rng));
  return px;
}

Image random_image(int w, int h, std::mt19937& rng) {
  Image img(w, h);
  img.rgb = random_pixels(w, h, 3, rng);
  return img;
}

Image decode(const Bytes& b, const std::string& origin = "memory") {
  return mien::decode_image(b.data(), b.size(), origin);
}

using mien::test::error_of;

using mien::test::contains;

// A per-test scratch directory, removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("mien_test_image_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const Bytes& b) const {
    std::ofstream f(file(name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    return file(name);
  }
};

// 32x16 image of four flat quadrants (red, green / blue, white): survives JPEG intact
// enough to tell where each corner went.
Bytes quadrant_pixels(int w, int h) {
  Bytes px(std::size_t(w) * h * 3);
  const Rgb q[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const Rgb c = q[(y >= h / 2) * 2 + (x >= w / 2)];
      uint8_t* p = &px[(std::size_t(y) * w + x) * 3];
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
  }
  return px;
}

void put16(Bytes& b, uint32_t v, bool be) {
  if (be) {
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
  } else {
    b.push_back(uint8_t(v));
    b.push_back(uint8_t(v >> 8));
  }
}
void put32(Bytes& b, uint32_t v, bool be) {
  if (be) {
    put16(b, v >> 16, true);
    put16(b, v & 0xFFFF, true);
  } else {
    put16(b, v & 0xFFFF, false);
    put16(b, v >> 16, false);
  }
}

// A TIFF block whose IFD0 has a Make entry (to be skipped) then Orientation.
Bytes tiff_with_orientation(int orientation, bool be) {
  Bytes t;
  t.push_back(be ? 'M' : 'I');
  t.push_back(be ? 'M' : 'I');
  put16(t, 42, be);
  put32(t, 8, be);  // IFD0 right after the header
  put16(t, 2, be);  // two entries
  put16(t, 0x010F, be);
  put16(t, 2, be);  // ASCII
  put32(t, 4, be);  // "abc\0" fits in the value field
  t.insert(t.end(), {'a', 'b', 'c', 0});
  put16(t, 0x0112, be);
  put16(t, 3, be);  // SHORT
  put32(t, 1, be);
  put16(t, uint32_t(orientation), be);
  put16(t, 0, be);
  put32(t, 0, be);  // no next IFD
  return t;
}

// Inserts an APP1 segment with `payload` right after the JPEG's SOI.
Bytes with_app1(const Bytes& jpeg, const Bytes& payload) {
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  out.push_back(0xFF);
  out.push_back(0xE1);
  put16(out, uint32_t(payload.size() + 2), true);
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

Bytes exif_payload(const Bytes& tiff) {
  // Sized up front: growing a 6-byte initializer-list vector trips a GCC 12 -Warray-bounds
  // false positive.
  Bytes p(6 + tiff.size(), 0);
  const char header[4] = {'E', 'x', 'i', 'f'};
  std::copy(header, header + 4, p.begin());
  std::copy(tiff.begin(), tiff.end(), p.begin() + 6);
  return p;
}

// Reference transforms, written the textbook way (independent of orient_into's strides).
Image flip_h(const Image& a) {
  Image o(a.width, a.height);
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x) std::memcpy(o.pixel(x, y), a.pixel(a.width - 1 - x, y), 3);
  return o;
}
Image rot_cw(const Image& a) {  // new column u is old row H-1-u
  Image o(a.height, a.width);
  for (int v = 0; v < o.height; ++v)
    for (int u = 0; u < o.width; ++u) std::memcpy(o.pixel(u, v), a.pixel(v, a.height - 1 - u), 3);
  return o;
}
// EXIF's own table: "the transformation a viewer applies to display the image upright".
Image upright_reference(const Image& a, int o) {
  switch (o) {
    case 2:
      return flip_h(a);
    case 3:
      return rot_cw(rot_cw(a));
    case 4:
      return rot_cw(rot_cw(flip_h(a)));  // mirror vertical
    case 5:
      return rot_cw(rot_cw(rot_cw(flip_h(a))));  // mirror horizontal, rotate 270 CW
    case 6:
      return rot_cw(a);
    case 7:
      return rot_cw(flip_h(a));  // mirror horizontal, rotate 90 CW
    case 8:
      return rot_cw(rot_cw(rot_cw(a)));
    default:
      return a;
  }
}

uint32_t crc32(const uint8_t* p, std::size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A PNG signature + IHDR claiming w x h RGB8, and nothing else.
Bytes png_header(uint32_t w, uint32_t h) {
  Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes chunk = {'I', 'H', 'D', 'R'};
  put32(chunk, w, true);
  put32(chunk, h, true);
  chunk.insert(chunk.end(), {8, 2, 0, 0, 0});
  put32(b, 13, true);
  b.insert(b.end(), chunk.begin(), chunk.end());
  put32(b, crc32(chunk.data(), chunk.size()), true);
  return b;
}

int max_diff(const Image& a, const Image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  int worst = 0;
  for (std::size_t i = 0; i < a.rgb.size(); ++i)
    worst = std::max(worst, std::abs(a.rgb[i] - b.rgb[i]));
  return worst;
}

// Naive reference of crop_resize_to_tensor, straight from its documented definition.
std::vector<float> naive_crop(const Image& img, double bx, double by, double bw, double bh, int ow,
                              int oh, ColorMode mode, const float* sc, const float* of) {
  const int ch = mode == ColorMode::Gray ? 1 : 3;
  std::vector<float> out(std::size_t(ow) * oh * ch);
  auto at = [&](int x, int y, int c) {
    x = std::clamp(x, 0, img.width - 1);
    y = std::clamp(y, 0, img.height - 1);
    return double(img.pixel(x, y)[c]);
  };
  for (int j = 0; j < oh; ++j) {
    for (int i = 0; i < ow; ++i) {
      const double cx = bx + (i + 0.5) * bw / ow, cy = by + (j + 0.5) * bh / oh;
      double v[3] = {0, 0, 0};
      if (cx >= 0 && cx < img.width && cy >= 0 && cy < img.height) {
        const double sx = cx - 0.5, sy = cy - 0.5;
        const int x0 = int(std::floor(sx)), y0 = int(std::floor(sy));
        const double fx = sx - x0, fy = sy - y0;
        for (int c = 0; c < 3; ++c) {
          v[c] = at(x0, y0, c) * (1 - fx) * (1 - fy) + at(x0 + 1, y0, c) * fx * (1 - fy) +
                 at(x0, y0 + 1, c) * (1 - fx) * fy + at(x0 + 1, y0 + 1, c) * fx * fy;
        }
      }
      float* o = &out[(std::size_t(j) * ow + i) * ch];
      if (mode == ColorMode::Gray) {
        o[0] = float((0.2989 * v[0] + 0.587 * v[1] + 0.114 * v[2]) * sc[0] + of[0]);
      } else if (mode == ColorMode::Rgb) {
        for (int c = 0; c < 3; ++c) o[c] = float(v[c] * sc[c] + of[c]);
      } else {
        for (int c = 0; c < 3; ++c) o[c] = float(v[2 - c] * sc[c] + of[c]);
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("image: lossless formats round-trip gray, RGB and RGBA") {
  std::mt19937 rng(1);
  const int w = 13, h = 7;  // odd sizes: BMP row padding, PNG filters
  for (const char* fmt : {"png", "bmp", "tga"}) {
    for (int comp : {1, 3, 4}) {
      CAPTURE(fmt);
      CAPTURE(comp);
      Bytes px = random_pixels(w, h, comp, rng);
      if (comp == 4) {
        for (std::size_t i = 3; i < px.size(); i += 4) px[i] = 255;  // opaque: exact compare
      }
      const Image img = decode(encode(fmt, w, h, comp, px));
      REQUIRE(img.width == w);
      REQUIRE(img.height == h);
      REQUIRE(img.valid());
      for (int i = 0; i < w * h; ++i) {
        for (int c = 0; c < 3; ++c) {
          const uint8_t expect = comp == 1 ? px[std::size_t(i)] : px[std::size_t(i) * comp + c];
          REQUIRE(img.rgb[std::size_t(i) * 3 + c] == expect);
        }
      }
    }
  }
}

TEST_CASE("image: alpha is composited over white") {
  // pixel: opaque red, transparent black, half-transparent black, gray+alpha below
  Bytes px = {255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128};
  const Image img = decode(encode("png", 3, 1, 4, px));
  REQUIRE(img.width == 3);
  CHECK(img.rgb == Bytes{255, 0, 0, 255, 255, 255, 127, 127, 127});
  Bytes ga = {10, 255, 10, 0};
  const Image g = decode(encode("png", 2, 1, 2, ga));
  CHECK(g.rgb == Bytes{10, 10, 10, 255, 255, 255});
}

TEST_CASE("image: JPEG gray and RGB decode close to the original") {
  const Bytes px = quadrant_pixels(32, 16);
  const Image rgb = decode(encode("jpg", 32, 16, 3, px, 100));
  REQUIRE(rgb.width == 32);
  REQUIRE(rgb.height == 16);
  Image ref(32, 16);
  ref.rgb = px;
  CHECK(max_diff(rgb, ref) < 40);  // edges between saturated quadrants ring a little
  CHECK(std::abs(int(rgb.pixel(3, 3)[0]) - 255) < 8);
  Bytes gray(64 * 8);
  for (std::size_t i = 0; i < gray.size(); ++i) gray[i] = uint8_t(i % 64 * 4);
  const Image g = decode(encode("jpg", 64, 8, 1, gray, 100));
  REQUIRE(g.width == 64);
  for (int x = 0; x < 64; ++x) {
    const uint8_t* p = g.pixel(x, 4);
    CHECK(p[0] == p[1]);
    CHECK(p[1] == p[2]);
    CHECK(std::abs(int(p[0]) - x * 4) <= 4);
  }
}

TEST_CASE("image: GIF first frame and PNM") {
  // Hand-made GIF: 1x1, palette {red, black}; frame 1 = index 0, frame 2 = index 1.
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0,    255,  0,    0,    0,
                     0,   0,   ',', 0,   0,   0,   0, 1, 0, 1, 0,    0, 2,    2,    0x44, 0x01, 0,
                     ',', 0,   0,   0,   0,   1,   0, 1, 0, 0, 2,    2, 0x4C, 0x01, 0,    ';'};
  const Image g = decode(gif);
  // The first frame ends at byte 34: any shorter prefix is truncated, any longer one is fine.
  for (std::size_t len = 0; len <= gif.size(); ++len) {
    CAPTURE(len);
    const std::string e =
        error_of([&] { decode(Bytes(gif.begin(), gif.begin() + std::ptrdiff_t(len)), "a.gif"); });
    CHECK(e.empty() == (len >= 34));
    if (len >= 6 && len < 34) CHECK(contains(e, "a.gif"));
  }
  REQUIRE(g.width == 1);
  REQUIRE(g.height == 1);
  CHECK(g.rgb == Bytes{255, 0, 0});
  std::string ppm = "P6\n2 1\n255\n";
  Bytes pnm(ppm.begin(), ppm.end());
  pnm.insert(pnm.end(), {1, 2, 3, 4, 5, 6});
  const Image p = decode(pnm);
  REQUIRE(p.width == 2);
  CHECK(p.rgb == Bytes{1, 2, 3, 4, 5, 6});
}

TEST_CASE("image: EXIF orientation makes JPEGs upright, both byte orders") {
  const Bytes plain = encode("jpg", 32, 16, 3, quadrant_pixels(32, 16), 100);
  const Image stored = decode(plain);
  CHECK(mien::jpeg_exif_orientation(plain.data(), plain.size()) == 1);
  for (bool be : {false, true}) {
    for (int o = 1; o <= 8; ++o) {
      CAPTURE(be);
      CAPTURE(o);
      const Bytes jpg = with_app1(plain, exif_payload(tiff_with_orientation(o, be)));
      CHECK(mien::jpeg_exif_orientation(jpg.data(), jpg.size()) == o);
      const Image img = decode(jpg);
      const Image ref = upright_reference(stored, o);
      REQUIRE(img.width == ref.width);
      REQUIRE(img.height == ref.height);
      CHECK(img.rgb == ref.rgb);
      CHECK(mien::apply_orientation(stored, o).rgb == ref.rgb);
    }
  }
  // Where the corners go, stated directly (stored: red TL, green TR, blue BL, white BR).
  auto corner = [](const Image& im, int cx, int cy) {
    const uint8_t* p = im.pixel(cx ? im.width - 3 : 2, cy ? im.height - 3 : 2);
    return (p[0] > 128 ? 'r' : '-') + std::string(p[1] > 128 ? "g" : "-") +
           std::string(p[2] > 128 ? "b" : "-");
  };
  const Image r3 = decode(with_app1(plain, exif_payload(tiff_with_orientation(3, false))));
  CHECK(corner(r3, 0, 0) == "rgb");  // white
  CHECK(corner(r3, 1, 1) == "r--");
  const Image r6 = decode(with_app1(plain, exif_payload(tiff_with_orientation(6, true))));
  CHECK(r6.width == 16);
  CHECK(r6.height == 32);
  CHECK(corner(r6, 1, 0) == "r--");  // 90 CW: top-left goes to top-right
  CHECK(corner(r6, 0, 0) == "--b");
  const Image r8 = decode(with_app1(plain, exif_payload(tiff_with_orientation(8, false))));
  CHECK(corner(r8, 0, 1) == "r--");  // 90 CCW: top-left goes to bottom-left
  CHECK(corner(r8, 0, 0) == "-g-");
}

TEST_CASE("image: malformed EXIF is ignored, never read out of bounds") {
  const Bytes plain = encode("jpg", 16, 8, 3, quadrant_pixels(16, 8), 90);
  const Image stored = decode(plain);
  std::vector<Bytes> bad;
  Bytes t = tiff_with_orientation(6, false);
  bad.push_back(exif_payload(Bytes(t.begin(), t.begin() + 5)));   // cut TIFF header
  bad.push_back(exif_payload(Bytes(t.begin(), t.begin() + 20)));  // cut inside entries
  Bytes off = t;
  off[4] = 0xF0;  // IFD offset past the end
  bad.push_back(exif_payload(off));
  Bytes cnt = t;
  cnt[8] = 0xFF, cnt[9] = 0xFF;  // 65535 entries claimed
  cnt.resize(30);
  bad.push_back(exif_payload(cnt));
  bad.push_back(exif_payload(tiff_with_orientation(0, true)));
  bad.push_back(exif_payload(tiff_with_orientation(9, false)));
  Bytes order = t;
  order[0] = 'X';
  bad.push_back(exif_payload(order));
  Bytes magic = t;
  magic[2] = 43;
  bad.push_back(exif_payload(magic));
  bad.push_back(Bytes{'E', 'x', 'i', 'f'});  // too short to even be Exif
  bad.push_back(Bytes{'E', 'x', 'i', 'f', 0, 0});
  for (std::size_t k = 0; k < bad.size(); ++k) {
    CAPTURE(k);
    const Bytes jpg = with_app1(plain, bad[k]);
    CHECK(mien::jpeg_exif_orientation(jpg.data(), jpg.size()) == 1);
    CHECK(decode(jpg).rgb == stored.rgb);
  }
  // Random EXIF bodies (run under ASan: any out-of-bounds read is fatal).
  std::mt19937 rng(7);
  for (int k = 0; k < 300; ++k) {
    Bytes tiff = tiff_with_orientation(6, k % 2);
    std::uniform_int_distribution<std::size_t> pos(0, tiff.size() - 1);
    for (int f = 0; f < 3; ++f) tiff[pos(rng)] = uint8_t(rng());
    tiff.resize(std::uniform_int_distribution<std::size_t>(0, tiff.size())(rng));
    const Bytes jpg = with_app1(plain, exif_payload(tiff));
    const int o = mien::jpeg_exif_orientation(jpg.data(), jpg.size());
    CHECK((o >= 1 && o <= 8));
    const Image img = decode(jpg);
    CHECK(img.width * img.height == 16 * 8);
  }
  // The scanner itself on arbitrary prefixes and junk.
  for (std::size_t n = 0; n <= 40; ++n) {
    const Bytes jpg = with_app1(plain, exif_payload(tiff_with_orientation(6, false)));
    const Bytes cut(jpg.begin(), jpg.begin() + std::ptrdiff_t(n));
    const int o = mien::jpeg_exif_orientation(cut.data(), cut.size());
    CHECK((o == 1 || o == 6));
  }
}

TEST_CASE("image: broken files are mien::Error naming the file") {
  TempDir dir;
  std::mt19937 rng(3);
  const std::string empty = dir.write("empty.png", {});
  CHECK(contains(error_of([&] { mien::load_image(empty); }), "empty.png"));
  CHECK(contains(error_of([&] { mien::load_image(empty); }), "empty"));

  const std::string missing = dir.file("no_such_face.jpg");
  const std::string m = error_of([&] { mien::load_image(missing); });
  CHECK(contains(m, "no_such_face.jpg"));
  CHECK(contains(m, "No such file"));
  CHECK(contains(error_of([&] { mien::load_image(dir.path.string()); }), "cannot read"));

  const std::string junk = dir.write("junk.jpg", random_pixels(100, 1, 1, rng));
  const std::string jm = error_of([&] { mien::load_image(junk); });
  CHECK(contains(jm, "junk.jpg"));
  CHECK(contains(jm, "cannot decode"));

  const Image rnd = random_image(40, 30, rng);
  const Bytes jpg = mien::encode_image(rnd, "jpg");
  const Bytes png = mien::encode_image(rnd, "png");
  const Bytes bmp = mien::encode_image(rnd, "bmp");
  CHECK(decode(jpg).width == 40);
  CHECK(decode(png).width == 40);
  CHECK(decode(bmp).width == 40);
  const Bytes tga_rle = mien::encode_image(rnd, "tga");
  // An uncompressed TGA built by hand (stb's RLE switch is a per-translation-unit static,
  // which an inline encode_image may not see, so the test does not rely on it).
  Bytes tga_raw(18, 0);
  tga_raw[2] = 2;  // uncompressed true-colour
  tga_raw[12] = uint8_t(rnd.width);
  tga_raw[14] = uint8_t(rnd.height);
  tga_raw[16] = 24;
  tga_raw[17] = 0x20;  // top-left origin
  for (int y = 0; y < rnd.height; ++y)
    for (int x = 0; x < rnd.width; ++x) {
      const uint8_t* p = rnd.pixel(x, y);
      tga_raw.insert(tga_raw.end(), {p[2], p[1], p[0]});  // BGR
    }
  CHECK(tga_rle[2] == 10);  // RLE true-colour
  CHECK(decode(tga_rle).rgb == rnd.rgb);
  CHECK(decode(tga_raw).rgb == rnd.rgb);
  for (const auto& item : {std::pair<std::string, Bytes>{"cut.jpg", jpg},
                           {"cut.png", png},
                           {"cut.bmp", bmp},
                           {"cut.tga", tga_rle},
                           {"cut_raw.tga", tga_raw}}) {
    const std::string& name = item.first;  // not a structured binding: CAPTURE is a lambda
    const Bytes& full = item.second;
    const std::size_t n = full.size();
    for (std::size_t len : {std::size_t(1), std::size_t(2), std::size_t(8), std::size_t(20),
                            std::size_t(40), n / 3, n / 2, n - 40, n - 13}) {
      CAPTURE(name);
      CAPTURE(len);
      const std::string path =
          dir.write(name, Bytes(full.begin(), full.begin() + std::ptrdiff_t(len)));
      const std::string e = error_of([&] { mien::load_image(path); });
      CHECK(contains(e, name));
    }
  }
  // Huffman counts adding up to more than 256 codes: stb 2.27 would overflow its tables.
  Bytes dht = jpg;
  bool patched = false;
  for (std::size_t i = 2; i + 21 < dht.size() && !patched; ++i) {
    if (dht[i] == 0xFF && dht[i + 1] == 0xC4) {
      for (int k = 0; k < 16; ++k) dht[i + 5 + std::size_t(k)] = 200;
      patched = true;
    }
  }
  REQUIRE(patched);
  CHECK(contains(error_of([&] { decode(dht, "dht.jpg"); }), "Huffman"));
  // The same behind junk where a marker belongs (stb skips the junk and finds the table).
  for (std::size_t junk : {std::size_t(2), std::size_t(20)}) {
    Bytes j = dht;
    REQUIRE(j[junk] == 0xFF);  // SOI FFD8, APP0 (16 bytes), DQT at 20
    j[junk] = 0x3D;
    CHECK(contains(error_of([&] { decode(j, "dht.jpg"); }), "Huffman"));
  }
  // Bytes after the end-of-image marker (camera trailers) are fine.
  Bytes trailer = jpg;
  trailer.insert(trailer.end(), 100, 0xAB);
  CHECK(decode(trailer).rgb == decode(jpg).rgb);
  // Every prefix of a small JPEG and PNG: an error or (never) a crash.
  for (const Bytes* full : {&jpg, &png}) {
    for (std::size_t len = 0; len + 12 < full->size(); len += 7) {
      CHECK(!error_of([&] {
               decode(Bytes(full->begin(), full->begin() + std::ptrdiff_t(len)), "x");
             }).empty());
    }
  }
}

TEST_CASE("image: absurd and zero sizes are rejected from the header") {
  const std::string e = error_of([] { decode(png_header(20000, 20000), "huge.png"); });
  CHECK(contains(e, "huge.png"));
  CHECK(contains(e, "exceeds the limit"));  // our message: stb's own says "too large"
  CHECK(contains(error_of([] { decode(png_header(10001, 10000), "h.png"); }), "exceeds the limit"));
  CHECK(contains(error_of([] { decode(png_header(0xFFFFFFFF, 0xFFFFFFFF), "h.png"); }),
                 "exceeds the limit"));
  // BMP and GIF headers (no pixel data at all) claiming 900 and 4295 megapixels.
  Bytes bmp = {'B', 'M'};
  put32(bmp, 54 + 30000u * 30000u * 3u, false);
  put32(bmp, 0, false);
  put32(bmp, 54, false);
  put32(bmp, 40, false);
  put32(bmp, 30000, false);
  put32(bmp, 30000, false);
  put16(bmp, 1, false);
  put16(bmp, 24, false);
  bmp.resize(54, 0);
  CHECK(contains(error_of([&] { decode(bmp, "big.bmp"); }), "exceeds the limit"));
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, ';'};
  CHECK(contains(error_of([&] { decode(gif, "big.gif"); }), "exceeds the limit"));
  CHECK(contains(error_of([] { decode(png_header(70000, 2), "h.png"); }), "h.png"));
  CHECK(contains(error_of([] { decode(png_header(0, 10), "zero.png"); }), "zero.png"));
  CHECK(contains(error_of([] { decode(png_header(10, 0), "zero.png"); }), "zero.png"));
  CHECK(contains(error_of([] { mien::decode_image(nullptr, 0, "null.png"); }), "null.png"));
  // A JPEG whose SOF claims 60000x60000 (3.6 gigapixels).
  Bytes j = encode("jpg", 8, 8, 3, Bytes(8 * 8 * 3, 128));
  for (std::size_t i = 2; i + 9 < j.size(); ++i) {
    if (j[i] == 0xFF && (j[i + 1] == 0xC0 || j[i + 1] == 0xC2)) {
      j[i + 5] = 0xEA, j[i + 6] = 0x60, j[i + 7] = 0xEA, j[i + 8] = 0x60;
      break;
    }
  }
  CHECK(contains(error_of([&] { decode(j, "big.jpg"); }), "exceeds the limit"));
}

TEST_CASE("image: save_image picks the format from the extension") {
  TempDir dir;
  std::mt19937 rng(5);
  const Image img = random_image(9, 6, rng);
  for (const char* name : {"a.png", "b.BMP", "c.tga"}) {
    mien::save_image(img, dir.file(name));
    CHECK(mien::load_image(dir.file(name)).rgb == img.rgb);
  }
  Image smooth(16, 16, Rgb{200, 100, 50});
  mien::save_image(smooth, dir.file("d.jpeg"));
  const Image back = mien::load_image(dir.file("d.jpeg"));
  CHECK(max_diff(back, smooth) <= 3);
  const std::string u = error_of([&] { mien::save_image(img, dir.file("e.webp")); });
  CHECK(contains(u, "e.webp"));
  CHECK(contains(u, "extension"));
  CHECK(contains(error_of([&] { mien::save_image(img, dir.file("f")); }), "extension"));
  const std::string nd = dir.file("no/such/dir/x.png");
  CHECK(contains(error_of([&] { mien::save_image(img, nd); }), "x.png"));
  Image broken = img;
  broken.rgb.pop_back();
  CHECK(contains(error_of([&] { mien::save_image(broken, dir.file("g.png")); }), "g.png"));
  CHECK(!error_of([&] { mien::encode_image(Image{}, "png"); }).empty());
}

TEST_CASE("image: crop_resize_to_tensor matches the naive reference") {
  std::mt19937 rng(11);
  const Image img = random_image(17, 11, rng);
  std::uniform_real_distribution<float> pos(-12.f, 25.f), size(0.5f, 30.f), s(-0.1f, 0.1f);
  std::uniform_int_distribution<int> out(1, 23);
  for (int t = 0; t < 200; ++t) {
    const float bx = pos(rng), by = pos(rng), bw = size(rng), bh = size(rng);
    const int ow = out(rng), oh = out(rng);
    const ColorMode mode = ColorMode(t % 3);
    const float sc[3] = {s(rng), s(rng), s(rng)}, of[3] = {s(rng), s(rng), s(rng)};
    const int ch = mien::color_channels(mode);
    std::vector<float> got(std::size_t(ow) * oh * ch);
    mien::crop_resize_to_tensor(img, bx, by, bw, bh, ow, oh, mode, sc, of, got.data());
    const auto ref = naive_crop(img, bx, by, bw, bh, ow, oh, mode, sc, of);
    CAPTURE(t);
    REQUIRE(mien::test::max_abs_error(got.data(), ref.data(), int64_t(ref.size())) < 1e-3);
  }
}

TEST_CASE("image: crop_resize_to_tensor exact cases") {
  std::mt19937 rng(12);
  const Image img = random_image(8, 6, rng);
  std::vector<float> o(8 * 6 * 3);
  // Whole image at its own size: identity.
  mien::crop_resize_to_tensor(img, 0, 0, 8, 6, 8, 6, ColorMode::Rgb, nullptr, nullptr, o.data());
  for (std::size_t i = 0; i < o.size(); ++i) REQUIRE(o[i] == float(img.rgb[i]));
  // Half-pixel centres: 2x downscale averages each 2x2 block.
  std::vector<float> d(4 * 3 * 3);
  mien::crop_resize_to_tensor(img, 0, 0, 8, 6, 4, 3, ColorMode::Rgb, nullptr, nullptr, d.data());
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) {
        const float avg = (img.pixel(2 * x, 2 * y)[c] + img.pixel(2 * x + 1, 2 * y)[c] +
                           img.pixel(2 * x, 2 * y + 1)[c] + img.pixel(2 * x + 1, 2 * y + 1)[c]) /
                          4.f;
        REQUIRE(std::fabs(d[(std::size_t(y) * 4 + x) * 3 + c] - avg) < 1e-4f);
      }
  // A box half outside on the left: the outside half is padding (0 -> offset), the inside
  // half is the image's own pixels, with no blending at the border.
  const float sc[3] = {2.f, 2.f, 2.f}, of[3] = {-1.f, -2.f, -3.f};
  std::vector<float> p(8 * 6 * 3);
  mien::crop_resize_to_tensor(img, -4, 0, 8, 6, 8, 6, ColorMode::Rgb, sc, of, p.data());
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = p[(std::size_t(y) * 8 + x) * 3 + c];
        REQUIRE(v == (x < 4 ? of[c] : img.pixel(x - 4, y)[c] * 2.f + of[c]));
      }
  // Entirely outside: all padding.
  mien::crop_resize_to_tensor(img, 100, -50, 5, 5, 8, 6, ColorMode::Bgr, sc, of, p.data());
  for (std::size_t i = 0; i < p.size(); ++i) REQUIRE(p[i] == of[i % 3]);
  // Gray formula and BGR order on a flat colour.
  const Image flat(5, 5, Rgb{200, 100, 50});
  float g = 0;
  mien::crop_resize_to_tensor(flat, 1, 1, 2, 2, 1, 1, ColorMode::Gray, nullptr, nullptr, &g);
  CHECK(g == doctest::Approx(0.2989 * 200 + 0.587 * 100 + 0.114 * 50).epsilon(1e-6));
  float bgr[3];
  mien::crop_resize_to_tensor(flat, 0, 0, 5, 5, 1, 1, ColorMode::Bgr, nullptr, nullptr, bgr);
  CHECK(bgr[0] == 50.f);
  CHECK(bgr[1] == 100.f);
  CHECK(bgr[2] == 200.f);
  // Bad arguments are errors, not UB.
  CHECK(!error_of([&] {
           mien::crop_resize_to_tensor(img, 0, 0, 0, 5, 4, 4, ColorMode::Rgb, nullptr, nullptr,
                                       o.data());
         }).empty());
  CHECK(!error_of([&] {
           mien::crop_resize_to_tensor(img, NAN, 0, 5, 5, 4, 4, ColorMode::Rgb, nullptr, nullptr,
                                       o.data());
         }).empty());
  CHECK(mien::parse_color_mode("bgr") == ColorMode::Bgr);
  CHECK(!error_of([] { mien::parse_color_mode("hsv"); }).empty());
}

// Naive reference of warp_crop_to_tensor: for every output pixel, the bilinear sample at its
// centre in the rotated window, written straight from the definition.
std::vector<float> naive_warp(const Image& img, const mien::CropWindow& w, int ow, int oh,
                              mien::BorderFill fill) {
  auto px = [&](int x, int y, int c) -> float {
    if (fill == mien::BorderFill::Edge) {
      x = std::clamp(x, 0, img.width - 1);
      y = std::clamp(y, 0, img.height - 1);
    }
    return img.pixel(x, y)[c];
  };
  std::vector<float> out(std::size_t(ow) * oh * 3);
  const double sx = w.w / ow, sy = w.h / oh;
  const int nx = 1, ny = 1;
  for (int j = 0; j < oh; ++j)
    for (int i = 0; i < ow; ++i)
      for (int c = 0; c < 3; ++c) {
        double acc = 0;
        for (int b = 0; b < ny; ++b)
          for (int a = 0; a < nx; ++a) {
            const double u = (i + (a + 0.5) / nx) * sx - w.w / 2;
            const double v = (j + (b + 0.5) / ny) * sy - w.h / 2;
            const double x = w.cx + std::cos(w.angle) * u - std::sin(w.angle) * v;
            const double y = w.cy + std::sin(w.angle) * u + std::cos(w.angle) * v;
            if (fill == mien::BorderFill::Black &&
                !(x >= 0 && y >= 0 && x < img.width && y < img.height))
              continue;  // black
            const double cx = std::clamp(x - 0.5, 0.0, img.width - 1.0);
            const double cy = std::clamp(y - 0.5, 0.0, img.height - 1.0);
            const int x0 = int(std::floor(cx)), y0 = int(std::floor(cy));
            const double fx = cx - x0, fy = cy - y0;
            acc += (1 - fy) * ((1 - fx) * px(x0, y0, c) + fx * px(x0 + 1, y0, c)) +
                   fy * ((1 - fx) * px(x0, y0 + 1, c) + fx * px(x0 + 1, y0 + 1, c));
          }
        out[(std::size_t(j) * ow + i) * 3 + c] = float(acc / (nx * ny));
      }
  return out;
}

TEST_CASE("face crop: rotated, edge- or black-filled windows match the reference") {
  std::mt19937 rng(21);
  const Image img = random_image(29, 23, rng);
  std::uniform_real_distribution<double> pos(-10, 40), size(1, 90), ang(-1.2, 1.2);
  std::uniform_int_distribution<int> out(1, 19);
  for (int t = 0; t < 150; ++t) {
    const mien::CropWindow w{pos(rng), pos(rng), size(rng), size(rng), t % 4 ? ang(rng) : 0.0};
    const int ow = out(rng), oh = out(rng);
    const auto fill = t % 2 ? mien::BorderFill::Edge : mien::BorderFill::Black;
    std::vector<float> got(std::size_t(ow) * oh * 3);
    mien::warp_crop_to_tensor(img, w, ow, oh, ColorMode::Rgb, nullptr, nullptr, fill, got.data());
    const auto ref = naive_warp(img, w, ow, oh, fill);
    CAPTURE(t);
    REQUIRE(mien::test::max_abs_error(got.data(), ref.data(), int64_t(ref.size())) < 1e-2);
  }
}

TEST_CASE("face crop: exact cases, geometry from the detection, and errors") {
  std::mt19937 rng(22);
  const Image img = random_image(12, 10, rng);
  // An upright window at the output size equals crop_resize_to_tensor (no antialiasing
  // below a 1.5x shrink, same sampler convention).
  std::vector<float> a(7 * 5 * 3), b(7 * 5 * 3);
  const mien::CropWindow w{6.3, 4.1, 7, 5, 0};
  mien::warp_crop_to_tensor(img, w, 7, 5, ColorMode::Rgb, nullptr, nullptr, mien::BorderFill::Black,
                            a.data());
  mien::crop_resize_to_tensor(img, 6.3f - 3.5f, 4.1f - 2.5f, 7, 5, 7, 5, ColorMode::Rgb, nullptr,
                              nullptr, b.data());
  CHECK(mien::test::max_abs_error(a.data(), b.data(), int64_t(a.size())) < 1e-3);
  // The same with a 2x shrink (as crop_resize: each output centre between 4 pixels).
  std::vector<float> c2(3 * 2), r2(3 * 2);
  mien::warp_crop_to_tensor(img, {6, 5, 6, 4, 0}, 3, 2, ColorMode::Gray, nullptr, nullptr,
                            mien::BorderFill::Edge, c2.data());
  mien::crop_resize_to_tensor(img, 3, 3, 6, 4, 3, 2, ColorMode::Gray, nullptr, nullptr, r2.data());
  CHECK(mien::test::max_abs_error(c2.data(), r2.data(), int64_t(c2.size())) < 1e-3);
  // A quarter turn: the window's x axis runs down the image, so output column i reads image
  // row i of the window's centre column.
  Image ramp(9, 9);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 9; ++x) std::fill_n(ramp.pixel(x, y), 3, uint8_t(10 * y));
  float r[9];
  mien::warp_crop_to_tensor(ramp, {4.5, 4.5, 9, 1, M_PI / 2}, 9, 1, ColorMode::Gray, nullptr,
                            nullptr, mien::BorderFill::Black, r);
  for (int i = 0; i < 9; ++i) CHECK(r[i] == doctest::Approx(10 * i * 0.9999).epsilon(1e-3));
  // Outside the photo: black is 0, edge repeats the border.
  const Image flat(4, 4, Rgb{100, 100, 100});
  float o[2];
  mien::warp_crop_to_tensor(flat, {-20, 2, 4, 4, 0}, 1, 1, ColorMode::Gray, nullptr, nullptr,
                            mien::BorderFill::Black, o);
  mien::warp_crop_to_tensor(flat, {-20, 2, 4, 4, 0}, 1, 1, ColorMode::Gray, nullptr, nullptr,
                            mien::BorderFill::Edge, o + 1);
  CHECK(o[0] == 0.f);
  CHECK(o[1] == doctest::Approx(99.99).epsilon(1e-3));

  // Geometry: the eye line's angle (right eye = keypoint 0, on the image's left), the
  // window's size from the box and its shift along the face's own vertical axis.
  mien::Detection d;
  d.x = 10, d.y = 20, d.w = 40, d.h = 50;
  d.keypoints = {{20, 30}, {40, 50}, {30, 45}, {28, 60}};
  CHECK(mien::eye_angle(d) == doctest::Approx(M_PI / 4));
  mien::CropGeometry geo;
  geo.scale = 1.2f;
  geo.shift_y = 0.1f;
  mien::CropWindow c = mien::crop_window(d, geo);
  CHECK(c.angle == 0.0);  // align off
  CHECK(c.w == doctest::Approx(60));
  CHECK(c.h == doctest::Approx(60));
  CHECK(c.cx == doctest::Approx(30));
  CHECK(c.cy == doctest::Approx(45 + 5));
  geo.align = true;
  c = mien::crop_window(d, geo);
  CHECK(c.angle == doctest::Approx(M_PI / 4));
  CHECK(c.cx == doctest::Approx(30 - 5 * std::sin(M_PI / 4)));
  CHECK(c.cy == doctest::Approx(45 + 5 * std::cos(M_PI / 4)));
  // No keypoints, or eyes in the wrong order (upside down): no rotation.
  d.keypoints.clear();
  CHECK(mien::eye_angle(d) == 0.0);
  d.keypoints = {{40, 30}, {20, 30}};
  CHECK(mien::eye_angle(d) == 0.0);
  // A profile (eyes closer than a fifth of the box width) or a line steeper than 45
  // degrees tells no roll either.
  d.keypoints = {{20, 30}, {26, 33}};
  CHECK(mien::eye_angle(d) == 0.0);
  d.keypoints = {{20, 30}, {28, 45}};
  CHECK(mien::eye_angle(d) == 0.0);
  d.keypoints = {{20, 30}, {38, 36}};
  CHECK(mien::eye_angle(d) == doctest::Approx(std::atan2(6.0, 18.0)));
  CHECK(mien::parse_border_fill("edge") == mien::BorderFill::Edge);
  CHECK(!error_of([] { mien::parse_border_fill("mirror"); }).empty());
  CHECK(!error_of([&] {
           mien::warp_crop_to_tensor(img, {NAN, 0, 4, 4, 0}, 2, 2, ColorMode::Gray, nullptr,
                                     nullptr, mien::BorderFill::Edge, o);
         }).empty());
  CHECK(!error_of([&] {
           mien::warp_crop_to_tensor(img, {0, 0, 0, 4, 0}, 2, 2, ColorMode::Gray, nullptr, nullptr,
                                     mien::BorderFill::Edge, o);
         }).empty());
}

TEST_CASE("image: resize_bilinear equals the whole-image crop, rounded") {
  std::mt19937 rng(13);
  const Image img = random_image(23, 14, rng);
  for (auto [w, h] : {std::pair{23, 14}, {7, 5}, {50, 31}, {1, 1}, {23, 1}}) {
    const Image r = mien::resize_bilinear(img, w, h);
    REQUIRE(r.width == w);
    REQUIRE(r.height == h);
    std::vector<float> f(std::size_t(w) * h * 3);
    mien::crop_resize_to_tensor(img, 0, 0, 23, 14, w, h, ColorMode::Rgb, nullptr, nullptr,
                                f.data());
    for (std::size_t i = 0; i < f.size(); ++i) REQUIRE(int(r.rgb[i]) == int(std::lround(f[i])));
  }
  CHECK(mien::resize_bilinear(img, 23, 14).rgb == img.rgb);
}

TEST_CASE("image: letterbox pads, centres and maps back") {
  Image img(100, 50);
  for (int y = 20; y < 24; ++y)
    for (int x = 70; x < 74; ++x) std::memset(img.pixel(x, y), 255, 3);
  const float of[3] = {-1.f, -1.f, -1.f}, sc[3] = {1 / 127.5f, 1 / 127.5f, 1 / 127.5f};
  std::vector<float> t(64 * 64 * 3);
  const mien::Letterbox lb =
      mien::letterbox_to_tensor(img, 64, 64, ColorMode::Rgb, sc, of, t.data());
  CHECK(lb.scale == doctest::Approx(0.64));
  CHECK(lb.pad_x == doctest::Approx(0));
  CHECK(lb.pad_y == doctest::Approx(16));
  // Rows 0..15 and 48..63 are padding.
  for (int y = 0; y < 64; ++y) {
    const bool pad = y < 16 || y >= 48;
    if (pad) {
      for (int x = 0; x < 64 * 3; ++x) REQUIRE(t[std::size_t(y) * 64 * 3 + x] == -1.f);
    }
  }
  // Brightness centroid in model space maps back onto the block's centre (72, 22).
  double sx = 0, sy = 0, sw = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const double v = t[(std::size_t(y) * 64 + x) * 3] + 1.0;
      sx += v * (x + 0.5), sy += v * (y + 0.5), sw += v;
    }
  REQUIRE(sw > 0);
  CHECK(lb.to_image_x(float(sx / sw)) == doctest::Approx(72).epsilon(0.01));
  CHECK(lb.to_image_y(float(sy / sw)) == doctest::Approx(22).epsilon(0.02));
  // A tall image pads left and right instead.
  Image tall(30, 90, Rgb{10, 20, 30});
  std::vector<float> g(48 * 32);
  const mien::Letterbox lt =
      mien::letterbox_to_tensor(tall, 48, 32, ColorMode::Gray, nullptr, nullptr, g.data());
  CHECK(lt.pad_y == doctest::Approx(0));
  CHECK(lt.pad_x == doctest::Approx((48 - 30 * 32 / 90.0) / 2));
  CHECK(g[0] == 0.f);
  CHECK(g[16 * 48 + 24] > 10.f);
}

TEST_CASE("image: crop clamps tiles to the image") {
  std::mt19937 rng(17);
  const Image img = random_image(10, 8, rng);
  const Image c = mien::crop(img, -3, 2, 6, 100);
  REQUIRE(c.width == 3);
  REQUIRE(c.height == 6);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 3; ++x) REQUIRE(std::memcmp(c.pixel(x, y), img.pixel(x, y + 2), 3) == 0);
  CHECK(mien::crop(img, 10, 0, 5, 5).empty());
  CHECK(mien::crop(img, INT_MAX, INT_MAX, INT_MAX, INT_MAX).empty());
  CHECK(mien::crop(img, INT_MIN, INT_MIN, INT_MAX, INT_MAX).empty());
  CHECK(mien::crop(img, 0, 0, 10, 8).rgb == img.rgb);
}

TEST_CASE("draw: everything is clipped to the image") {
  const Rgb red{255, 0, 0};
  Image img(20, 12);
  const int big = INT_MAX, small = INT_MIN;
  for (int x : {small, -1000, -7, -1, 0, 5, 19, 20, 1000, big - 3, big}) {
    for (int y : {small, -9, -1, 0, 11, 12, big}) {
      for (int s : {0, 1, 3, 1000000, big}) {
        mien::fill_rect(img, x, y, s, s, red);
        mien::draw_rect(img, x, y, s, s, red, s);
        mien::draw_rect(img, x, y, big, big, red, 3);
        mien::draw_bar(img, x, y, s, s, 0.5f, red, red);
        mien::draw_bar(img, x, y, big, 4, NAN, red, red);
      }
      mien::draw_text(img, x, y, "Happy 0.93\nwith\xc3\xa9", red, 1);
      mien::draw_text(img, x, y, "~|}", red, 1000000);
      mien::draw_label_box(img, x, y, "neutral", red, red, 2);
      mien::draw_label_box(img, x, y, "surprise\n0.5", red, red, big);
    }
  }
  CHECK(img.valid());
  // Exact clipping of one rectangle.
  Image c(6, 5);
  mien::fill_rect(c, -2, -3, 4, 5, red);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x) REQUIRE((c.pixel(x, y)[0] == 255) == (x < 2 && y < 2));
  // Outline drawn inwards.
  Image r(7, 7);
  mien::draw_rect(r, 1, 1, 5, 5, red, 1);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) {
      const bool on =
          (x == 1 || x == 5 || y == 1 || y == 5) && x >= 1 && x <= 5 && y >= 1 && y <= 5;
      REQUIRE((r.pixel(x, y)[0] == 255) == on);
    }
  // Bar: left 30% filled.
  Image b(10, 2);
  mien::draw_bar(b, 0, 0, 10, 2, 0.3f, red, Rgb{0, 0, 255});
  for (int x = 0; x < 10; ++x) REQUIRE((b.pixel(x, 1)[0] == 255) == (x < 3));
  for (int x = 0; x < 10; ++x) REQUIRE((b.pixel(x, 1)[2] == 255) == (x >= 3));
}

TEST_CASE("draw: the built-in font") {
  using namespace mien::detail;
  std::set<std::vector<uint8_t>> seen;
  for (int i = 0; i < 95; ++i) {
    for (int r = 0; r < 8; ++r) REQUIRE(kFont5x8[i][r] < 32);
    seen.insert(std::vector<uint8_t>(kFont5x8[i], kFont5x8[i] + 8));
  }
  CHECK(seen.size() == 95);  // no two printable characters look the same
  Image img(12, 8);
  mien::draw_text(img, 0, 0, "AT", Rgb{255, 255, 255});
  // 'A' row 0 is .###. and 'T' row 0 is #####, one column apart.
  std::string row0;
  for (int x = 0; x < 11; ++x) row0 += img.pixel(x, 0)[0] ? '#' : '.';
  CHECK(row0 == ".###..#####");
  CHECK(mien::text_size("ab", 1).w == 11);
  CHECK(mien::text_size("ab", 1).h == 8);
  CHECK(mien::text_size("a\nbcd", 2).w == 34);
  CHECK(mien::text_size("a\nbcd", 2).h == 36);
  CHECK(mien::text_size("", 3).w == 0);
  CHECK(mien::text_size("\xc3\xa9", 1).w == 5);  // one code point, one glyph
  const mien::TextSize lb = mien::label_box_size("x", 2);
  CHECK(lb.w == 10 + 8);
  CHECK(lb.h == 16 + 8);
  CHECK(mien::label_box_size(std::string(1000, 'x'), INT_MAX).w > 0);
  CHECK(mien::palette_color(0).r != mien::palette_color(1).r);
  CHECK(mien::palette_color(-1).r == mien::palette_color(7).r);
}

TEST_CASE("image: real photos decode (when ../shared is present)") {
#ifdef MIEN_SHARED_DIR
  const std::string path = std::string(MIEN_SHARED_DIR) + "/data/images/12_angry_men.jpg";
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: " << path << " not found");
    return;
  }
  const Image img = mien::load_image(path);
  CHECK(img.width > 100);
  CHECK(img.height > 100);
  CHECK(img.valid());
#else
  MESSAGE("skipped: MIEN_SHARED_DIR not defined");
#endif
}
