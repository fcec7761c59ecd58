// The video logic without video files: tracking, smoothing, the per-second timeline, frame
// sampling, shot cuts, the detection schedule and box interpolation, the stage timer, and
// the parsing of ffmpeg's stream descriptions.
#include <doctest/doctest.h>

#include "mien/video/appearance.hpp"
#include "mien/video/detection_schedule.hpp"
#include "mien/video/frames.hpp"
#include "mien/video/shot_cut.hpp"
#include "mien/video/smoothing.hpp"
#include "mien/video/stage_timer.hpp"
#include "mien/video/timeline.hpp"
#include "mien/video/track_confirmation.hpp"
#include "mien/video/tracker.hpp"
#include "mien/video/video_analyzer.hpp"

using namespace mien;

namespace {
Detection box(float x, float y, float size) {
  Detection d;
  d.x = x;
  d.y = y;
  d.w = d.h = size;
  d.score = 0.9f;
  return d;
}
}  // namespace

TEST_CASE("tracker: moving faces keep their ids, in any detection order") {
  FaceTracker tracker;
  // Two faces moving towards each other at 60 px/s, sampled at 10 frames/s, detected in
  // alternating order.
  for (int i = 0; i < 30; ++i) {
    const double t = i * 0.1;
    const Detection a = box(100.f + 6.f * float(i), 100, 60);
    const Detection b = box(400.f - 6.f * float(i), 110, 70);
    const bool swap = i % 2 == 1;
    const std::vector<int> ids =
        tracker.update(swap ? std::vector<Detection>{b, a} : std::vector<Detection>{a, b}, t);
    CHECK(ids[swap ? 1 : 0] == 1);
    CHECK(ids[swap ? 0 : 1] == 2);
  }
  REQUIRE(tracker.tracks().size() == 2);
  CHECK(tracker.tracks()[0].hits == 30);
  CHECK(tracker.main_track() == 2);  // the larger face, present as long
}

TEST_CASE("tracker: a face missed briefly keeps its id; after the memory it gets a new one") {
  TrackerOptions opt;
  opt.memory_seconds = 1.0;
  FaceTracker tracker(opt);
  CHECK(tracker.update({box(50, 50, 40)}, 0.0) == std::vector<int>{1});
  CHECK(tracker.update({}, 0.4).empty());
  CHECK(tracker.update({box(52, 50, 40)}, 0.8) == std::vector<int>{1});
  CHECK(tracker.update({box(54, 50, 40)}, 2.5) == std::vector<int>{2});  // 1.7 s later
  // A face 2.5x the size at the same place is someone else (e.g. nearer the camera).
  CHECK(tracker.update({box(30, 30, 100)}, 2.6) == std::vector<int>{3});
}

TEST_CASE("tracker: fast motion matches by distance; far faces start new tracks") {
  FaceTracker tracker;
  CHECK(tracker.update({box(100, 100, 50)}, 0.0) == std::vector<int>{1});
  // Moved 28 px: IoU 0.28 is below 0.3, but the centre moved 0.56 face sizes (< 0.6).
  CHECK(tracker.update({box(128, 100, 50)}, 0.1) == std::vector<int>{1});
  // The track now predicts motion: 20 px further is matched by overlap with the prediction.
  CHECK(tracker.update({box(148, 100, 50)}, 0.2) == std::vector<int>{1});
  // 0.8 face sizes from the prediction: someone else.
  FaceTracker fresh;
  fresh.update({box(100, 100, 50)}, 0.0);
  CHECK(fresh.update({box(140, 100, 50)}, 0.1) == std::vector<int>{2});
  CHECK(tracker.update({box(400, 300, 50)}, 0.3) == std::vector<int>{2});
}

TEST_CASE("tracker: duplicate boxes of a tracked face are dropped; end_all at a cut") {
  FaceTracker tracker;
  CHECK(tracker.update({box(100, 100, 100)}, 0.0) == std::vector<int>{1});
  // A second, larger box mostly covering the first face: id 0 (duplicate).
  CHECK(tracker.update({box(102, 100, 100), box(120, 110, 140)}, 0.1) == std::vector<int>{1, 0});
  tracker.end_all();
  CHECK(tracker.update({box(102, 100, 100)}, 0.2) == std::vector<int>{2});
  CHECK(tracker.tracks().size() == 2);
}

namespace {
// A descriptor-like pattern: `seed` picks one of several distinct textures.
std::vector<float> look(int seed) {
  Image img(48, 48);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) {
      const uint8_t v = uint8_t(((x * (seed + 1) / 7 + y * (3 - seed % 3) / 5) % 4) * 60);
      img.pixel(x, y)[0] = img.pixel(x, y)[1] = img.pixel(x, y)[2] = v;
    }
  return face_appearance(img, box(0, 0, 48));
}
}  // namespace

TEST_CASE("appearance: the same crop correlates, different patterns do not") {
  CHECK(appearance_similarity(look(1), look(1)) == doctest::Approx(1.0));
  CHECK(appearance_similarity(look(1), look(4)) < 0.6f);
  // Brightness and contrast do not matter; a flat crop has no descriptor.
  Image img(40, 40), brighter(40, 40);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 40; ++x)
      for (int c = 0; c < 3; ++c) {
        img.pixel(x, y)[c] = uint8_t(x * 3 + y);
        brighter.pixel(x, y)[c] = uint8_t(2 * (x * 3 + y) / 3 + 60);
      }
  CHECK(appearance_similarity(face_appearance(img, box(0, 0, 40)),
                              face_appearance(brighter, box(0, 0, 40))) > 0.99f);
  CHECK(face_appearance(Image(20, 20, Rgb{9, 9, 9}), box(0, 0, 20)).empty());
  CHECK(face_appearance(img, box(100, 100, 20)).empty());  // outside the image
}

TEST_CASE("tracker: a fragment after a short gap gets the old id back") {
  TrackerOptions opt;
  opt.memory_seconds = 0.5;
  FaceTracker tracker(opt);
  const std::vector<float> a = look(1);
  for (int i = 0; i < 5; ++i)
    CHECK(tracker.update({box(100.f + 2 * float(i), 100, 80)}, i * 0.1, {a}) ==
          std::vector<int>{1});
  // Hidden for 1.2 s (longer than the memory), back 60 px away (0.75 face sizes: more than
  // the positional reach after the memory), looking the same: re-linked.
  CHECK(tracker.update({box(168, 100, 80)}, 1.6, {a}) == std::vector<int>{1});
  CHECK(tracker.tracks().size() == 1);
  CHECK(tracker.tracks()[0].relinks == 1);
  // A fast head move of a whole face size between two frames, same look: same id.
  CHECK(tracker.update({box(250, 110, 80)}, 1.7, {a}) == std::vector<int>{1});
  // Without descriptors, the same gap starts a new track: position alone is not enough.
  FaceTracker blind(opt);
  blind.update({box(100, 100, 80)}, 0.0);
  CHECK(blind.update({box(168, 100, 80)}, 1.6) == std::vector<int>{2});
}

TEST_CASE("tracker: re-linking never merges different people, far faces or across cuts") {
  TrackerOptions opt;
  opt.memory_seconds = 0.5;
  const std::vector<float> a = look(1), b = look(4);
  {
    // Someone else appears where the lost face was: a different look, a new id.
    FaceTracker tracker(opt);
    tracker.update({box(100, 100, 80)}, 0.0, {a});
    CHECK(tracker.update({box(110, 100, 80)}, 1.0, {b}) == std::vector<int>{2});
  }
  {
    // Two people far apart, the same look (twins, or a uniform crowd): never merged,
    // even when one of them is missing.
    FaceTracker tracker(opt);
    CHECK(tracker.update({box(100, 100, 60), box(500, 100, 60)}, 0.0, {a, a}) ==
          std::vector<int>{1, 2});
    CHECK(tracker.update({box(500, 100, 60)}, 0.1, {a}) == std::vector<int>{2});
    CHECK(tracker.update({box(300, 100, 60)}, 1.0, {a}) == std::vector<int>{3});
  }
  {
    // Both seen in every frame: each keeps its own id although they look alike.
    FaceTracker tracker(opt);
    for (int i = 0; i < 10; ++i)
      CHECK(tracker.update({box(100, 100, 60), box(180, 100, 60)}, i * 0.1, {a, a}) ==
            std::vector<int>{1, 2});
  }
  {
    // A shot cut ends the tracks for good: the same look after the cut is a new track.
    FaceTracker tracker(opt);
    tracker.update({box(100, 100, 80)}, 0.0, {a});
    tracker.end_all();
    CHECK(tracker.update({box(100, 100, 80)}, 0.1, {a}) == std::vector<int>{2});
    // ... and so is a discarded track (noise the caller rejected).
    tracker.update({box(400, 100, 80)}, 0.2, {b});
    tracker.discard(3);
    CHECK(tracker.update({box(400, 100, 80)}, 0.3, {b}) == std::vector<int>{4});
  }
  {
    // Too long a gap: a new id.
    FaceTracker tracker(opt);
    tracker.update({box(100, 100, 80)}, 0.0, {a});
    CHECK(tracker.update({box(100, 100, 80)}, 2.5, {a}) == std::vector<int>{2});
  }
}

TEST_CASE("tracker: a stale track does not take a second box of a tracked face") {
  TrackerOptions opt;
  FaceTracker tracker(opt);
  tracker.update({box(150, 100, 100)}, 0.0);                                   // track 1, then lost
  for (int i = 1; i <= 3; ++i) tracker.update({box(300, 100, 100)}, 0.1 * i);  // track 2
  // Track 2's face now has two boxes; the second is within track 1's reach, but it is a
  // duplicate of the face track 2 continues.
  CHECK(tracker.update({box(290, 100, 100), box(240, 110, 130)}, 0.4) == std::vector<int>{2, 0});
}

TEST_CASE("confirmation: blips never appear, real faces do from their first frame") {
  ConfirmOptions opt;  // 3 of the first 5 analysed frames, best score >= 0.5
  TrackConfirmer c(opt);
  using S = TrackConfirmer::State;
  // Track 1 a real face from frame 1; track 2 a 2-frame false positive in frames 2-3.
  CHECK(c.observe({1}, {0.9f}).empty());
  CHECK(c.state(1) == S::Pending);
  CHECK(c.observe({1, 2}, {0.9f, 0.8f}).empty());
  CHECK(c.observe({1, 2}, {0.9f, 0.8f}).empty());
  CHECK(c.state(1) == S::Confirmed);
  CHECK(c.public_id(1) == 1);
  CHECK(c.observe({1}, {0.9f}).empty());
  CHECK(c.observe({1}, {0.9f}).empty());
  CHECK(c.state(2) == S::Pending);  // its window (frames 2-6) still allows a third sighting
  CHECK(c.observe({1}, {0.9f}) == std::vector<int>{2});
  CHECK(c.state(2) == S::Rejected);
  CHECK(c.public_id(2) == 0);
  // Track 3 found often but never with a convincing score: rejected.
  for (int i = 0; i < 4; ++i) c.observe({1, 3}, {0.9f, 0.45f});
  CHECK(c.state(3) == S::Pending);
  CHECK(c.observe({1, 3}, {0.9f, 0.45f}) == std::vector<int>{3});
  // Track 4 confirmed later gets the next dense id (2), not its tracker id.
  for (int i = 0; i < 3; ++i) c.observe({4}, {0.7f});
  CHECK(c.public_id(4) == 2);
  CHECK(c.confirmed_count() == 2);
  // At the end of the stream, a face present in every frame since it started is kept
  // (a clip shorter than the rule), one that was missed is not.
  c.observe({5, 6}, {0.8f, 0.8f});
  c.observe({5}, {0.8f});
  CHECK(c.finish() == std::vector<int>{6});
  CHECK(c.public_id(5) == 3);
  // A shot cut decides early: a face in both analysed frames of a 1-second shot (--fps 1)
  // is confirmed, one seen once is not; two frames of a 0.1 s flash are not either.
  TrackConfirmer sparse(opt), dense(opt);
  sparse.observe({1}, {0.8f}, 0.0);
  sparse.observe({1, 2}, {0.8f, 0.8f}, 1.0);
  CHECK(sparse.end_shot() == std::vector<int>{2});
  CHECK(sparse.public_id(1) == 1);
  dense.observe({1}, {0.8f}, 0.0);
  dense.observe({1}, {0.8f}, 0.1);
  CHECK(dense.end_shot() == std::vector<int>{1});
  // --confirm-frames 1: every detection at once.
  TrackConfirmer all(ConfirmOptions{1, 1, 0.f});
  all.observe({7}, {0.1f});
  CHECK(all.public_id(7) == 1);
  CHECK_THROWS_AS(TrackConfirmer(ConfirmOptions{3, 2, 0.5f}), Error);
}

TEST_CASE("smoothing: window mean and EMA") {
  ProbabilitySmoother w(parse_smoothing("window:2"));
  CHECK(w.update({1, 0})[0] == doctest::Approx(1.0));
  CHECK(w.update({0, 1})[0] == doctest::Approx(0.5));
  CHECK(w.update({0, 1})[0] == doctest::Approx(0.0));
  ProbabilitySmoother e(parse_smoothing("ema:0.25"));
  CHECK(e.update({1, 0})[0] == doctest::Approx(1.0));
  CHECK(e.update({0, 1})[0] == doctest::Approx(0.75));
  CHECK(e.update({0, 1})[1] == doctest::Approx(0.4375));
  SmoothingOptions def = parse_smoothing("window");
  CHECK(def.window == 4);
  CHECK_THROWS_AS(parse_smoothing("median"), Error);
  CHECK_THROWS_AS(parse_smoothing("window:0"), Error);
  CHECK_THROWS_AS(parse_smoothing("ema:1.5"), Error);
  // Per track: separate histories.
  TrackSmoothers s(parse_smoothing("window:4"));
  s.update(1, {1, 0});
  CHECK(s.update(2, {0, 1})[1] == doctest::Approx(1.0));
}

TEST_CASE("timeline: one entry per track per second, mean over the second") {
  TimelineBuilder tl;
  tl.add(1, 0.2, box(0, 0, 10), {0.8f, 0.2f}, {0.9f, 0.1f});
  tl.add(1, 0.7, box(5, 0, 10), {0.4f, 0.6f}, {0.7f, 0.3f});
  tl.add(2, 0.7, box(50, 0, 10), {0.1f, 0.9f}, {});
  tl.add(1, 1.1, box(9, 0, 10), {0.1f, 0.9f}, {0.2f, 0.8f});
  const std::vector<TimelineEntry> e = tl.entries();
  REQUIRE(e.size() == 3);
  CHECK(e[0].seconds == 0.0);
  CHECK(e[0].track == 1);
  CHECK(e[0].emotion == 0);
  CHECK(e[0].probability == doctest::Approx(0.6));
  CHECK(e[0].detector_score == doctest::Approx(0.9));
  CHECK(e[0].box.x == 0.f);  // the first frame's box
  CHECK(e[0].gender == 0);
  CHECK(e[0].frames == 2);
  CHECK(e[1].track == 2);
  CHECK(e[1].gender == -1);
  CHECK(e[2].seconds == 1.0);
  CHECK(e[2].emotion == 1);
  CHECK(e[2].gender == 1);

  ClipSummaryBuilder sum;
  sum.add(1, {0.8f, 0.2f}, 0, 2);
  sum.add(1, {0.7f, 0.3f}, 0, 2);
  sum.add(1, {0.1f, 0.9f}, 1, 2);
  CHECK(sum.track(1)->dominant() == 0);
  CHECK(sum.track(1)->share(0) == doctest::Approx(2.0 / 3));
  CHECK(sum.track(1)->gender() == 0);
  CHECK(sum.track(1)->median_age() == -1.f);  // no age given
  CHECK(sum.track(2) == nullptr);
}

TEST_CASE("timeline and summary: age is the second's mean and the track's median") {
  TimelineBuilder tl;
  tl.add(1, 0.2, box(0, 0, 10), {1.f}, {}, 30.f);
  tl.add(1, 0.7, box(0, 0, 10), {1.f}, {}, 34.f);
  tl.add(1, 0.9, box(0, 0, 10), {1.f}, {});  // a frame without an age does not count
  tl.add(2, 0.5, box(50, 0, 10), {1.f}, {});
  const std::vector<TimelineEntry> e = tl.entries();
  REQUIRE(e.size() == 2);
  CHECK(e[0].age == doctest::Approx(32.0));
  CHECK(e[1].age == -1.f);

  ClipSummaryBuilder sum;
  for (float age : {30.f, 31.f, 90.f, 29.f, 2.f}) sum.add(1, {1.f}, -1, 0, age);
  CHECK(sum.track(1)->median_age() == 30.f);  // the outliers 90 and 2 do not move it
  sum.add(1, {1.f}, -1, 0, 33.f);
  CHECK(sum.track(1)->median_age() == 30.5f);  // even count: mean of the middle two
  sum.add(2, {1.f}, -1, 0);
  CHECK(sum.track(2)->median_age() == -1.f);
}

TEST_CASE("frame sampling: --every and --fps follow frame timestamps") {
  auto frame = [](int64_t i, double t) {
    VideoFrame f;
    f.index = i;
    f.time = t;
    return f;
  };
  FrameSampler every = FrameSampler::every(3);
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += every.take(frame(i, i / 30.0));
  CHECK(taken == 4);  // 0, 3, 6, 9
  // 2 per second from a 29.97 frames/s stream starting at 0.844 s (as the Hamilton clip).
  FrameSampler fps = FrameSampler::per_second(2);
  std::vector<int64_t> picked;
  for (int i = 0; i < 60; ++i)
    if (fps.take(frame(i, 0.844 + i / 29.97))) picked.push_back(i);
  CHECK(picked == std::vector<int64_t>{0, 5, 20, 35, 50});
  CHECK_THROWS_AS(FrameSampler::every(0), Error);
  CHECK_THROWS_AS(FrameSampler::per_second(0), Error);
}

TEST_CASE("shot cuts: a new scene is a cut, small changes are not") {
  Image dark(64, 48, Rgb{20, 30, 40}), bright(64, 48, Rgb{200, 180, 160});
  Image dark_moved = dark;
  for (int y = 10; y < 20; ++y)
    for (int x = 10; x < 20; ++x) dark_moved.pixel(x, y)[0] = 220;  // 3% of the picture
  ShotCutDetector cuts;
  CHECK_FALSE(cuts.is_cut(dark));  // the first frame is never a cut
  CHECK_FALSE(cuts.is_cut(dark_moved));
  CHECK(cuts.last_distance() < 0.05f);
  CHECK(cuts.is_cut(bright));
  CHECK(cuts.last_distance() > 0.9f);
  ShotCutDetector off(0);
  off.is_cut(dark);
  CHECK_FALSE(off.is_cut(bright));
}

TEST_CASE("ffmpeg stream descriptions") {
  int w = 0, h = 0;
  const std::string out =
      "  Stream #0:0(und): Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/bt709/bt709, "
      "progressive), 640x360 [SAR 1:1 DAR 16:9], q=2-31, 165722 kb/s, 29.97 fps, 29.97 tbn";
  CHECK(detail::parse_size(out, w, h));
  CHECK(w == 640);
  CHECK(h == 360);
  CHECK(detail::parse_rate(out, "fps") == doctest::Approx(29.97));
  CHECK(detail::parse_rate("Stream #0:0: Video: h264, 1920x1080, 1k tbr", "tbr") ==
        doctest::Approx(1000));
  CHECK(detail::parse_rate("Stream #0:0: Video: h264, 1920x1080", "fps") == 0);
  CHECK_FALSE(detail::parse_size("Video: rawvideo (RGB[24] / 0x18424752)", w, h));
  CHECK(detail::parse_clock("00:01:02.50, start: 0.0") == doctest::Approx(62.5));
  CHECK(detail::parse_clock("N/A") < 0);
}

TEST_CASE("detection schedule: every Nth analysed frame, the first, and every shot cut") {
  DetectionSchedule every3(3);
  std::vector<int> keys;
  const std::vector<bool> cut = {false, false, false, false, true, false, false, false, false};
  for (int i = 0; i < int(cut.size()); ++i)
    if (every3.next(cut[std::size_t(i)])) keys.push_back(i);
  // 0 (first), 3, 4 (cut: counting restarts there), 7.
  CHECK(keys == std::vector<int>{0, 3, 4, 7});
  DetectionSchedule all(1);
  for (int i = 0; i < 5; ++i) CHECK(all.next(false));
  CHECK_THROWS_AS(DetectionSchedule(0), Error);
}

TEST_CASE("box interpolation between key frames") {
  Detection a = box(100, 50, 40), b = box(130, 80, 60);
  a.keypoints = {{110, 60}, {130, 60}};
  b.keypoints = {{150, 100}, {170, 100}};
  b.score = 0.7f;
  const std::vector<KeyFace> before = {{1, a}, {2, box(300, 300, 30)}};
  const std::vector<KeyFace> after = {{1, b}, {3, box(500, 100, 30)}};
  // A third of the way: track 1 interpolated, track 2 (gone later) kept, 3 not yet there.
  const std::vector<KeyFace> third = interpolate_faces(before, 0.0, after, 0.3, 0.1);
  REQUIRE(third.size() == 2);
  CHECK(third[0].track == 1);
  CHECK(third[0].box.x == doctest::Approx(110));
  CHECK(third[0].box.y == doctest::Approx(60));
  CHECK(third[0].box.w == doctest::Approx(140.f / 3));
  CHECK(third[0].box.score == doctest::Approx(0.7f));  // the lower of the two
  REQUIRE(third[0].box.keypoints.size() == 2);
  CHECK(third[0].box.keypoints[1].x == doctest::Approx(143.333f));
  CHECK(third[0].box.keypoints[1].y == doctest::Approx(73.333f));
  CHECK_FALSE(third[0].held);
  CHECK(third[1].track == 2);
  CHECK(third[1].box.x == 300);
  CHECK(third[1].held);  // found on one side only: not counted by confirmation
  // Two thirds: track 2 is gone, the newcomer 3 is shown at its box.
  const std::vector<KeyFace> late = interpolate_faces(before, 0.0, after, 0.3, 0.2);
  REQUIRE(late.size() == 2);
  CHECK(late[0].track == 1);
  CHECK(late[0].box.x == doctest::Approx(120));
  CHECK(late[1].track == 3);
  CHECK(late[1].box.x == 500);
  CHECK(late[1].held);
  // Before a shot cut the last key frame's faces stay as they were.
  const std::vector<KeyFace> cut = interpolate_faces(before, 0.0, after, 0.3, 0.2, true);
  REQUIRE(cut.size() == 2);
  CHECK(cut[0].box.x == 100);
  CHECK(cut[1].track == 2);
  CHECK(cut[0].held);
}

TEST_CASE("stage timer: CPU per stage from any thread, and the --timing table") {
  StageTimer timer;
  timer.add_cpu(Stage::Detect, 1.5);
  timer.add_cpu(Stage::Detect, 0.5);
  timer.add_cpu(Stage::Classify, 1.0);
  timer.add_cpu(Stage::Decode, 0.75, 0);  // ffmpeg's process
  {
    StageTimer::Scope s(timer, Stage::Track);  // a scope adds this thread's CPU time
    volatile double x = 0;
    for (int i = 0; i < 100000; ++i) x = x + 1;
  }
  StageTimer::Scope none(nullptr, Stage::Output);  // no timer: nothing happens
  const StageTotals t = timer.totals();
  CHECK(t.cpu_of(Stage::Detect) == doctest::Approx(2.0));
  CHECK(t.calls[std::size_t(Stage::Detect)] == 2);
  CHECK(t.cpu_of(Stage::Classify) == doctest::Approx(1.0));
  CHECK(t.cpu_of(Stage::Track) >= 0.0);
  CHECK(t.calls[std::size_t(Stage::Track)] == 1);
  CHECK(t.cpu_of(Stage::Encode) == 0);
  // 100 frames; mien 4 s + ffmpeg 1 s of CPU; 2 s of wall clock.
  const std::string table = format_timing(t, 100, 2.0, 4.0, 1.0, 2);
  CHECK(table.find("detect") != std::string::npos);
  CHECK(table.find("     2.00      20.00   40.0%") != std::string::npos);  // detect row
  CHECK(table.find("encode") == std::string::npos);                        // a stage that never ran
  CHECK(table.find("total") != std::string::npos);
  CHECK(table.find("50.0 frames/s;") != std::string::npos);            // 100 / 2 s
  CHECK(table.find("40.0 frames/s on 2 cores") != std::string::npos);  // 100 / (5 s / 2)
}

TEST_CASE("video schedules: auto detection and gender/age intervals from the frame rate") {
  VideoOptions o;  // both auto
  // 30 frames/s: detection every 0.1 s = 3 frames, gender/age every 0.2 s = 6 frames.
  CHECK(VideoAnalyzer::detect_every(o, 1.0 / 30) == 3);
  CHECK(VideoAnalyzer::attributes_every(o, 1.0 / 30) == 6);
  // 29.97 frames/s counts as 30; 25 frames/s: 2 and 5; sparse sampling (--fps 2): 1.
  CHECK(VideoAnalyzer::attributes_every(o, 1001.0 / 30000) == 6);
  CHECK(VideoAnalyzer::detect_every(o, 1.0 / 25) == 2);
  CHECK(VideoAnalyzer::attributes_every(o, 1.0 / 25) == 5);
  CHECK(VideoAnalyzer::attributes_every(o, 0.5) == 1);
  CHECK(VideoAnalyzer::attributes_every(o, 0) == 1);  // unknown rate
  o.attributes_every = 4;
  CHECK(VideoAnalyzer::attributes_every(o, 1.0 / 30) == 4);
  o.attributes_every = 0;
  o.attributes_seconds = 0;
  CHECK(VideoAnalyzer::attributes_every(o, 1.0 / 30) == 1);
}

TEST_CASE("track smoothers: current() is the last smoothed value, null before any") {
  TrackSmoothers s;
  CHECK(s.current(1) == nullptr);
  s.update(1, {0.2f, 0.8f});
  REQUIRE(s.current(1) != nullptr);
  CHECK((*s.current(1))[1] == doctest::Approx(0.8f));
  CHECK(s.current(2) == nullptr);
}
