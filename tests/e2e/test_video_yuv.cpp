// VideoReader's frames through YUV 4:2:0 and mien's conversion against ffmpeg's own rgb24
// conversion of the same file (VideoReaderOptions::Transfer::Rgb), on short testsrc2 clips
// in the formats video comes in: BT.709-tagged and untagged 4:2:0, full range (yuvj420p,
// and yuv420p tagged pc), 4:4:4, 10-bit, MJPEG 4:2:2, an odd size, and RGB and gray
// sources (which ffmpeg must still hand over as rgb24, unchanged).
#include <cmath>

#include "cli_util.hpp"
#include "mien/video/frames.hpp"
#include "test_util.hpp"

using namespace mien;
using test::quote;

namespace {

std::vector<Image> read_all(const std::string& path, VideoReaderOptions::Transfer t, Isa isa,
                            bool* yuv = nullptr, YuvColor* color = nullptr) {
  VideoReaderOptions o;
  o.transfer = t;
  o.isa = isa;
  VideoReader r(path, o);
  if (yuv) *yuv = r.yuv();
  if (color) *color = r.color();
  std::vector<Image> frames;
  VideoFrame f;
  while (r.read(f)) frames.push_back(f.image);
  return frames;
}

struct Case {
  const char* name;
  const char* size;
  const char* encode;  // ffmpeg output options
  const char* ext;
  bool yuv;            // expected on the pipe as 4:2:0
  int colorspace;      // expected (when yuv)
  bool full_range;     // expected (when yuv)
  int max_diff;        // largest |mien - ffmpeg| allowed over all pixels and channels
  double mean_diff;    // mean |mien - ffmpeg| allowed
  double share_over8;  // share of values off by more than 8 allowed (chroma edges)
};

}  // namespace

TEST_CASE("video: frames through YUV 4:2:0 match ffmpeg's rgb24 conversion") {
  if (!test::have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_yuv");
  // The limits are the measured worst case plus a margin (see the note per case). ffmpeg's
  // unscaled yuv420p -> rgb24 (x86 SIMD) is up to 3 levels off the exact formula that mien
  // computes (green biased by -1.5 on BT.709); where ffmpeg must first reduce 4:4:4 or
  // interpolate chroma (odd heights), sharp colour edges of testsrc2 differ more.
  const Case cases[] = {
      {"bt709", "320x240",
       "-c:v libx264 -pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709",
       "mp4", true, 1, false, 4, 1.0, 0},
      {"untagged", "320x240", "-c:v libx264 -pix_fmt yuv420p", "mp4", true, 2, false, 4, 1.0, 0},
      {"yuvj420p", "320x240", "-c:v libx264 -pix_fmt yuvj420p", "mp4", true, 2, true, 4, 1.0, 0},
      {"pc_tagged", "320x240", "-c:v ffv1 -pix_fmt yuv420p -color_range pc", "mkv", true, 2, true,
       4, 1.0, 0},
      {"odd", "323x241", "-c:v ffv1 -pix_fmt yuv420p", "mkv", true, 2, false, 4, 1.0, 0},
      {"bt709_10bit", "320x240", "-c:v ffv1 -pix_fmt yuv420p10le -colorspace bt709", "mkv", true, 1,
       false, 255, 2.5, 0.12},
      {"mjpeg422", "320x240", "-c:v mjpeg -pix_fmt yuvj422p", "avi", true, 5, true, 255, 2.5, 0.12},
      {"yuv444p", "320x240", "-c:v libx264 -pix_fmt yuv444p", "mp4", true, 2, false, 255, 2.5,
       0.12},
      {"rgb", "323x241", "-c:v ffv1 -pix_fmt bgr0", "mkv", false, 0, false, 0, 0, 0},
      {"gray", "320x240", "-c:v ffv1 -pix_fmt gray", "mkv", false, 0, false, 0, 0, 0},
  };

  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    const std::string file = dir + "/" + c.name + "." + c.ext;
    const auto made =
        test::run_command("ffmpeg", std::string("-v error -y -f lavfi -i testsrc2=size=") + c.size +
                                        ":rate=10 -frames:v 6 " + c.encode + " " + quote(file));
    INFO(made.out);
    REQUIRE(made.status == 0);
    const std::vector<Image> ref =
        read_all(file, VideoReaderOptions::Transfer::Rgb, Isa::Scalar);  // ffmpeg's rgb24
    REQUIRE(ref.size() == 6);
    for (Isa isa : test::isas()) {
      CAPTURE(std::string(isa_name(isa)));
      bool yuv = false;
      YuvColor color;
      const std::vector<Image> got =
          read_all(file, VideoReaderOptions::Transfer::Yuv, isa, &yuv, &color);
      CHECK(yuv == c.yuv);
      if (c.yuv) {
        CHECK(color.colorspace == c.colorspace);
        CHECK(color.full_range == c.full_range);
      }
      REQUIRE(got.size() == ref.size());
      int worst = 0;
      double sum = 0;
      std::size_t n = 0, big = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].width == ref[i].width);
        REQUIRE(got[i].height == ref[i].height);
        for (std::size_t k = 0; k < got[i].rgb.size(); ++k) {
          const int d = std::abs(int(got[i].rgb[k]) - int(ref[i].rgb[k]));
          worst = std::max(worst, d);
          sum += d;
          big += d > 8;
        }
        n += got[i].rgb.size();
      }
      const double mean = sum / double(n);
      const double over8 = double(big) / double(n);
      MESSAGE((std::string(c.name) + " " + isa_name(isa) + ": max " + std::to_string(worst) +
               ", mean " + std::to_string(mean) + ", share > 8: " + std::to_string(over8)));
      CHECK(worst <= c.max_diff);
      CHECK(mean <= c.mean_diff);
      CHECK(over8 <= c.share_over8);
    }
  }
  // Auto picks 4:2:0 wherever AVX2 runs the conversion, ffmpeg's rgb24 elsewhere.
  VideoReader automatic(dir + "/bt709.mp4");
  CHECK(automatic.yuv() == isa_has_avx2(default_isa()));
  std::system(("rm -rf " + quote(dir)).c_str());
}
