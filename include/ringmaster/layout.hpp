// Parameter layout: named blocks carved out of one flat float32 buffer (llm.c's size table).
// A block is a row-major rows×cols matrix; a vector is a block with rows == 1 or cols == 1.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ringmaster/lmo.hpp"

namespace ringmaster {

// Block roles (docs/method.md §6 "Block roles"): what a block is in the model. The [lmo] role table
// maps each role to a geometry and a stepsize multiplier, so a network's hidden matrices get the
// spectral LMO while its embedding, head and biases take plain momentum steps (the published NanoChat
// convention).
enum class Role { matrix, embedding, head, vector };
inline constexpr std::size_t kRoles = 4;
Role parse_role(const std::string& name);  // throws Error naming the accepted values
std::string to_string(Role role);
const std::array<Role, kRoles>& all_roles();

struct RoleRule {
  Geometry geometry = Geometry::none;
  double multiplier = 1.0;  // the stepsize of this role's blocks is multiplier · γ

  bool operator==(const RoleRule&) const = default;
};

// The [lmo] role table, indexed by Role. Defaults follow the published NanoChat runs: spectral for
// matrix, none for every other role, multiplier 1.
struct RoleTable {
  std::array<RoleRule, kRoles> rules{{{Geometry::spectral, 1.0}, {Geometry::none, 1.0}, {Geometry::none, 1.0},
                                      {Geometry::none, 1.0}}};

  RoleRule& operator[](Role r) { return rules[static_cast<std::size_t>(r)]; }
  const RoleRule& operator[](Role r) const { return rules[static_cast<std::size_t>(r)]; }
  bool operator==(const RoleTable&) const = default;
};

struct Block {
  std::string name;
  int rows = 0;
  int cols = 0;
  Role role = Role::matrix;
  Geometry geometry = Geometry::none;  // from the role table
  double multiplier = 1.0;             // from the role table
  std::size_t offset = 0;  // first float of the block in the flat buffer

  std::size_t size() const { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }
  bool is_matrix() const { return rows > 1 && cols > 1; }
};

class ParamLayout {
 public:
  // Appends a block after the previous ones, its geometry and multiplier from its role's entry in
  // `roles`; returns its index.
  std::size_t add(std::string name, int rows, int cols, Role role, const RoleTable& roles);
  // The same with the geometry given directly (role matrix or vector by shape, multiplier 1): for
  // tests and benchmarks of one geometry.
  std::size_t add(std::string name, int rows, int cols, Geometry geometry);
  // Gives block `index` a role and stepsize multiplier other than add()'s (a shard's copy of a block,
  // shards.hpp).
  void set_role(std::size_t index, Role role, double multiplier);

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
