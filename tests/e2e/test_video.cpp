// `mien video` end to end on short videos made here from the fixture photos with ffmpeg
// (nothing large is committed): stable track ids, a timeline covering every second, the
// still photo's labels, sampling, drawing, stdin, and clear errors for broken input.
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli_util.hpp"
#include "mien/video/frames.hpp"
#include "mien/vision/image.hpp"
#include "mien/vision/pipeline.hpp"
#include "test_util.hpp"

using namespace mien;
using test::mien_cli;
using test::quote;
using test::run_command;
using test::source_path;

namespace {

using mien::test::have_ffmpeg;
using mien::test::read_text;

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_text(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    std::string x;
    while (std::getline(ls, x, ',')) f.push_back(x);
    rows.push_back(f);
  }
  return rows;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Runs ffmpeg quietly; REQUIREs success.
void ffmpeg(const std::string& args) {
  const auto r = run_command("ffmpeg", "-v error -y " + args);
  INFO(r.out);
  REQUIRE(r.status == 0);
}

// A lossless 3-second, 10 frames/s video of one photo (decoded by mien and saved as PNG
// first, so the video's pixels are exactly the still image's).
struct StillVideo {
  std::string dir, png, video;
};
StillVideo make_still_video(const std::string& name, const std::string& photo) {
  StillVideo v;
  v.dir = test::temp_dir(name);
  v.png = v.dir + "/still.png";
  v.video = v.dir + "/still.mkv";
  save_image(load_image(source_path(photo)), v.png);
  ffmpeg("-loop 1 -framerate 10 -t 3 -i " + quote(v.png) + " -c:v ffv1 -pix_fmt bgr0 " +
         quote(v.video));
  return v;
}

// faceapi_sample5.jpg panned at 30 frames/s for `seconds` (H.264, 560x400, the faces moving
// about 1 px a frame), in `dir`; returns the video's path.
std::string make_pan_video(const std::string& dir, int seconds) {
  const std::string png = dir + "/scene.png", video = dir + "/pan.mp4";
  save_image(load_image(source_path("tests/data/scenes/faceapi_sample5.jpg")), png);
  ffmpeg("-loop 1 -framerate 30 -t " + std::to_string(seconds) + " -i " + quote(png) +
         " -vf crop=560:400:x='min(t*27\\,80)':y=40 -c:v libx264 -pix_fmt yuv420p " + quote(video));
  return video;
}

// `mien video --timing OPTS --csv DIR/CSV VIDEO`; REQUIREs success, returns the output.
std::string run_video_csv(const std::string& opts, const std::string& dir, const std::string& csv,
                          const std::string& video) {
  const auto r =
      mien_cli("video --timing " + opts + " --csv " + quote(dir + "/" + csv) + " " + quote(video));
  INFO(r.out);
  REQUIRE(r.status == 0);
  return r.out;
}

}  // namespace

TEST_CASE("video: a still scene gives stable tracks, full timeline, the photo's labels") {
  if (!have_ffmpeg()) {
    MESSAGE("ffmpeg not installed: video tests skipped");
    return;
  }
  const StillVideo v = make_still_video("video_still", "tests/data/scenes/faceapi_sample1.jpg");
  const std::string json = v.dir + "/timeline.json", csv = v.dir + "/frames.csv";
  const auto r = mien_cli("video --threads 2 --json " + quote(json) + " --csv " + quote(csv) + " " +
                          quote(v.video));
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("30 frames (30 analysed)") != std::string::npos);

  // The still photo through the image pipeline.
  const Pipeline pipeline = Pipeline::with_default_models();
  const std::vector<FaceResult> still = pipeline.analyze(load_image(v.png));
  REQUIRE(still.size() == 3);

  // CSV: every frame has the 3 faces with track ids 1..3 for the whole clip, and each
  // face's probabilities equal the photo's face at the same box.
  const auto rows = read_csv(csv);
  REQUIRE(rows.size() == 1 + 30 * 3);
  const auto& header = rows[0];
  CHECK(header[0] == "frame");
  CHECK(header[8] == "p_" + pipeline.emotion_labels()[0]);
  std::map<int, std::set<int>> frames_of_track;
  std::map<int, int> label_of_track;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& f = rows[i];
    const int frame = std::stoi(f[0]), track = std::stoi(f[2]);
    frames_of_track[track].insert(frame);
    const float x = std::stof(f[3]), y = std::stof(f[4]);
    const FaceResult* match = nullptr;
    for (const FaceResult& s : still)
      if (std::abs(s.face.x - x) < 0.1f && std::abs(s.face.y - y) < 0.1f) match = &s;
    REQUIRE(match != nullptr);
    for (std::size_t k = 0; k < match->emotion_scores.size(); ++k)
      CHECK(std::stof(f[8 + k]) == doctest::Approx(match->emotion_scores[k]).epsilon(1e-4));
    const std::string smoothed = f[8 + match->emotion_scores.size()];
    CHECK(smoothed == pipeline.emotion_labels()[std::size_t(match->emotion)]);
    if (label_of_track.count(track)) CHECK(label_of_track[track] == match->emotion);
    label_of_track[track] = match->emotion;
  }
  REQUIRE(frames_of_track.size() == 3);
  for (int id = 1; id <= 3; ++id) CHECK(frames_of_track[id].size() == 30);

  // Timeline: one entry per track for each of the 3 seconds, with the photo's label.
  const std::string tl = read_text(json);
  CHECK(count(tl, "\"type\":\"emotion\"") == 9);
  for (int s = 0; s < 3; ++s) CHECK(count(tl, "\"seconds\":" + std::to_string(s) + ".0,") == 3);
  for (const auto& kv : label_of_track) {
    const std::string cls = pipeline.emotion_labels()[std::size_t(kv.second)];
    CHECK(count(tl, "\"class\":\"" + cls + "\",\"seconds\"") >= 3);
  }
  CHECK(count(tl, "\"gender\":") == 9);
  // The emotion's probability and the detector's score, each under its own name.
  CHECK(count(tl, "\"probability\":") == 9);
  CHECK(count(tl, "\"detector_score\":") == 9);
  CHECK(count(tl, "\"score\":") == 0);

  // The library example prints the same timeline.
  const auto ex =
      run_command(std::string(MIEN_EXAMPLES_DIR) + "/example_video_timeline", quote(v.video));
  INFO(ex.out);
  CHECK(ex.status == 0);
  CHECK(count(ex.out, "  track ") == 9);
  CHECK(ex.out.find("main face: track") != std::string::npos);
}

TEST_CASE("video: moving faces in H.264 keep their ids; --draw keeps every frame") {
  if (!have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_pan");
  const std::string png = dir + "/scene.png", video = dir + "/pan.mp4";
  save_image(load_image(source_path("tests/data/scenes/faceapi_sample5.jpg")), png);
  // A camera pan: the 560x400 window moves 27 px/s across the 5-face photo.
  ffmpeg("-loop 1 -framerate 10 -t 3 -i " + quote(png) +
         " -vf crop=560:400:x='min(t*27\\,80)':y=40 -c:v libx264 -pix_fmt yuv420p " + quote(video));
  const std::string csv = dir + "/frames.csv", drawn = dir + "/drawn.mp4";
  const auto r = mien_cli("video --threads 1 --csv " + quote(csv) + " --draw " + quote(drawn) +
                          " --summary " + quote(dir + "/summary.csv") + " " + quote(video));
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto rows = read_csv(csv);
  std::map<int, int> hits;
  for (std::size_t i = 1; i < rows.size(); ++i) hits[std::stoi(rows[i][2])] += 1;
  CHECK(hits.size() == 5);
  for (const auto& kv : hits) CHECK(kv.second == 30);
  CHECK(r.out.find("5 tracks") != std::string::npos);

  const auto probe = run_command("ffprobe",
                                 "-v error -count_frames -select_streams v:0 "
                                 "-show_entries stream=nb_read_frames,width,height "
                                 "-of csv=p=0 " +
                                     quote(drawn));
  CHECK(probe.status == 0);
  CHECK(probe.out.find("560,400,30") != std::string::npos);

  const std::string summary = read_text(dir + "/summary.csv");
  CHECK(summary.rfind("file,label,decoding_errors\npan.mp4,", 0) == 0);
  CHECK(count(summary, "\n") == 2);
}

TEST_CASE("video: faces seen in 2 frames only are not tracks unless --confirm-frames 1") {
  if (!have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_blip");
  const std::string png = dir + "/scene.png", video = dir + "/blip.mkv";
  save_image(load_image(source_path("tests/data/scenes/faceapi_sample1.jpg")), png);
  // 22 frames, black except frames 10 and 11 (the 3-face photo): a 2-frame blip.
  ffmpeg("-loop 1 -framerate 10 -t 2.2 -i " + quote(png) +
         " -vf drawbox=c=black:t=fill:enable='not(between(n\\,10\\,11))' -c:v ffv1 " +
         quote(video));
  const auto r =
      mien_cli("video --csv " + quote(dir + "/a.csv") + " --json " + quote(dir + "/a.json") +
               " --draw " + quote(dir + "/a.mp4") + " " + quote(video));
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("22 frames (22 analysed)") != std::string::npos);
  CHECK(r.out.find(" 0 tracks") != std::string::npos);
  CHECK(r.out.find("no faces found") != std::string::npos);
  CHECK(read_csv(dir + "/a.csv").size() == 1);  // the header only
  CHECK(count(read_text(dir + "/a.json"), "\"type\":\"emotion\"") == 0);
  // Every frame is still written to the drawn video, although delivery was held back.
  const auto probe = run_command("ffprobe",
                                 "-v error -count_frames -select_streams v:0 "
                                 "-show_entries stream=nb_read_frames -of csv=p=0 " +
                                     quote(dir + "/a.mp4"));
  CHECK(probe.out.find("22") != std::string::npos);

  const auto all =
      mien_cli("video --confirm-frames 1 --csv " + quote(dir + "/b.csv") + " " + quote(video));
  INFO(all.out);
  CHECK(all.status == 0);
  CHECK(all.out.find(" 3 tracks") != std::string::npos);
  CHECK(read_csv(dir + "/b.csv").size() == 1 + 2 * 3);
  CHECK(mien_cli("video --confirm-frames 4 --confirm-window 3 " + quote(video)).status == 2);
  CHECK(mien_cli("video --confirm-frames 0 " + quote(video)).status == 2);
}

TEST_CASE("video: a face hidden for longer than the memory is re-linked to its old id") {
  if (!have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_relink");
  const std::string png = dir + "/scene.png", video = dir + "/hidden.mp4";
  const Image photo = load_image(source_path("tests/data/scenes/faceapi_sample1.jpg"));
  save_image(photo, png);
  const std::vector<FaceResult> faces = Pipeline::with_default_models().analyze(photo);
  REQUIRE(faces.size() == 3);
  // 4 s at 10 frames/s; frames 10-25 (1.6 s, longer than the 1 s memory) cover the first
  // face with a gray patch.
  const Detection& f = faces[0].face;
  const std::string patch =
      "x=" + std::to_string(int(f.x) - 15) + ":y=" + std::to_string(int(f.y) - 15) +
      ":w=" + std::to_string(int(f.w) + 30) + ":h=" + std::to_string(int(f.h) + 30);
  ffmpeg("-loop 1 -framerate 10 -t 4 -i " + quote(png) + " -vf crop=640:426:0:0,drawbox=" + patch +
         ":c=gray:t=fill:enable='between(n\\,10\\,25)' -c:v libx264 -pix_fmt yuv420p " +
         quote(video));
  const auto r = mien_cli("video --csv " + quote(dir + "/a.csv") + " " + quote(video));
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("0 shot cuts") != std::string::npos);
  CHECK(r.out.find(" 3 tracks") != std::string::npos);
  std::map<int, int> hits;
  const auto rows = read_csv(dir + "/a.csv");
  for (std::size_t i = 1; i < rows.size(); ++i) hits[std::stoi(rows[i][2])] += 1;
  CHECK(hits.size() == 3);
  // Without re-linking the returning face is a fourth track.
  const auto off = mien_cli("video --relink 0 " + quote(video));
  CHECK(off.out.find(" 4 tracks") != std::string::npos);
}

TEST_CASE("video: sampling with --fps and --every, and standard input") {
  if (!have_ffmpeg()) return;
  const StillVideo v = make_still_video("video_sampling", "tests/data/scenes/astronaut.jpg");
  const auto fps =
      mien_cli("video --fps 2 --csv " + quote(v.dir + "/a.csv") + " " + quote(v.video));
  CHECK(fps.status == 0);
  CHECK(fps.out.find("30 frames (6 analysed)") != std::string::npos);
  CHECK(read_csv(v.dir + "/a.csv").size() == 1 + 6);
  const auto every = mien_cli("video --every 7 " + quote(v.video));
  CHECK(every.out.find("30 frames (5 analysed)") != std::string::npos);
  const auto piped =
      mien_cli("video --json " + quote(v.dir + "/s.json") + " - < " + quote(v.video));
  INFO(piped.out);
  CHECK(piped.status == 0);
  CHECK(piped.out.find("30 frames (30 analysed)") != std::string::npos);
  CHECK(count(read_text(v.dir + "/s.json"), "\"type\":\"emotion\"") == 3);

  // Sparse sampling: more frames between two key frames than the analyzer keeps in flight
  // (10 at --threads 2, 6 at --threads 1) used to leave the reader waiting for frames to
  // be freed and those frames waiting for the next key frame, forever. SIGKILL after 120 s
  // (mien's SIGTERM handling waits for the pipeline) turns that into a failure.
  const std::pair<const char*, const char*> sparse[] = {
      {"--threads 2 --every 12", "30 frames (3 analysed)"},
      {"--threads 2 --detect-every 3 --every 5", "30 frames (6 analysed)"},
      {"--threads 1 --fps 0.5", "30 frames (2 analysed)"}};
  for (const auto& [opts, expect] : sparse) {
    CAPTURE(opts);
    const auto r = test::run_command(
        "timeout", "-s KILL 120 " + quote(MIEN_CLI_PATH) + " video " + opts + " " + quote(v.video));
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(r.out.find(expect) != std::string::npos);
  }
}

TEST_CASE("video: broken, missing and non-video input give exit 1 and a message") {
  if (!have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_errors");
  const std::string png = dir + "/scene.png";
  save_image(load_image(source_path("tests/data/scenes/astronaut.jpg")), png);
  // 6 s with a keyframe every 5 frames, then cut at 40%: ffmpeg decodes the first part
  // and then the stream breaks.
  const std::string full = dir + "/full.mp4";
  ffmpeg("-loop 1 -framerate 10 -t 6 -i " + quote(png) +
         " -vf scale=320:240 -c:v libx264 -g 5 -pix_fmt yuv420p -movflags +faststart " +
         quote(full));
  const std::string bytes = read_text(full);
  std::ofstream(dir + "/cut.mp4", std::ios::binary) << bytes.substr(0, bytes.size() * 4 / 10);
  std::ofstream(dir + "/moov_lost.mp4", std::ios::binary) << bytes.substr(bytes.size() / 2);
  std::ofstream(dir + "/text.mp4") << "this is not a video\n";

  const auto cut = mien_cli("video --csv " + quote(dir + "/cut.csv") + " --json " +
                            quote(dir + "/cut.json") + " " + quote(dir + "/cut.mp4"));
  INFO(cut.out);
  CHECK(cut.status == 1);
  CHECK(cut.out.find("cut.mp4") != std::string::npos);
  // The frames decoded before the break are in the outputs.
  const auto rows = read_csv(dir + "/cut.csv");
  CHECK(rows.size() > 5);
  CHECK(count(read_text(dir + "/cut.json"), "\"type\":\"emotion\"") >= 1);

  for (const char* bad : {"moov_lost.mp4", "text.mp4", "missing.mp4"}) {
    CAPTURE(bad);
    const auto r = mien_cli("video " + quote(dir + "/" + bad));
    CHECK(r.status == 1);
    CHECK(r.out.find(bad) != std::string::npos);
    CHECK(r.out.find("error") != std::string::npos);
  }
  const auto folder = mien_cli("video " + quote(dir));
  CHECK(folder.status == 1);
  const auto no_ffmpeg = mien_cli("video --ffmpeg /nonexistent/ffmpeg " + quote(full));
  CHECK(no_ffmpeg.status == 1);
  CHECK(no_ffmpeg.out.find("not found") != std::string::npos);
  // Several videos: the good one is still processed and the exit status reports the bad.
  const auto mixed = mien_cli("video --summary " + quote(dir + "/sum.csv") + " " +
                              quote(dir + "/text.mp4") + " " + quote(full));
  CHECK(mixed.status == 1);
  CHECK(read_text(dir + "/sum.csv").find("full.mp4,") != std::string::npos);

  // The encoder fails at once (no such folder): exit 1 and a message, and the decoder that
  // is still writing frames is stopped instead of blocking on its full pipe.
  const auto bad_draw =
      mien_cli("video --draw " + quote(dir + "/no/such/folder/out.mp4") + " " + quote(full));
  CHECK(bad_draw.status == 1);
  CHECK(bad_draw.out.find("out.mp4") != std::string::npos);

  CHECK(mien_cli("video").status == 2);
  CHECK(mien_cli("video --fps 0 " + quote(full)).status == 2);
  CHECK(mien_cli("video --fps 2 --every 3 " + quote(full)).status == 2);
  CHECK(mien_cli("video --smoothing median " + quote(full)).status == 2);
  CHECK(mien_cli("video --help").status == 0);
}

TEST_CASE("video: VideoReader reports size, rate, duration and timestamps") {
  if (!have_ffmpeg()) return;
  const StillVideo v = make_still_video("video_reader", "tests/data/scenes/astronaut.jpg");
  VideoReader reader(v.video);
  const Image still = load_image(v.png);
  CHECK(reader.info().width == still.width);
  CHECK(reader.info().height == still.height);
  CHECK(reader.info().fps == doctest::Approx(10));
  CHECK(reader.info().duration == doctest::Approx(3).epsilon(0.05));
  VideoFrame f;
  int n = 0;
  while (reader.read(f)) {
    CHECK(f.index == n);
    CHECK(f.time == doctest::Approx(n * 0.1).epsilon(1e-3));
    if (n == 17) CHECK(f.image.rgb == still.rgb);  // lossless: the exact pixels
    ++n;
  }
  CHECK(n == 30);
  CHECK_FALSE(reader.read(f));
  CHECK_THROWS_AS(VideoReader(v.dir + "/nothing.mp4"), Error);
}

TEST_CASE("video: --detect-every interpolates between detections, the same at any thread count") {
  if (!have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_schedule");
  // The pan of the test above at 30 frames/s: 90 frames.
  const std::string video = make_pan_video(dir, 3);
  auto run = [&](const std::string& opts, const std::string& csv) {
    return run_video_csv(opts, dir, csv, video);
  };
  const std::string every = run("--threads 1 --detect-every 1", "every.csv");
  CHECK(every.find("detector on 90 of 90 analysed frames") != std::string::npos);
  // auto: 560x400 is detected without tiles, so on every frame.
  const std::string automatic = run("--threads 2", "auto.csv");
  CHECK(automatic.find("detector on 90 of 90 analysed frames") != std::string::npos);
  CHECK(read_text(dir + "/auto.csv") == read_text(dir + "/every.csv"));
  // Every 3rd frame (0, 3, ... 87) and the last one.
  const std::string one = run("--threads 1 --detect-every 3", "three1.csv");
  CHECK(one.find("detector on 31 of 90 analysed frames") != std::string::npos);
  CHECK(one.find("classify") != std::string::npos);
  CHECK(one.find("frames/s on 1 core if CPU-bound") != std::string::npos);
  run("--threads 3 --detect-every 3", "three3.csv");
  run("--threads 2 --detect-every 3", "three2.csv");
  // The schedule and the tracking run in frame order, whatever the batches: identical rows.
  CHECK(read_text(dir + "/three1.csv") == read_text(dir + "/three3.csv"));
  CHECK(read_text(dir + "/three1.csv") == read_text(dir + "/three2.csv"));

  // Every frame has the 5 faces, and each interpolated box lies on the box the detector
  // finds when it runs on that frame.
  const auto ref = read_csv(dir + "/every.csv"), got = read_csv(dir + "/three1.csv");
  REQUIRE(ref.size() == 1 + 90 * 5);
  REQUIRE(got.size() == ref.size());
  std::map<std::pair<int, int>, Detection> ref_boxes;
  auto box_of = [](const std::vector<std::string>& f) {
    Detection d;
    d.x = std::stof(f[3]);
    d.y = std::stof(f[4]);
    d.w = std::stof(f[5]);
    d.h = std::stof(f[6]);
    return d;
  };
  for (std::size_t i = 1; i < ref.size(); ++i)
    ref_boxes[{std::stoi(ref[i][0]), std::stoi(ref[i][2])}] = box_of(ref[i]);
  float worst = 1.f;
  for (std::size_t i = 1; i < got.size(); ++i) {
    const int frame = std::stoi(got[i][0]);
    float best = 0.f;
    for (const auto& kv : ref_boxes)
      if (kv.first.first == frame) best = std::max(best, iou(kv.second, box_of(got[i])));
    worst = std::min(worst, best);
  }
  CHECK(worst > 0.8f);
  CHECK(mien_cli("video --detect-every 0 " + quote(video)).status == 2);
  CHECK(mien_cli("video --detect-size -1 " + quote(video)).status == 2);
}

TEST_CASE("video: --attributes-every runs gender and age on every Nth frame of a track") {
  if (!have_ffmpeg()) return;
  const std::string dir = test::temp_dir("video_attributes");
  const std::string video = make_pan_video(dir, 2);
  auto run = [&](const std::string& opts, const std::string& csv) {
    return run_video_csv(opts, dir, csv, video);
  };
  // auto: 560x400 is not HD, so every frame, as --attributes-every 1.
  CHECK(run("--threads 2", "auto.csv").find("gender/age every 1 of a track's frames") !=
        std::string::npos);
  run("--threads 1 --attributes-every 1", "every.csv");
  CHECK(read_text(dir + "/auto.csv") == read_text(dir + "/every.csv"));
  CHECK(run("--threads 1 --attributes-every 4", "four1.csv")
            .find("gender/age every 4 of a track's frames") != std::string::npos);
  run("--threads 2 --attributes-every 4", "four2.csv");
  // Decided in frame order: the same rows at any thread count.
  CHECK(read_text(dir + "/four1.csv") == read_text(dir + "/four2.csv"));

  const auto ref = read_csv(dir + "/every.csv"), got = read_csv(dir + "/four1.csv");
  REQUIRE(ref.size() == 1 + 60 * 5);
  REQUIRE(got.size() == ref.size());
  REQUIRE(got[0].size() == 19);     // ..., smoothed_emotion, gender, gender_score, age
  std::map<std::string, int> seen;  // track -> its rows so far
  int measured = 0;
  for (std::size_t i = 1; i < got.size(); ++i) {
    INFO("row " << i);
    // Emotion and boxes as with gender and age on every frame: the first 16 columns.
    REQUIRE(ref[i].size() == 19);
    CHECK(std::vector<std::string>(got[i].begin(), got[i].begin() + 16) ==
          std::vector<std::string>(ref[i].begin(), ref[i].begin() + 16));
    // The track's 1st, 5th, 9th... frame has its own gender and age; the others none
    // (the CSV row then ends in ",,," and splits into 18 fields).
    const bool due = seen[got[i][2]]++ % 4 == 0;
    const bool has = got[i].size() == 19 && !got[i][16].empty() && !got[i][18].empty();
    CHECK(has == due);
    if (due) {
      ++measured;
      CHECK(got[i][16] == ref[i][16]);
      CHECK(got[i][18] == ref[i][18]);
    } else {
      CHECK(got[i].size() == 18);
    }
  }
  CHECK(measured == 5 * 15);
  CHECK(mien_cli("video --attributes-every 0 " + quote(video)).status == 2);
  CHECK(mien_cli("video --attributes-every x " + quote(video)).status == 2);
}
