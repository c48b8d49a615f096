// ParamLayout: the size table that carves one flat float32 buffer into named blocks (llm.c's
// fill_in_parameter_sizes). Blocks are appended in order, so offsets are prefix sums of sizes.
#include "ringmaster/layout.hpp"

#include <array>
#include <utility>

#include "ringmaster/error.hpp"

namespace ringmaster {

namespace {

constexpr std::array<const char*, kRoles> kRoleNames = {"matrix", "embedding", "head", "vector"};

}  // namespace

const std::array<Role, kRoles>& all_roles() {
  static const std::array<Role, kRoles> roles = {Role::matrix, Role::embedding, Role::head, Role::vector};
  return roles;
}

std::string to_string(Role role) { return kRoleNames[static_cast<std::size_t>(role)]; }

Role parse_role(const std::string& name) {
  for (Role r : all_roles())
    if (name == kRoleNames[static_cast<std::size_t>(r)]) return r;
  throw Error("unknown block role '" + name + "' (expected one of: matrix, embedding, head, vector)");
}

std::size_t ParamLayout::add(std::string name, int rows, int cols, Role role, const RoleTable& roles) {
  const std::size_t index = add(std::move(name), rows, cols, roles[role].geometry);
  blocks_[index].role = role;
  blocks_[index].multiplier = roles[role].multiplier;
  return index;
}

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
  const Role role = (rows > 1 && cols > 1) ? Role::matrix : Role::vector;
  Block block{std::move(name), rows, cols, role, geometry, 1.0, size_};
  size_ += block.size();
  blocks_.push_back(std::move(block));
  return blocks_.size() - 1;
}

void ParamLayout::set_role(std::size_t index, Role role, double multiplier) {
  blocks_.at(index).role = role;
  blocks_.at(index).multiplier = multiplier;
}

}  // namespace ringmaster
