// Fashion-MNIST from the Debian package dataset-fashion-mnist (docs/method.md §6): the four IDX files
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, read with zlib. The loader knows nothing about any
// model: it gives the pixels as uint8 (47 MB for the training set, a quarter of float32) and the labels;
// objectives convert minibatches on the fly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ringmaster/data_fingerprint.hpp"

namespace ringmaster {

struct LabelledImages {
  std::size_t count = 0;              // images
  std::size_t pixels_per_image = 0;   // rows · cols = 784
  std::vector<std::uint8_t> pixels;   // (count, pixels_per_image) row-major, 0 = background
  std::vector<std::uint8_t> labels;   // (count) classes 0..9

  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * pixels_per_image; }
};

struct FashionMnist {
  LabelledImages train;  // 60,000
  LabelledImages test;   // 10,000
  // The four files as read (data_fingerprint.hpp): names, decompressed sizes and CRC-32s, labels before
  // images, training set before test set.
  DataFingerprint fingerprint;
};

inline constexpr int kFashionMnistSide = 28;
inline constexpr int kFashionMnistClasses = 10;
inline constexpr std::size_t kFashionMnistTrain = 60000;
inline constexpr std::size_t kFashionMnistTest = 10000;
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Reads the four files under `dir`, each under the reader policy (input_file.hpp). Every problem with a
// file (missing, not a regular file, larger than its content can take compressed, not gzip, a truncated
// or corrupt gzip stream, anything after the gzip member, a wrong magic number, dimensions or count,
// images and labels that disagree, short or trailing data, a label outside 0..9) is an Error naming the
// file and the Debian package.
FashionMnist load_fashion_mnist(const std::string& dir);

// The most images load_labelled_images reads: 784 MB of pixels, far beyond Fashion-MNIST's 70,000.
inline constexpr std::size_t kMaxLabelledImages = 1000000;

// One gzip'ed IDX images file and its labels file of 28×28 images, as many as the labels file declares (1 to
// kMaxLabelledImages, checked before anything is allocated), read and checked as load_fashion_mnist reads its
// files (ringmaster eval --data --labels). Errors name the file.
LabelledImages load_labelled_images(const std::string& images_path, const std::string& labels_path);

}  // namespace ringmaster
