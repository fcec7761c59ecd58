// Images for the face pipeline: decode (stb_image) into upright 8-bit RGB, encode, resize,
// and the crop/letterbox that turn a box of an image into a model's NHWC float input.
//
// Conventions used throughout:
// - Image is interleaved RGB8, row-major, no padding: pixel (x, y) is rgb[(y*width + x)*3].
// - Continuous image coordinates put pixel (x, y)'s centre at (x + 0.5, y + 0.5), so a box
//   (x, y, w, h) covers exactly the pixels it contains (half-pixel centres, as TF
//   half_pixel_centers / OpenCV INTER_LINEAR).
#pragma once

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mien/core/api.hpp"
#include "mien/core/error.hpp"
#include "mien/vision/stb.hpp"

namespace mien {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // interleaved RGB8, row-major, width*height*3 bytes

  Image() = default;
  explicit Image(int w, int h, Rgb fill = {}) : width(w), height(h) {
    MIEN_CHECK(w >= 0 && h >= 0 && int64_t(w) * h <= MIEN_MAX_IMAGE_PIXELS, "invalid image size ",
               w, "x", h);
    rgb.resize(std::size_t(w) * std::size_t(h) * 3);
    for (std::size_t i = 0; i < rgb.size(); i += 3) {
      rgb[i] = fill.r;
      rgb[i + 1] = fill.g;
      rgb[i + 2] = fill.b;
    }
  }

  bool empty() const { return width <= 0 || height <= 0; }
  // True when the buffer matches the dimensions; every function below checks it, since
  // Image's members are public and a caller may fill them by hand (e.g. video frames).
  bool valid() const {
    return width >= 0 && height >= 0 && rgb.size() == std::size_t(width) * height * 3;
  }
  std::size_t stride() const { return std::size_t(width) * 3; }
  uint8_t* pixel(int x, int y) { return rgb.data() + (std::size_t(y) * width + x) * 3; }
  const uint8_t* pixel(int x, int y) const { return rgb.data() + (std::size_t(y) * width + x) * 3; }
};

// Channel order/colour conversion a model expects (metadata `input.color`).
enum class ColorMode { Rgb, Bgr, Gray };

inline int color_channels(ColorMode m) {
  return m == ColorMode::Gray ? 1 : 3;
}

inline ColorMode parse_color_mode(const std::string& s) {
  if (s == "rgb") return ColorMode::Rgb;
  if (s == "bgr") return ColorMode::Bgr;
  if (s == "gray" || s == "grey") return ColorMode::Gray;
  throw_error("unknown colour mode '", s, "' (expected rgb, bgr or gray)");
}

// How letterbox_to_tensor placed the image in the model input: model = image*scale + pad.
struct Letterbox {
  float scale = 1.f;
  float pad_x = 0.f, pad_y = 0.f;
  float to_image_x(float model_x) const { return (model_x - pad_x) / scale; }
  float to_image_y(float model_y) const { return (model_y - pad_y) / scale; }
};

namespace detail {

// Throws an Error whose file() is the image's origin (path or description).
template <typename... Parts>
[[noreturn]] void image_error(const std::string& origin, const Parts&... parts) {
  std::ostringstream os;
  append_all(os, parts...);
  Error e(os.str());
  if (!origin.empty()) e.set_file(origin);
  throw e;
}

inline void check_image(const Image& img, const char* what) {
  MIEN_CHECK(img.valid(), what, ": image buffer has ", img.rgb.size(), " bytes, expected ",
             int64_t(img.width) * img.height * 3, " for ", img.width, "x", img.height);
}

inline uint32_t read_u16(const uint8_t* p, bool big_endian) {
  return big_endian ? (uint32_t(p[0]) << 8) | p[1] : (uint32_t(p[1]) << 8) | p[0];
}
inline uint32_t read_u32(const uint8_t* p, bool big_endian) {
  return big_endian
             ? (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]
             : (uint32_t(p[3]) << 24) | (uint32_t(p[2]) << 16) | (uint32_t(p[1]) << 8) | p[0];
}

// Orientation (1..8) from the TIFF block of an Exif APP1 segment; 0 when absent or invalid.
// Every offset is checked against n before use: the EXIF comes from untrusted files.
inline int tiff_orientation(const uint8_t* t, std::size_t n) {
  if (n < 8) return 0;
  bool be;
  if (t[0] == 'I' && t[1] == 'I') {
    be = false;
  } else if (t[0] == 'M' && t[1] == 'M') {
    be = true;
  } else {
    return 0;
  }
  if (read_u16(t + 2, be) != 42) return 0;
  const uint64_t ifd = read_u32(t + 4, be);
  if (ifd + 2 > n) return 0;
  const uint32_t count = read_u16(t + ifd, be);
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t e = ifd + 2 + 12ull * i;
    if (e + 12 > n) return 0;
    if (read_u16(t + e, be) != 0x0112) continue;
    const uint32_t type = read_u16(t + e + 2, be);
    const uint32_t cnt = read_u32(t + e + 4, be);
    uint32_t v = 0;
    if (type == 3 && cnt >= 1) {
      v = read_u16(t + e + 8, be);  // SHORT, stored left-justified in the value field
    } else if (type == 4 && cnt >= 1) {
      v = read_u32(t + e + 8, be);  // LONG: wrong per spec, but some writers do it
    }
    return (v >= 1 && v <= 8) ? int(v) : 0;
  }
  return 0;
}

struct JpegScan {
  int orientation = 1;          // EXIF orientation, 1 when absent/invalid
  bool complete = true;         // an end-of-image marker follows the first scan
  bool bad_huffman = false;     // a DHT segment stb_image would overflow on
  int width = -1, height = -1;  // from the first SOF segment, -1 when none was found
  bool baseline = false;        // that SOF is SOF0/SOF1 (sequential Huffman)
};

// A DHT segment's tables must each fit in it and define at most 256 codes: stb_image 2.27
// builds the table before checking the length and writes past its 257-entry arrays when the
// 16 counts add up to more (heap corruption found by fuzzing; fixed upstream later).
inline bool dht_valid(const uint8_t* seg, std::size_t len) {
  std::size_t p = 0;
  while (p < len) {
    if (p + 17 > len) return false;
    if ((seg[p] >> 4) > 1 || (seg[p] & 15) > 3) return false;
    std::size_t codes = 0;
    for (int i = 1; i <= 16; ++i) codes += seg[p + i];
    if (codes > 256) return false;
    p += 17 + codes;
  }
  return p == len;
}

// Position after the start-of-image marker, 0 if the data does not start with one. stb
// reads a marker as 0xFF, any number of 0xFF fill bytes, then the code, so "FF FF .. FF D8"
// is a JPEG to it as well: ours must agree, or its Huffman tables go unchecked (found by
// fuzzing).
inline std::size_t jpeg_soi_end(const uint8_t* d, std::size_t n) {
  if (n < 2 || d[0] != 0xFF) return 0;
  std::size_t i = 1;
  while (i < n && d[i] == 0xFF) ++i;
  return i < n && d[i] == 0xD8 ? i + 1 : 0;
}

// Walks every JPEG marker segment (skipping entropy-coded data) to find the Exif orientation
// and the frame size, validate Huffman tables, and check that an EOI marker follows the
// scans: stb_image decodes a cut-off JPEG without complaint (missing data reads as zeros),
// and a half-grey photo must be an error.
inline JpegScan scan_jpeg(const uint8_t* d, std::size_t n) {
  JpegScan r;
  std::size_t pos = std::max<std::size_t>(2, jpeg_soi_end(d, n));  // after SOI
  bool found_orientation = false, saw_sos = false, eoi = false;
  while (pos + 1 < n) {
    if (d[pos] != 0xFF) {
      // Junk where a marker belongs: stb_image skips to the next 0xFF, so must we, or a
      // DHT it finds after the junk would go unchecked (found by fuzzing).
      const void* ff = std::memchr(d + pos, 0xFF, n - pos);
      if (!ff) break;
      pos = std::size_t(static_cast<const uint8_t*>(ff) - d);
    }
    while (pos < n && d[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= n) break;
    const uint8_t m = d[pos++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9) {
      eoi = true;
      break;
    }
    if (pos + 2 > n) break;
    const std::size_t len = (std::size_t(d[pos]) << 8) | d[pos + 1];
    if (len < 2) break;
    const uint8_t* seg = d + pos + 2;
    const std::size_t seg_n = std::min(len - 2, n - (pos + 2));
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && r.width < 0 && seg_n >= 5) {
      r.height = int(read_u16(seg + 1, true));
      r.width = int(read_u16(seg + 3, true));
      r.baseline = m == 0xC0 || m == 0xC1;
    }
    if (m == 0xC4 && !dht_valid(seg, seg_n)) r.bad_huffman = true;
    if (m == 0xE1 && !found_orientation && seg_n >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const int o = tiff_orientation(seg + 6, seg_n - 6);
      if (o != 0) {
        r.orientation = o;
        found_orientation = true;
      }
    }
    pos += len;
    if (m == 0xDA) {
      // Entropy-coded data: 0xFF is followed by 0 (stuffing), a restart marker or 0xFF fill;
      // anything else is the next marker.
      saw_sos = true;
      while (pos + 1 < n) {
        const void* ff = std::memchr(d + pos, 0xFF, n - pos - 1);
        if (!ff) {
          pos = n;
          break;
        }
        pos = std::size_t(static_cast<const uint8_t*>(ff) - d);
        const uint8_t next = d[pos + 1];
        if (next != 0 && next != 0xFF && !(next >= 0xD0 && next <= 0xD7)) break;
        ++pos;
      }
    }
  }
  if (saw_sos && !eoi) {
    // The walk stopped early on something odd that stb may still accept: fall back to
    // looking for any EOI after that point.
    r.complete = false;
    for (std::size_t i = std::min(pos, n); i + 1 < n; ++i) {
      if (d[i] == 0xFF && d[i + 1] == 0xD9) {
        r.complete = true;
        break;
      }
    }
  }
  return r;
}

// stb_image reads missing bytes as zeros, so a cut-off BMP, TGA or GIF "decodes" into a
// partly black picture. These walk the structure the header promises and return a message
// when the data ends early ("" when complete, or when the data is too odd to judge: stb
// then decides). JPEG is checked by scan_jpeg, PNG by stb itself (its chunks are checked).
inline std::string bmp_truncation(const uint8_t* d, std::size_t n) {
  if (n < 26) return "";
  const uint64_t offset = read_u32(d + 10, false);
  const uint32_t dib = read_u32(d + 14, false);
  int64_t w, h;
  uint32_t bpp, compression;
  if (dib == 12) {
    w = read_u16(d + 18, false);
    h = read_u16(d + 20, false);
    bpp = read_u16(d + 24, false);
    compression = 0;
  } else {
    if (n < 34) return "";
    w = int32_t(read_u32(d + 18, false));
    h = int32_t(read_u32(d + 22, false));
    bpp = read_u16(d + 28, false);
    compression = read_u32(d + 30, false);
  }
  if (compression != 0 && compression != 3 && compression != 6) return "";  // RLE: stb checks
  if (w <= 0 || h == 0 || bpp == 0 || bpp > 32) return "";
  const uint64_t row = (uint64_t(w) * bpp + 31) / 32 * 4;
  const uint64_t need = offset + row * uint64_t(h < 0 ? -h : h);
  if (n >= need) return "";
  return "truncated BMP: " + std::to_string(n) + " bytes, header needs " + std::to_string(need);
}

// stb_image 2.27 reads PNM header numbers into an int without an overflow check (UBSan:
// "888888888 * 10 cannot be represented", found by fuzzing). Walks the header as stb does
// (whitespace, # comments) and refuses a number of more than 9 digits.
inline std::string pnm_header_problem(const uint8_t* d, std::size_t n) {
  std::size_t p = 2;  // after "P5" / "P6"
  auto space = [](uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  for (const char* what : {"width", "height", "maximum value"}) {
    for (;;) {
      while (p < n && space(d[p])) ++p;
      if (p >= n || d[p] != '#') break;
      while (p < n && d[p] != '\n' && d[p] != '\r') ++p;
    }
    std::size_t digits = 0;
    while (p < n && d[p] >= '0' && d[p] <= '9') ++p, ++digits;
    if (digits > 9)
      return std::string("corrupt PNM header: the ") + what + " has " + std::to_string(digits) +
             " digits";
    if (digits == 0) break;  // stb reports it
  }
  return "";
}

inline std::string tga_truncation(const uint8_t* d, std::size_t n) {
  if (n < 18) return "";
  const uint32_t type = d[2], bpp = d[16];
  const uint64_t w = read_u16(d + 12, false), h = read_u16(d + 14, false);
  const uint64_t cmap = d[1] ? uint64_t(read_u16(d + 5, false)) * ((d[7] + 7u) / 8) : 0;
  const uint64_t start = 18 + uint64_t(d[0]) + cmap, px = (bpp + 7) / 8;
  if (px == 0 || px > 4) return "";
  const char* const cut = "truncated TGA: pixel data ends early";
  if (type >= 1 && type <= 3) return n < start + w * h * px ? cut : "";
  if (type < 9 || type > 11) return "";
  // RLE packets: a header byte, then one pixel (run) or count pixels (raw).
  uint64_t pos = start, done = 0;
  while (done < w * h) {
    if (pos >= n) return cut;
    const uint32_t head = d[pos++];
    const uint64_t count = (head & 0x7F) + 1;
    pos += (head & 0x80) ? px : count * px;
    done += count;
  }
  return pos > n ? cut : "";
}

// GIF: only the first frame matters, so the data must reach the end of its LZW blocks.
// stb_image grows its IDAT buffer to a chunk's declared length before reading the chunk,
// so a 300-byte file whose chunk claims 1.2 GB makes it allocate 2 GB (found by fuzz_image).
// Every chunk up to IEND must fit in the data; returns what is wrong, or "" if nothing.
inline std::string png_truncation(const uint8_t* d, std::size_t n) {
  for (std::size_t p = 8; p + 8 <= n;) {
    const uint64_t length = read_u32(d + p, true);
    if (length > 0x7fffffffu || length > n - p - 8) {
      std::string type(reinterpret_cast<const char*>(d + p + 4), 4);
      for (char& c : type) c = std::isalpha(static_cast<unsigned char>(c)) ? c : '?';
      return "truncated or corrupt PNG: chunk " + type + " at byte " + std::to_string(p) +
             " claims " + std::to_string(length) + " bytes, " + std::to_string(n - p - 8) +
             " remain";
    }
    if (std::memcmp(d + p + 4, "IEND", 4) == 0) break;
    p += std::size_t(length) + 12;  // length, type, data, CRC
  }
  return "";
}

inline std::string gif_truncation(const uint8_t* d, std::size_t n) {
  const char* const cut = "truncated GIF: first frame incomplete";
  if (n < 13) return cut;
  uint64_t pos = 13;
  if (d[10] & 0x80) pos += 3ull << ((d[10] & 7) + 1);  // global colour table
  auto skip_blocks = [&]() {                           // data sub-blocks up to the empty terminator
    for (;;) {
      if (pos >= n) return false;
      const uint32_t len = d[pos++];
      if (len == 0) return true;
      pos += len;
    }
  };
  for (;;) {
    if (pos >= n) return cut;
    const uint8_t b = d[pos++];
    if (b == 0x21) {  // extension: label, then sub-blocks
      ++pos;
      if (!skip_blocks()) return cut;
    } else if (b == 0x2C) {  // image descriptor
      if (pos + 9 > n) return cut;
      const uint8_t flags = d[pos + 8];
      pos += 9;
      if (flags & 0x80) pos += 3ull << ((flags & 7) + 1);  // local colour table
      ++pos;                                               // LZW minimum code size
      return skip_blocks() ? "" : cut;
    } else {
      return "";  // trailer or junk: stb reports it
    }
  }
}

// Copies a decoded w x h image with `n` channels (3 = RGB, 4 = RGBA) into out, applying
// EXIF orientation in the same pass (no intermediate copy of a possibly huge photo).
// Alpha is composited over white: transparent regions of logos/stickers/PNG screenshots
// become a neutral background instead of whatever RGB happens to hide under alpha = 0.
inline void orient_into(const uint8_t* src, int w, int h, int n, int orientation, Image& out) {
  const bool swap = orientation >= 5;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.rgb.assign(std::size_t(w) * std::size_t(h) * 3, 0);
  if (w == 0 || h == 0) return;
  const int64_t px = n, row = int64_t(w) * n;
  const int64_t last_x = int64_t(w - 1) * px, last_y = int64_t(h - 1) * row;
  // Source offset of output pixel (u, v) = o0 + u*su + v*sv.
  int64_t o0 = 0, su = px, sv = row;
  switch (orientation) {
    case 2:  // mirror horizontally
      o0 = last_x, su = -px, sv = row;
      break;
    case 3:  // rotate 180
      o0 = last_x + last_y, su = -px, sv = -row;
      break;
    case 4:  // mirror vertically
      o0 = last_y, su = px, sv = -row;
      break;
    case 5:  // transpose (mirror horizontally, then rotate 270 clockwise)
      o0 = 0, su = row, sv = px;
      break;
    case 6:  // rotate 90 clockwise
      o0 = last_y, su = -row, sv = px;
      break;
    case 7:  // transverse (mirror horizontally, then rotate 90 clockwise)
      o0 = last_x + last_y, su = -row, sv = -px;
      break;
    case 8:  // rotate 270 clockwise
      o0 = last_x, su = row, sv = -px;
      break;
    default:  // 1: stored upright
      break;
  }
  if (n == 3 && o0 == 0 && su == 3 && sv == row) {
    std::memcpy(out.rgb.data(), src, out.rgb.size());
    return;
  }
  uint8_t* dst = out.rgb.data();
  for (int v = 0; v < out.height; ++v) {
    const uint8_t* s = src + o0 + int64_t(v) * sv;
    for (int u = 0; u < out.width; ++u, s += su, dst += 3) {
      if (n == 4) {
        const uint32_t a = s[3], ia = 255 - a;
        for (int c = 0; c < 3; ++c) dst[c] = uint8_t((s[c] * a + 255 * ia + 127) / 255);
      } else if (n == 1) {
        dst[0] = dst[1] = dst[2] = s[0];
      } else {
        dst[0] = s[0];
        dst[1] = s[1];
        dst[2] = s[2];
      }
    }
  }
}

// The format a file's magic bytes announce ("" when unknown; TGA has no magic).
inline const char* sniff_format(const uint8_t* d, std::size_t n) {
  if (jpeg_soi_end(d, n) != 0) return "JPEG";  // stb's own test: SOI only
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return "PNG";
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) {
    return "GIF";
  }
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
  if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6') return "PNM";
  return "";
}

inline const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r && *r ? r : "no detail";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

struct StbFree {
  void operator()(uint8_t* p) const { stbi_image_free(p); }
};

inline void append_bytes(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<uint8_t>*>(ctx);
  const auto* p = static_cast<const uint8_t*>(data);
  v->insert(v->end(), p, p + size);
}

inline std::string lower_extension(const std::string& path) {
  const std::size_t slash = path.find_last_of("/\\");
  const std::size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace detail

// Reads the EXIF orientation (1..8) of JPEG data; 1 for non-JPEG data, no or bad EXIF.
inline int jpeg_exif_orientation(const uint8_t* data, std::size_t size) {
  if (!data || size < 2 || detail::jpeg_soi_end(data, size) == 0) return 1;
  return detail::scan_jpeg(data, size).orientation;
}

// Applies an EXIF orientation (1..8) so that a stored image becomes upright.
inline Image apply_orientation(const Image& img, int orientation) {
  detail::check_image(img, "apply_orientation");
  MIEN_CHECK(orientation >= 1 && orientation <= 8, "EXIF orientation ", orientation,
             " is not in 1..8");
  Image out;
  detail::orient_into(img.rgb.data(), img.width, img.height, 3, orientation, out);
  return out;
}

// What decode_image accepts. The header's size is checked before anything is decoded.
struct DecodeLimits {
  // Largest image in pixels (at most MIEN_MAX_IMAGE_PIXELS); `mien image --max-pixels`.
  int64_t max_pixels = MIEN_DEFAULT_MAX_PIXELS;
  // Reject a header that claims more pixels than its format could encode in the file's
  // bytes (a 44-byte GIF declaring a 65535x1525 canvas).
  bool check_ratio = true;
};

namespace detail {

// The most pixels one byte of a format can stand for, 0 when unbounded. Loose upper
// bounds from each codec's best case: PNG deflate 1032:1 on 1-bit rows (8 px a byte);
// GIF LZW <= 4096 pixels per code of >= 3 bits (and a canvas may be larger than its frame,
// which is exactly the attack); baseline JPEG >= 2 bits per 8x8 block (progressive JPEG's
// end-of-band runs have no such bound); BMP/TGA RLE 255 or 128 pixels per 2 bytes; PNM P4
// 8 pixels a byte.
inline double max_pixels_per_byte(const char* format, bool jpeg_baseline) {
  const std::string f = format;
  if (f == "PNG") return 8300;
  if (f == "GIF") return 11000;
  if (f == "JPEG") return jpeg_baseline ? 256 : 0;
  if (f == "BMP" || f == "") return 130;  // "" is TGA (no magic)
  if (f == "PNM") return 8.5;
  return 0;
}

// stb_image copies a zero-length IDAT with memcpy(NULL, p, 0) when it is the first one
// (undefined behaviour; UBSan aborts). Such chunks carry no data: drop them. Returns false
// when there is none (nothing copied).
inline bool strip_empty_png_idat(const uint8_t* d, std::size_t n, std::vector<uint8_t>& out) {
  // A chunk is length + type (8 bytes), data, CRC; stb reaches the copy as soon as length
  // and type are there, so a cut-off final empty IDAT counts too (found by fuzzing).
  auto empty_idat = [&](std::size_t p) {
    return read_u32(d + p, true) == 0 && std::memcmp(d + p + 4, "IDAT", 4) == 0;
  };
  auto next_chunk = [&](std::size_t p) {
    return std::size_t(std::min<uint64_t>(n, uint64_t(p) + 12 + read_u32(d + p, true)));
  };
  bool found = false;
  for (std::size_t p = 8; p + 8 <= n && !found; p = next_chunk(p)) found = empty_idat(p);
  if (!found) return false;
  out.assign(d, d + 8);
  std::size_t p = 8;
  for (; p + 8 <= n; p = next_chunk(p))
    if (!empty_idat(p)) out.insert(out.end(), d + p, d + next_chunk(p));
  out.insert(out.end(), d + p, d + n);  // a tail too short to be a chunk, as it was
  return true;
}

}  // namespace detail

// Decodes JPEG, PNG, BMP, TGA, GIF (first frame) or PNM data into upright RGB8.
// Gray is replicated to RGB, alpha composited over white, 16-bit reduced to 8, JPEG EXIF
// orientation applied (EXIF in other formats, e.g. PNG eXIf, is ignored: phones write JPEG).
// `origin` names the data in error messages (usually the file path). Throws mien::Error for
// empty, unreadable, truncated or corrupt data, zero size, or more pixels than `limits`
// allow (by default MIEN_DEFAULT_MAX_PIXELS, and no more than the format can encode in
// `size` bytes).
MIEN_API Image decode_image(const uint8_t* data, std::size_t size, const std::string& origin,
                            const DecodeLimits& limits = {});

// Reads a whole file and decodes it. Errors name the path.
MIEN_API Image load_image(const std::string& path, const DecodeLimits& limits = {});

// Encodes to "png", "jpg"/"jpeg" (quality 90), "bmp" or "tga" in memory.
MIEN_API std::vector<uint8_t> encode_image(const Image& img, const std::string& format);

// Writes PNG, JPEG (quality 90), BMP or TGA, chosen by the file extension.
MIEN_API void save_image(const Image& img, const std::string& path);

#if MIEN_API_BODIES

MIEN_API Image decode_image(const uint8_t* data, std::size_t size, const std::string& origin,
                            const DecodeLimits& limits) {
  using detail::image_error;
  if (!data || size == 0) image_error(origin, "empty image file");
  if (size > std::size_t(INT_MAX)) image_error(origin, "image file too large (", size, " bytes)");
  std::vector<uint8_t> repaired;
  if (size > 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) {
    const std::string cut = detail::png_truncation(data, size);
    if (!cut.empty()) image_error(origin, cut);
    if (detail::strip_empty_png_idat(data, size, repaired)) {
      data = repaired.data();
      size = repaired.size();
    }
  }
  const int len = int(size);
  const int64_t max_pixels = std::min<int64_t>(limits.max_pixels, MIEN_MAX_IMAGE_PIXELS);
  // Size limits come first, from the header only, before anything is allocated: a 100-byte
  // file may claim 100000x100000.
  auto check_size = [&](int64_t w, int64_t h) {
    if (w <= 0 || h <= 0) image_error(origin, "zero-sized image (", w, "x", h, ")");
    // Sides first: the product of two 32-bit header fields can overflow int64.
    if (w > MIEN_MAX_IMAGE_SIDE || h > MIEN_MAX_IMAGE_SIDE || w * h > max_pixels) {
      image_error(origin, "image too large: ", w, "x", h, " exceeds the limit of ", max_pixels,
                  " pixels (--max-pixels) or ", MIEN_MAX_IMAGE_SIDE, " pixels a side");
    }
  };
  // PNG and JPEG headers are read here too, because stb refuses large ones itself but
  // then reports only "unknown image type" (the last format it tried).
  const char* format = detail::sniff_format(data, size);
  int orientation = 1;
  bool jpeg_baseline = false;
  if (size >= 24 && std::strcmp(format, "PNG") == 0 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    check_size(detail::read_u32(data + 16, true), detail::read_u32(data + 20, true));
  } else if (std::strcmp(format, "JPEG") == 0) {
    const detail::JpegScan js = detail::scan_jpeg(data, size);
    if (js.width >= 0) check_size(js.width, js.height);
    if (!js.complete) image_error(origin, "truncated or corrupt JPEG (no end-of-image marker)");
    if (js.bad_huffman) image_error(origin, "corrupt JPEG: invalid Huffman table");
    orientation = js.orientation;
    jpeg_baseline = js.baseline;
  }
  if (std::strcmp(format, "PNM") == 0) {
    const std::string bad = detail::pnm_header_problem(data, size);
    if (!bad.empty()) image_error(origin, bad);
  }
  int w = 0, h = 0, n = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &n)) {
    const std::string reason = detail::stb_reason();
    if (*format && reason == "unknown image type") {
      image_error(origin, "cannot decode image: corrupt or truncated ", format, " header");
    }
    image_error(origin, "cannot decode image: ", reason,
                " (supported: JPEG, PNG, BMP, TGA, GIF, PNM)");
  }
  check_size(w, h);
  const double ratio = detail::max_pixels_per_byte(format, jpeg_baseline);
  // 64 KiB pixels of slack: tiny files of tiny images are never refused.
  if (limits.check_ratio && ratio > 0 && double(w) * h > ratio * double(size) + 65536.0) {
    image_error(origin, "image header claims ", w, "x", h, " pixels, more than ",
                *format ? format : "TGA", " can encode in ", size,
                " bytes (corrupt or hostile file)");
  }
  // TGA has no magic: it is what stb found when no other format's signature matched.
  const std::string cut = !std::strcmp(format, "BMP")   ? detail::bmp_truncation(data, size)
                          : !std::strcmp(format, "GIF") ? detail::gif_truncation(data, size)
                          : !*format                    ? detail::tga_truncation(data, size)
                                                        : std::string();
  if (!cut.empty()) image_error(origin, cut);
  // Alpha-bearing images are decoded as RGBA so that orient_into can composite them.
  int req = (n == 2 || n == 4) ? 4 : 3;
  // Gray PNM stays gray in stb: 2.27 converts a 16-bit one to RGB with its 8-bit routine and
  // then reads twice the buffer (heap overflow found by fuzz_image); orient_into expands it.
  if (n == 1 && std::strcmp(format, "PNM") == 0) req = 1;
  int w2 = 0, h2 = 0, n2 = 0;
  std::unique_ptr<uint8_t, detail::StbFree> px(
      stbi_load_from_memory(data, len, &w2, &h2, &n2, req));
  if (!px) {
    image_error(origin, "cannot decode ", *format ? format : "TGA",
                " image (corrupt or truncated data): ", detail::stb_reason());
  }
  if (w2 != w || h2 != h) {
    image_error(origin, "decoded size ", w2, "x", h2, " differs from header ", w, "x", h);
  }
  Image out;
  detail::orient_into(px.get(), w, h, req, orientation, out);
  return out;
}

MIEN_API Image load_image(const std::string& path, const DecodeLimits& limits) {
  using detail::image_error;
  std::unique_ptr<std::FILE, detail::FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) image_error(path, "cannot open image: ", std::strerror(errno));
  std::vector<uint8_t> bytes;
  // Read in chunks rather than trusting a file size: works for pipes and /dev/stdin too.
  constexpr std::size_t kChunk = 1 << 20;
  constexpr std::size_t kMaxFile = std::size_t(1) << 30;  // far above any 100 MP image file
  for (;;) {
    const std::size_t old = bytes.size();
    bytes.resize(old + kChunk);
    const std::size_t got = std::fread(bytes.data() + old, 1, kChunk, f.get());
    bytes.resize(old + got);
    if (got < kChunk) {
      if (std::ferror(f.get())) image_error(path, "cannot read image: ", std::strerror(errno));
      break;
    }
    if (bytes.size() > kMaxFile) image_error(path, "image file larger than 1 GiB");
  }
  return decode_image(bytes.data(), bytes.size(), path, limits);
}

MIEN_API std::vector<uint8_t> encode_image(const Image& img, const std::string& format) {
  detail::check_image(img, "encode_image");
  MIEN_CHECK(!img.empty(), "cannot encode an empty image");
  std::string f = format;
  for (char& c : f) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::vector<uint8_t> out;
  const int w = img.width, h = img.height;
  const void* p = img.rgb.data();
  int ok = 0;
  if (f == "png") {
    ok = stbi_write_png_to_func(&detail::append_bytes, &out, w, h, 3, p, w * 3);
  } else if (f == "jpg" || f == "jpeg") {
    ok = stbi_write_jpg_to_func(&detail::append_bytes, &out, w, h, 3, p, 90);
  } else if (f == "bmp") {
    ok = stbi_write_bmp_to_func(&detail::append_bytes, &out, w, h, 3, p);
  } else if (f == "tga") {
    ok = stbi_write_tga_to_func(&detail::append_bytes, &out, w, h, 3, p);
  } else {
    throw_error("unknown image format '", format, "' (expected png, jpg, bmp or tga)");
  }
  MIEN_CHECK(ok && !out.empty(), "encoding ", w, "x", h, " image as ", f, " failed");
  return out;
}

MIEN_API void save_image(const Image& img, const std::string& path) {
  using detail::image_error;
  const std::string ext = detail::lower_extension(path);
  if (ext != "png" && ext != "jpg" && ext != "jpeg" && ext != "bmp" && ext != "tga") {
    image_error(path, "cannot save image: unknown extension '", ext,
                "' (use .png, .jpg, .bmp or .tga)");
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_image(img, ext);
  } catch (Error& e) {
    e.set_file(path);
    throw;
  }
  std::unique_ptr<std::FILE, detail::FileCloser> f(std::fopen(path.c_str(), "wb"));
  if (!f) image_error(path, "cannot create image file: ", std::strerror(errno));
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
    image_error(path, "cannot write image: ", std::strerror(errno));
  }
  // fclose flushes: a full disk is often only reported here.
  if (std::fclose(f.release()) != 0) {
    image_error(path, "cannot write image: ", std::strerror(errno));
  }
}

#endif  // MIEN_API_BODIES

// A sub-image for tiles: the rectangle is clamped to the image; no overlap gives an empty
// Image (0x0).
inline Image crop(const Image& img, int x, int y, int w, int h) {
  detail::check_image(img, "crop");
  const int64_t x0 = std::max<int64_t>(x, 0), y0 = std::max<int64_t>(y, 0);
  const int64_t x1 = std::min<int64_t>(int64_t(x) + w, img.width);
  const int64_t y1 = std::min<int64_t>(int64_t(y) + h, img.height);
  if (x1 <= x0 || y1 <= y0) return Image{};
  Image out(int(x1 - x0), int(y1 - y0));
  for (int64_t r = y0; r < y1; ++r) {
    std::memcpy(out.pixel(0, int(r - y0)), img.pixel(int(x0), int(r)), out.stride());
  }
  return out;
}

namespace detail {

// One output column (or row) of a bilinear resample: the two source indices and the weight
// of the second, or `inside == false` when the sample centre lies outside the image.
struct Tap {
  int a = 0, b = 0;
  float f = 0.f;
  bool inside = false;
};

// Output i's centre is at start + (i + 0.5) * step in continuous coordinates. Inside the
// image, neighbours are clamped to the edge (never mixing in padding); outside, the sample
// is padding. Double precision: a 60000-pixel-wide photo still maps to the right pixel.
inline std::vector<Tap> make_taps(double start, double step, int count, int size) {
  std::vector<Tap> taps(std::size_t(std::max(count, 0)));
  for (int i = 0; i < count; ++i) {
    const double c = start + (i + 0.5) * step;
    Tap& t = taps[std::size_t(i)];
    if (!(c >= 0.0 && c < double(size))) continue;  // also catches NaN
    const double s = c - 0.5;
    const double fl = std::floor(s);
    const int i0 = int(fl);
    t.a = std::clamp(i0, 0, size - 1);
    t.b = std::clamp(i0 + 1, 0, size - 1);
    t.f = float(s - fl);
    t.inside = true;
  }
  return taps;
}

}  // namespace detail

namespace detail {

// The one bilinear sampler behind crop, letterbox and resize: calls emit(i, j, v) with the
// interpolated RGB v[3] (0..255 floats; all 0 outside the image) for every output pixel.
template <typename Emit>
void bilinear_sample(const Image& img, double x, double y, double w, double h, int out_w, int out_h,
                     Emit&& emit) {
  const auto xs = make_taps(x, w / out_w, out_w, img.width);
  const auto ys = make_taps(y, h / out_h, out_h, img.height);
  for (int j = 0; j < out_h; ++j) {
    const Tap& ty = ys[std::size_t(j)];
    const uint8_t* r0 = ty.inside ? img.pixel(0, ty.a) : nullptr;
    const uint8_t* r1 = ty.inside ? img.pixel(0, ty.b) : nullptr;
    for (int i = 0; i < out_w; ++i) {
      const Tap& tx = xs[std::size_t(i)];
      float v[3] = {0.f, 0.f, 0.f};
      if (ty.inside && tx.inside) {
        const uint8_t *p00 = r0 + tx.a * 3, *p01 = r0 + tx.b * 3;
        const uint8_t *p10 = r1 + tx.a * 3, *p11 = r1 + tx.b * 3;
        const float fx = tx.f, fy = ty.f;
        for (int c = 0; c < 3; ++c) {
          const float top = p00[c] + (p01[c] - p00[c]) * fx;
          const float bot = p10[c] + (p11[c] - p10[c]) * fx;
          v[c] = top + (bot - top) * fy;
        }
      }
      emit(i, j, v);
    }
  }
}

inline void sample_to_tensor(const Image& img, double x, double y, double w, double h, int out_w,
                             int out_h, ColorMode mode, const float* scale, const float* offset,
                             float* out) {
  const int ch = color_channels(mode);
  float sc[3] = {1.f, 1.f, 1.f}, of[3] = {0.f, 0.f, 0.f};
  for (int c = 0; c < ch; ++c) {
    if (scale) sc[c] = scale[c];
    if (offset) of[c] = offset[c];
  }
  if (mode == ColorMode::Gray) {
    bilinear_sample(img, x, y, w, h, out_w, out_h, [&](int i, int j, const float* v) {
      const float g = 0.2989f * v[0] + 0.587f * v[1] + 0.114f * v[2];
      out[std::size_t(j) * out_w + i] = g * sc[0] + of[0];
    });
  } else {
    // Which decoded channel feeds output channel c.
    const int r = mode == ColorMode::Bgr ? 2 : 0, b = 2 - r;
    bilinear_sample(img, x, y, w, h, out_w, out_h, [&](int i, int j, const float* v) {
      float* o = out + (std::size_t(j) * out_w + i) * 3;
      o[0] = v[r] * sc[0] + of[0];
      o[1] = v[1] * sc[1] + of[1];
      o[2] = v[b] * sc[2] + of[2];
    });
  }
}

}  // namespace detail

// Resamples the box (x, y, w, h) of img (image pixels; may extend past the borders) to
// out_h x out_w and writes NHWC floats (out_h*out_w*channels, channels 3 for Rgb/Bgr, 1 for
// Gray): out = v*scale[c] + offset[c] with v in 0..255. scale/offset are per *output*
// channel and may be null (1 and 0).
// Bilinear with half-pixel centres. A sample whose centre is outside the image is black
// (v = 0, so out = offset[c]): that is the border padding of face boxes near the edge.
// Inside the image the neighbours are clamped to the edge, so padding never bleeds into real
// pixels, and the box equal to the image gives exactly resize_bilinear.
// Gray = 0.2989 R + 0.587 G + 0.114 B of the interpolated colour.
inline void crop_resize_to_tensor(const Image& img, float x, float y, float w, float h, int out_w,
                                  int out_h, ColorMode mode, const float* scale,
                                  const float* offset, float* out) {
  detail::check_image(img, "crop_resize_to_tensor");
  MIEN_CHECK(out_w > 0 && out_h > 0, "crop_resize_to_tensor: output size ", out_w, "x", out_h);
  MIEN_CHECK(std::isfinite(x) && std::isfinite(y) && std::isfinite(w) && std::isfinite(h) &&
                 w > 0 && h > 0,
             "crop_resize_to_tensor: invalid box ", x, ",", y, " ", w, "x", h);
  MIEN_CHECK(out != nullptr, "crop_resize_to_tensor: null output");
  detail::sample_to_tensor(img, x, y, w, h, out_w, out_h, mode, scale, offset, out);
}

// Fits the whole image into size_w x size_h keeping its aspect ratio, centred, padding black
// (v = 0), and writes NHWC floats as crop_resize_to_tensor does. Returns the mapping back:
// image_x = (model_x - pad_x) / scale (see Letterbox::to_image_x).
inline Letterbox letterbox_to_tensor(const Image& img, int size_w, int size_h, ColorMode mode,
                                     const float* scale, const float* offset, float* out) {
  detail::check_image(img, "letterbox_to_tensor");
  MIEN_CHECK(!img.empty(), "letterbox_to_tensor: empty image");
  MIEN_CHECK(size_w > 0 && size_h > 0, "letterbox_to_tensor: model size ", size_w, "x", size_h);
  MIEN_CHECK(out != nullptr, "letterbox_to_tensor: null output");
  const double s = std::min(double(size_w) / img.width, double(size_h) / img.height);
  const double pad_x = (size_w - img.width * s) / 2, pad_y = (size_h - img.height * s) / 2;
  detail::sample_to_tensor(img, -pad_x / s, -pad_y / s, size_w / s, size_h / s, size_w, size_h,
                           mode, scale, offset, out);
  Letterbox lb;
  lb.scale = float(s);
  lb.pad_x = float(pad_x);
  lb.pad_y = float(pad_y);
  return lb;
}

// Bilinear resize of the whole image (half-pixel centres, edge clamped), rounded to u8.
// Note: like every plain bilinear resize it aliases when shrinking by much more than 2x.
inline Image resize_bilinear(const Image& img, int w, int h) {
  detail::check_image(img, "resize_bilinear");
  MIEN_CHECK(!img.empty(), "resize_bilinear: empty image");
  MIEN_CHECK(w > 0 && h > 0 && int64_t(w) * h <= MIEN_MAX_IMAGE_PIXELS,
             "resize_bilinear: invalid size ", w, "x", h);
  Image out(w, h);
  detail::bilinear_sample(img, 0.0, 0.0, img.width, img.height, w, h,
                          [&](int i, int j, const float* v) {
                            uint8_t* d = out.pixel(i, j);
                            for (int c = 0; c < 3; ++c) {
                              d[c] = uint8_t(std::clamp(v[c] + 0.5f, 0.f, 255.f));
                            }
                          });
  return out;
}

}  // namespace mien
