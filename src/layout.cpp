// ParamLayout: the size table that carves one flat float32 buffer into named blocks (llm.c's
// fill_in_parameter_sizes). Blocks are appended in order, so offsets are prefix sums of sizes.
#include "ringmaster/layout.hpp"

#include <utility>

#include "ringmaster/error.hpp"

namespace ringmaster {

std::size_t ParamLayout::add(std::string name, int rows, int cols, Geometry geometry) {
  if (name.empty()) throw Error("parameter block: empty name");
  if (rows <= 0 || cols <= 0) {
    throw Error("parameter block '" + name + "': shape " + std::to_string(rows) + "x" + std::to_string(cols) +
                " must have rows >= 1 and cols >= 1");
  }
  for (const Block& b : blocks_) {
    // Names identify blocks in logs, checkpoints and configs, so they must be unique.
    if (b.name == name) throw Error("parameter block '" + name + "' added twice");
  }
  Block block{std::move(name), rows, cols, geometry, size_};
  size_ += block.size();
  blocks_.push_back(std::move(block));
  return blocks_.size() - 1;
}

}  // namespace ringmaster
