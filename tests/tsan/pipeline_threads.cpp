// One Pipeline shared by 4 threads, for ThreadSanitizer (not part of ctest: a TSan build
// of the headers takes minutes and runs ~10x slower). Each thread analyses the fixture
// photos with its own detect.threads, so the shared session pools, the classifier worker
// lists and mien's thread pool are all used concurrently; results must equal a
// single-threaded run. Build and run in a scratch folder:
//   g++ -std=c++17 -O1 -g -fsanitize=thread -pthread -Iinclude -I/usr/include/stb \
//       tests/tsan/pipeline_threads.cpp -o /tmp/mien_tsan && /tmp/mien_tsan .
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "mien/vision/pipeline.hpp"

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  const mien::Pipeline pipeline(mien::Pipeline::default_models(root + "/weights"));
  const std::vector<std::string> names = {"astronaut.jpg", "faceapi_sample1.jpg"};
  std::vector<mien::Image> images;
  for (const std::string& n : names)
    images.push_back(mien::load_image(root + "/tests/data/scenes/" + n));
  std::vector<std::vector<mien::FaceResult>> expected;
  for (const mien::Image& img : images) expected.push_back(pipeline.analyze(img));

  int mismatches = 0;
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      mien::PipelineOptions opt;
      opt.detect.threads = 1 + t % 2;  // half of them also use the thread pool
      opt.flip_tta = t == 3;
      for (int round = 0; round < 3; ++round)
        for (std::size_t i = 0; i < images.size(); ++i) {
          const auto faces = pipeline.analyze(images[i], opt);
          if (opt.flip_tta) continue;
          if (faces.size() != expected[i].size()) {
            ++bad[std::size_t(t)];
            continue;
          }
          for (std::size_t f = 0; f < faces.size(); ++f)
            if (faces[f].emotion_scores != expected[i][f].emotion_scores) ++bad[std::size_t(t)];
        }
    });
  for (std::thread& th : threads) th.join();
  for (int b : bad) mismatches += b;
  std::printf("4 threads x 3 rounds x %zu images: %d mismatches\n", images.size(), mismatches);
  return mismatches ? 1 : 0;
}
