// The sharded server's key ranges (shards.hpp) and the property the sharded server rests on (docs/method.md
// §7 "Sharded server"): S Servers, each over its shard's blocks and fed the same arrivals in the same order,
// make the whole-model Server's decisions and hold its x and momentum, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/server.hpp"
#include "ringmaster/shards.hpp"

namespace ringmaster {
namespace {

LmoOptions options() { return LmoOptions{}; }

// Blocks of the given square sizes, all spectral.
ParamLayout squares(const std::vector<int>& sizes) {
  ParamLayout layout;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    layout.add("B" + std::to_string(i), sizes[i], sizes[i], Geometry::spectral);
  return layout;
}

// The smallest largest-shard cost over every contiguous split into `shards` non-empty runs, by
// enumerating the split points.
double brute_force_min_max(const ParamLayout& layout, int shards) {
  const std::size_t n = layout.blocks().size();
  std::vector<double> cost;
  for (const Block& b : layout.blocks()) cost.push_back(block_update_flops(b, options()));
  double best = std::numeric_limits<double>::infinity();
  // Split points as a bitmask over the n − 1 gaps.
  for (std::uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {
    if (std::popcount(mask) != shards - 1) continue;
    double largest = 0.0, run = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      run += cost[i];
      if (i + 1 == n || (mask >> i & 1u)) {
        largest = std::max(largest, run);
        run = 0.0;
      }
    }
    best = std::min(best, largest);
  }
  return best;
}

TEST(ShardPlan, ContiguousRunsCoverEveryBlockOnce) {
  const ParamLayout layout = squares({64, 8, 8, 8, 64, 32, 1});
  const ShardPlan plan(layout, options(), 3);
  ASSERT_EQ(plan.shards(), 3);
  EXPECT_EQ(plan.begin(0), 0u);
  EXPECT_EQ(plan.end(2), layout.size());
  std::size_t blocks = 0;
  for (int s = 0; s < 3; ++s) {
    if (s > 0) {
      EXPECT_EQ(plan.begin(s), plan.end(s - 1));
    }
    EXPECT_EQ(plan.layout(s).size(), plan.size(s));
    for (std::size_t i = 0; i < plan.layout(s).blocks().size(); ++i) {
      const Block& mine = plan.layout(s).blocks()[i];
      const Block& whole = layout.blocks()[plan.first_block(s) + i];
      EXPECT_EQ(mine.name, whole.name);
      EXPECT_EQ(mine.rows, whole.rows);
      EXPECT_EQ(mine.geometry, whole.geometry);
      EXPECT_EQ(mine.offset + plan.begin(s), whole.offset);  // offsets from the shard's start
    }
    blocks += plan.layout(s).blocks().size();
  }
  EXPECT_EQ(blocks, layout.blocks().size());
}

// The split minimizes the most expensive shard: equal to the brute-force optimum over all contiguous
// splits, for random layouts and every S.
TEST(ShardPlan, LargestShardIsAsSmallAsAContiguousSplitAllows) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> size(1, 96);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<int> sizes(static_cast<std::size_t>(2 + trial % 9));
    for (int& s : sizes) s = size(rng);
    const ParamLayout layout = squares(sizes);
    for (int shards = 1; shards <= static_cast<int>(sizes.size()); ++shards) {
      const ShardPlan plan(layout, options(), shards);
      double largest = 0.0, total = 0.0;
      for (int s = 0; s < shards; ++s) {
        largest = std::max(largest, plan.flops(s));
        total += plan.flops(s);
      }
      EXPECT_DOUBLE_EQ(largest, brute_force_min_max(layout, shards)) << "trial " << trial << ", S = " << shards;
      EXPECT_NEAR(plan.max_share(), largest / total, 1e-12);
    }
  }
}

TEST(ShardPlan, MoreShardsThanBlocksIsAnErrorNamingTheKey) {
  const ParamLayout layout = squares({16, 16});
  try {
    ShardPlan(layout, options(), 3);
    FAIL() << "3 shards of 2 blocks accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("server.shards = 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 parameter blocks"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ShardPlan(layout, options(), 0), Error);
}

// A model of mixed blocks: spectral matrices of both orientations, a momentum-only head with a stepsize
// multiplier, a bias vector.
ParamLayout mixed_layout() {
  RoleTable roles;
  roles[Role::head] = {Geometry::none, 3.0};
  roles[Role::vector] = {Geometry::l2, 0.5};
  ParamLayout layout;
  layout.add("W1", 12, 7, Role::matrix, roles);
  layout.add("b1", 1, 12, Role::vector, roles);
  layout.add("W2", 5, 12, Role::matrix, roles);
  layout.add("head", 4, 5, Role::head, roles);
  layout.add("W3", 9, 9, Role::matrix, roles);
  return layout;
}

Config method_config(const std::string& method) {
  Config c;
  c.run.method = method;
  c.method.stepsize = method == "ringmaster-sgd" || method.starts_with("async") ? 0.01 : 0.05;
  c.method.threshold = 3;
  c.method.batch = 3;
  c.fault.max_bad = 2;
  return c;
}

bool finite(std::span<const float> g) {
  return std::all_of(g.begin(), g.end(), [](float v) { return std::isfinite(v); });
}

bool same_outcome(const Outcome& a, const Outcome& b) {
  if (a.action != b.action || a.delay != b.delay || a.updated != b.updated || a.assign != b.assign ||
      a.retired != b.retired || a.interrupted.size() != b.interrupted.size())
    return false;
  for (std::size_t i = 0; i < a.interrupted.size(); ++i)
    if (a.interrupted[i].worker != b.interrupted[i].worker || a.interrupted[i].version != b.interrupted[i].version)
      return false;
  return true;
}

// Every method, 5 workers, 400 arrivals in a random order: fresh gradients, gradients that crossed an
// interrupt (superseded), non-finite ones (rejected, and retired after max_bad in a row) and silent
// workers retired. The whole-model Server decides; each of S shard Servers gets its slice of every
// gradient — and, as the MPI leader tells its followers, whether the whole gradient was finite: a NaN in
// one shard's slice must reject the arrival on every shard. Decisions and x, m must agree bit for bit.
TEST(ShardedServer, ShardsFedTheSameArrivalsMatchTheWholeServerBitForBit) {
  const ParamLayout layout = mixed_layout();
  const int workers = 5;
  for (const std::string method : {"ringmaster", "ringmaster-pa", "ringmaster-sgd", "async", "async-delay-adaptive",
                                   "rennala", "sync"}) {
    for (const Stale stale : {Stale::interrupt, Stale::discard}) {
      for (int shards : {2, 3, 5}) {
        SCOPED_TRACE(method + ", stale = " + std::string(kStaleNames.name(stale)) + ", S = " + std::to_string(shards));
        Config config = method_config(method);
        config.method.stale = stale;
        std::vector<float> x0(layout.size());
        std::mt19937 rng(11);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (float& v : x0) v = 0.1f * normal(rng);
        Server whole(config, layout, x0, workers);
        const ShardPlan plan(layout, config.lmo.options(), shards);
        std::vector<std::unique_ptr<Server>> parts;
        for (int s = 0; s < shards; ++s)
          parts.push_back(std::make_unique<Server>(config, plan.layout(s), plan.slice(std::span<const float>(x0), s),
                                                   workers));
        const Outcome& first = whole.start();
        for (auto& p : parts) ASSERT_TRUE(same_outcome(p->start(), first));

        std::uniform_int_distribution<int> pick(1, workers);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        std::vector<float> g(layout.size());
        std::vector<std::int64_t> stale_version(workers + 1, -1);  // a computation still on the wire
        int updates = 0, rejected = 0, superseded = 0;
        for (int step = 0; step < 400 && whole.active_workers() > 0; ++step) {
          const int w = pick(rng);
          if (whole.retired(w)) continue;
          if (u(rng) < 0.003) {  // silent beyond the timeout
            const Outcome& o = whole.retire(w);
            for (auto& p : parts) ASSERT_TRUE(same_outcome(p->retire(w), o));
            continue;
          }
          // The gradient it sends: from its current point, or (if it was interrupted) the one it had
          // in flight when the interrupt crossed it.
          std::int64_t version = whole.version(w);
          if (stale_version[w] >= 0 && u(rng) < 0.5) {
            version = stale_version[w];
            stale_version[w] = -1;
          } else if (!whole.computing(w)) {
            continue;  // idle (sync, rennala between rounds)
          }
          for (float& v : g) v = normal(rng);
          if (u(rng) < 0.05) g[std::uniform_int_distribution<std::size_t>(0, g.size() - 1)(rng)] = std::nanf("");
          const bool whole_finite = finite(g);
          const Outcome& o = whole.on_gradient(w, version, g);
          for (int s = 0; s < shards; ++s) {
            Server& p = *parts[static_cast<std::size_t>(s)];
            const std::span<const float> slice = plan.slice(std::span<const float>(g), s);
            // What a follower does with the leader's word that the whole gradient was not finite: an
            // arrival that is not superseded is rejected as malformed.
            const bool current = p.computing(w) && p.version(w) == version;
            const Outcome& po = !whole_finite && current ? p.on_malformed(w) : p.on_gradient(w, version, slice);
            ASSERT_TRUE(same_outcome(po, o)) << "step " << step << ", shard " << s;
          }
          for (const Interrupt& i : o.interrupted) stale_version[i.worker] = i.version;
          updates += o.updated;
          rejected += o.action == Action::rejected;
          superseded += o.action == Action::superseded;
        }
        // The sequence exercised what it is meant to.
        EXPECT_GT(updates, 20);
        EXPECT_GT(rejected, 0);
        if (stale == Stale::interrupt && method.starts_with("ringmaster")) {
          EXPECT_GT(superseded, 0);
        }
        ASSERT_EQ(whole.k(), parts[0]->k());
        for (int s = 0; s < shards; ++s) {
          const Server& p = *parts[static_cast<std::size_t>(s)];
          EXPECT_EQ(p.k(), whole.k());
          const auto x = plan.slice(whole.x(), s);
          const auto m = plan.slice(whole.momentum(), s);
          ASSERT_EQ(p.x().size(), x.size());
          EXPECT_EQ(std::memcmp(p.x().data(), x.data(), x.size_bytes()), 0) << "x of shard " << s;
          EXPECT_EQ(std::memcmp(p.momentum().data(), m.data(), m.size_bytes()), 0) << "m of shard " << s;
          for (int w = 1; w <= workers; ++w) {
            EXPECT_EQ(p.counters(w).accepted, whole.counters(w).accepted);
            EXPECT_EQ(p.counters(w).rejected, whole.counters(w).rejected);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ringmaster
