// The command line as a user meets it (docs/method.md §10): `--version`, where messages go
// (every log line on stderr, stdout only for what a command prints), and hostile inputs that crashed,
// hung or exited 1 before: each must now exit 2 with the file and line or the --set named. Runs the
// real binary; every command has a `timeout`, so a regression to a hang fails instead of stalling CI.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "support.hpp"

namespace ringmaster {
namespace {

using testing::Command;
using testing::TempDir;

const std::string kConfig = testing::source_dir() + "/configs/quadratic.toml";

// The binary's stdout alone, or its stderr alone (support's run() captures both).
Command stdout_of(const std::string& args) {
  return testing::run("{ timeout -k 5 120 " + testing::binary() + " " + args + " 2>/dev/null; }");
}
Command stderr_of(const std::string& args) {
  return testing::run("{ ASAN_OPTIONS=detect_leaks=0 timeout -k 5 120 " + testing::binary() + " " + args +
                      " >/dev/null; }");
}

TEST(Cli, VersionPrintsTheVersionAndCommitOnStdout) {
  const Command c = stdout_of("--version");
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_TRUE(std::regex_match(c.output, std::regex(R"(ringmaster \d+\.\d+\.\d+ \(commit ([0-9a-f]{4,40}(-dirty)?|unknown)\)\n)")))
      << c.output;
  EXPECT_NE(stdout_of("--help").output.find("ringmaster --version"), std::string::npos);
}

TEST(Cli, ErrorsGoToStderrOnly) {
  const Command out = stdout_of("simulate -c nofile.toml");
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.output, "");
  const Command err = stderr_of("simulate -c nofile.toml");
  EXPECT_EQ(err.exit_code, 2);
  EXPECT_NE(err.output.find("nofile.toml: cannot open config file"), std::string::npos) << err.output;
}

struct Hostile {
  const char* name;
  std::string args;
  std::string fragment;  // of stderr
};

TEST(Cli, HostileInputsExitTwoNamingWhere) {
  TempDir dir("cli-hostile");
  const std::string deep = dir / "deep.toml";
  {
    std::ofstream out(deep);
    out << "# line 1\n[";
    for (int i = 0; i < 40000; ++i) out << (i ? ".a" : "a");
    out << "]\n";
  }
  const std::string loop = dir / "loop";
  testing::fs::create_symlink(dir / "loop2", loop);
  testing::fs::create_symlink(loop, dir / "loop2");
  const std::string out = " --out " + (dir / "run");
  const std::vector<Hostile> cases = {
      {"40,000-level dotted header (SIGSEGV before)", "simulate -c " + deep + out, deep + ":2: a table header deeper than [section.subsection]"},
      {"-c /dev/zero (read until memory ran out)", "simulate -c /dev/zero" + out, "/dev/zero: is not a regular file"},
      {"symlink loop (exit 1 'filesystem error')", "simulate -c " + loop + out,
       loop + ": cannot open config file: Too many levels of symbolic links"},
      {"name too long (exit 1 'filesystem error')", "simulate -c " + std::string(5000, 'n') + out,
       "(5000 bytes): cannot open config file: File name too long"},
      {"Poisson draw with mean 1e10 (hung)",
       "simulate -c " + kConfig + " --set heterogeneity.outage_rate=1e12 --set heterogeneity.outage_s=0.001" + out,
       "--set heterogeneity.outage_rate=1e12: heterogeneity.outage_rate: must be in [0.0, 1e+06]"},
      {"base_s = 0 with no noise (virtual time stood still)",
       "simulate -c " + kConfig + " --set heterogeneity.base_s=0 --set heterogeneity.noise=none" + out,
       "--set heterogeneity.base_s=0: heterogeneity.base_s: must be > 0 in the simulator"},
      {"eval_every_s = 1e-300 (int64 overflow of the evaluation grid)",
       "simulate -c " + kConfig + " --set run.eval_every_s=1e-300" + out, "--set run.eval_every_s=1e-300: run.eval_every_s"},
      {"lognormal noise_scale = 1e200 (NaN event times)",
       "simulate -c " + kConfig + " --set heterogeneity.noise=lognormal --set heterogeneity.noise_scale=1e200" + out,
       "--set heterogeneity.noise_scale=1e200: heterogeneity.noise_scale"},
      {"rows x cols beyond memory (bad_alloc or the OOM killer)",
       "simulate -c " + kConfig + " --set objective.rows=46340 --set objective.cols=46340" + out,
       "objective.rows x objective.cols = 46340 x 46340"},
  };
  for (const Hostile& h : cases) {
    SCOPED_TRACE(h.name);
    const Command c = stderr_of(h.args);
    EXPECT_EQ(c.exit_code, 2) << c.output.substr(0, 500);
    EXPECT_NE(c.output.find(h.fragment), std::string::npos) << c.output.substr(0, 500);
    EXPECT_LT(c.output.size(), 1000u) << c.output.substr(0, 1000);
    EXPECT_FALSE(testing::fs::exists(dir / "run")) << "a run directory was created";
  }
}

// A delay past the maximum is clamped, said once, and the run ends at its budget.
TEST(Cli, ClampedDelaysAreReportedAndTheRunEnds) {
  TempDir dir("cli-clamp");
  const Command c = stderr_of("simulate -c " + kConfig +
                              " --set heterogeneity.outage_rate=1e6 --set heterogeneity.outage_s=1e9"
                              " --set run.time_budget_s=5 --out " + (dir / "run"));
  EXPECT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("delays are clamped to 1e+09 s"), std::string::npos) << c.output;
  EXPECT_TRUE(testing::fs::exists(dir / "run/summary.json"));
}

}  // namespace
}  // namespace ringmaster
