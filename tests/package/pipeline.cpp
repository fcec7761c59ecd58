// The installed package runs its defaults: Pipeline::with_default_models() on a photo,
// with the models compiled in by mien_embed_default_models (exit 1 without a face).
#include <cstdio>
#include <mien/vision/pipeline.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  try {
    const mien::Pipeline pipeline = mien::Pipeline::with_default_models();
    const auto faces = pipeline.analyze(mien::load_image(argv[1]));
    for (const mien::FaceResult& face : faces)
      std::printf("face at %.0f,%.0f: %s\n", face.face.x, face.face.y,
                  pipeline.emotion_labels()[std::size_t(face.emotion)].c_str());
    return faces.empty() ? 1 : 0;
  } catch (const mien::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
