// Writes the fuzz seed corpora tests/fuzz/corpus/{model,image,dataset}/: small files, all
// made here (deterministic). Rebuild them after a format change:
//   g++ -std=c++17 -O1 -Iinclude -I/usr/include/stb tests/fuzz/make_corpus.cpp -o /tmp/mc -pthread
//   /tmp/mc tests/fuzz/corpus
// Inputs that once crashed a target are kept beside the seeds as regressions (not made
// here): image/pnm_huge_width.pnm (stb's PNM header int overflow), image/pgm16_gray_to_rgb.pnm
// (stb's 16-bit gray PNM to RGB heap overflow), image/png_empty_idat_cut.png (a cut-off
// zero-length IDAT: memcpy(NULL, p, 0)), image/jpeg_fill_before_soi.jpg (0xFF fill before
// the SOI hid a bad Huffman table from mien's check).
// dataset seeds start with the reader byte of fuzz_main.cpp (0 image,label CSV, 1 FER-2013,
// 2 FER+ votes, 3 auto-detected).
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mien/mien.hpp"
#include "mien/vision/image.hpp"

namespace {

std::string root;
std::mt19937 rng(11);

std::vector<float> values(std::size_t n, float scale = 0.5f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void save(const std::string& sub, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::ofstream(root + "/" + sub + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
void save(const std::string& sub, const std::string& name, const std::string& text) {
  save(sub, name, std::vector<uint8_t>(text.begin(), text.end()));
}

void models() {
  using namespace mien;
  {
    GraphBuilder b;
    std::string x = b.input("x", 8, 8, 3);
    const std::string c = b.conv2d(x, 3, 3, 3, 4, values(3 * 3 * 3 * 4), values(4),
                                   conv(2, Padding::same(), Activation::relu6()));
    const std::string dw = b.depthwise_conv2d(c, 3, 3, 4, values(9 * 4), values(4),
                                              conv(1, Padding::same(), Activation::relu()));
    std::string a = b.add(c, dw);
    a = b.batch_norm(a, values(4), values(4));
    const std::string mp = b.max_pool(a, 2, 2);
    const std::string up = b.upsample_nearest(mp, 2);
    std::string cat = b.concat({up, a});
    cat = b.pad(cat, 1, 1, 1, 1);
    const std::string ap = b.avg_pool(cat, 3, 1);
    const std::string gap = b.global_avg_pool(ap);
    const std::string out = b.softmax(b.dense(b.flatten(gap), 8, 3, values(8 * 3), values(3)));
    b.metadata().set("model.labels", std::vector<std::string>{"a", "b", "c"});
    GraphDef g = b.build({out});
    const std::vector<uint8_t> bytes = serialize_mien(graph_to_file(g));
    save("model", "mixed.mien", bytes);
  }
  {
    GraphBuilder b;
    std::string x = b.input("x", -1, -1, 2);
    x = b.squeeze_excite(x, 2, 1, values(2), values(1), values(2), values(2));
    x = b.mul(x, x);
    x = b.activation(x, Activation::of(ActKind::Sigmoid));
    x = b.reshape(x, 1, 1, -1);
    GraphDef g = b.build({x});
    // A test vector, so that the loader's test.* keys are in the corpus too.
    TestVector tv;
    tv.inputs.emplace("x", Tensor(Shape(1, 2, 2, 2)));
    tv.outputs.emplace(x, Tensor(Shape(1, 1, 1, 8)));
    g.tests.push_back(std::move(tv));
    save("model", "dynamic.mien", serialize_mien(graph_to_file(g)));
  }
}

void put_u32be(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

void images() {
  using namespace mien;
  Image img(6, 5);
  for (std::size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t(i * 37);
  for (const char* f : {"png", "jpg", "bmp", "tga"})
    save("image", std::string("small.") + f, encode_image(img, f));
  // The same PNG with a zero-length IDAT first (stb's memcpy(NULL, p, 0)).
  const std::vector<uint8_t> png = encode_image(img, "png");
  std::vector<uint8_t> empty_idat(png.begin(), png.begin() + 33);  // signature + IHDR
  put_u32be(empty_idat, 0);
  for (char c : std::string("IDAT")) empty_idat.push_back(uint8_t(c));
  put_u32be(empty_idat, 0x35AF061E);
  empty_idat.insert(empty_idat.end(), png.begin() + 33, png.end());
  save("image", "empty_idat.png", empty_idat);
  // GIF: a 2x2 frame on a 16x16 canvas with a 2-colour table.
  save("image", "canvas.gif",
       std::vector<uint8_t>{'G', 'I', 'F', '8', '9', 'a', 16,  0,    16,   0, 0x80, 0,
                            0,   0,   0,   0,   255, 255, 255, 0x2C, 0,    0, 0,    0,
                            2,   0,   2,   0,   0,   2,   2,   0x44, 0x01, 0, ';'});
  save("image", "gray.pgm",
       std::string("P5\n3 2\n255\n") + std::string("\x10\x20\x30\x40\x50\x60"));
  save("image", "rgb.ppm", std::string("P3\n1 1\n255\n10 20 30\n"));
}

void datasets() {
  save("dataset", "image_label.csv",
       std::string(1, '\0') + "image,label\na.png,happy\n\"b,\n c.png\",Sad\n");
  std::string px;
  for (int i = 0; i < 16; ++i) px += (i ? " " : "") + std::to_string(i * 13 % 256);
  save(
      "dataset", "fer2013.csv",
      std::string(1, '\1') + "emotion,pixels,Usage\n3," + px + ",PublicTest\n0,1 2 3 4,Training\n");
  save("dataset", "ferplus_new.csv",
       std::string(1, '\2') +
           "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
           "unknown,NF\nTraining,fer0000000.png,4,0,0,1,3,2,0,0,0,0\n");
  save("dataset", "ferplus_label.csv",
       std::string(1, '\2') + "fer0000000.png,\"(0, 0, 48, 48)\",0,10,0,0,0,0,0,0,0,0\n");
  save("dataset", "auto.csv", std::string(1, '\3') + "emotion,pixels\n6,0 0 0 0\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUT_DIR\n");
    return 2;
  }
  root = argv[1];
  for (const char* sub : {"model", "image", "dataset"})
    std::system(("mkdir -p '" + root + "/" + sub + "'").c_str());
  try {
    models();
    images();
    datasets();
  } catch (const mien::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
