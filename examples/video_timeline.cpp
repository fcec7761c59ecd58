// The emotion timeline of a video: every face tracked through it, its emotion smoothed
// over 4 frames, and one line per track per second, as mien's library API gives them.
//   example_video_timeline VIDEO [--fps F]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mien/video/video_analyzer.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s VIDEO [--fps F]\n", argv[0]);
    return 2;
  }
  mien::VideoOptions options;
  options.threads = 2;                                    // frames analysed at once
  options.smoothing = mien::parse_smoothing("window:4");  // mean of the last 4 frames
  if (argc == 4 && !std::strcmp(argv[2], "--fps"))
    options.sampler = mien::FrameSampler::per_second(std::atof(argv[3]));
  try {
    const mien::Pipeline pipeline = mien::Pipeline::with_default_models();
    mien::VideoAnalyzer analyzer(pipeline, options);
    mien::VideoReader video(argv[1]);  // ffmpeg decodes; any format it reads
    std::printf("%s: %dx%d, %.2f frames/s, %.1f s\n", argv[1], video.info().width,
                video.info().height, video.info().fps, video.info().duration);
    analyzer.run(video);  // a callback here would see every frame with its tracked faces
    for (const mien::TimelineEntry& e : analyzer.timeline())
      std::printf("%5.1f s  track %d  %-8s %.2f  box %.0f,%.0f %.0fx%.0f\n", e.seconds, e.track,
                  pipeline.emotion_labels()[std::size_t(e.emotion)].c_str(), double(e.probability),
                  double(e.box.x), double(e.box.y), double(e.box.w), double(e.box.h));
    const int main_face = analyzer.main_track();
    if (const mien::TrackSummary* s = analyzer.summary().track(main_face))
      std::printf("main face: track %d, mostly %s (%.0f%% of its frames)\n", main_face,
                  pipeline.emotion_labels()[std::size_t(s->dominant())].c_str(),
                  100 * s->share(s->dominant()));
  } catch (const mien::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
