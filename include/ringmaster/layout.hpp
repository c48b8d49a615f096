// Parameter layout: named blocks carved out of one flat float32 buffer (llm.c's size table).
// A block is a row-major rows×cols matrix; a vector is a block with rows == 1 or cols == 1.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ringmaster/lmo.hpp"

namespace ringmaster {

struct Block {
  std::string name;
  int rows = 0;
  int cols = 0;
  Geometry geometry = Geometry::none;
  std::size_t offset = 0;  // first float of the block in the flat buffer

  std::size_t size() const { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }
  bool is_matrix() const { return rows > 1 && cols > 1; }
};

class ParamLayout {
 public:
  // Appends a block after the previous ones; returns its index.
  std::size_t add(std::string name, int rows, int cols, Geometry geometry);

  const std::vector<Block>& blocks() const { return blocks_; }
  std::size_t size() const { return size_; }  // total floats

  // Views of one block inside a flat buffer laid out by this layout.
  std::span<float> view(std::span<float> flat, const Block& b) const { return flat.subspan(b.offset, b.size()); }
  std::span<const float> view(std::span<const float> flat, const Block& b) const {
    return flat.subspan(b.offset, b.size());
  }

 private:
  std::vector<Block> blocks_;
  std::size_t size_ = 0;
};

}  // namespace ringmaster
