// The command line as a user meets it (docs/method.md §10): `--version`, where messages go
// (every log line on stderr, stdout only for what a command prints), and hostile inputs that crashed,
// hung or exited 1 before: each must now exit 2 with the file and line or the --set named. Runs the
// real binary; every command has a `timeout`, so a regression to a hang fails instead of stalling CI.
#include <gtest/gtest.h>

#include <algorithm>
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
       "objective.rows x objective.cols x objective.blocks = 46340 x 46340 x 1: "},
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

// A bad option value is one line naming the option and what it takes, exit 2, for every command that has
// numeric options (it was cxxopts's "Argument 'x' failed to parse" and 14 lines of usage; a NaN
// temperature passed).
TEST(Cli, BadOptionValuesAreOneLineNamingTheOption) {
  TempDir dir("cli-options");
  const std::string run = " --run " + (dir / "nothing");
  const std::vector<Hostile> cases = {
      {"tokens beyond int", "sample" + run + " --tokens 4294967296", "sample: --tokens takes an integer in [1, 1000000], got '4294967296'"},
      {"tokens not a number", "sample" + run + " --tokens 12abc", "--tokens takes an integer in [1, 1000000], got '12abc'"},
      {"temperature NaN", "sample" + run + " --temperature nan", "--temperature takes a number in [0, 1000], got 'nan'"},
      {"temperature beyond double", "sample" + run + " --temperature 1e999", "--temperature takes a number"},
      {"negative seed", "sample" + run + " --seed -1", "--seed takes an integer in [0, 18446744073709551615], got '-1'"},
      {"zero threads", "bench server --threads 0", "bench server: --threads takes an integer in [1, 1024], got '0'"},
      {"batch as a float", "bench mlp --batch 1e3", "bench mlp: --batch takes an integer in [1, 60000], got '1e3'"},
      {"negative min-mflop", "bench server --min-mflop -1", "--min-mflop takes a number in [0, 1000000000000], got '-1'"},
      {"unknown option", "simulate -c x.toml --bogus", "Option ‘bogus’ does not exist (ringmaster simulate --help"},
      {"unknown command", "frobnicate", "unknown command 'frobnicate' (commands: train, simulate, bench, sample"},
  };
  for (const Hostile& h : cases) {
    SCOPED_TRACE(h.name);
    const Command c = stderr_of(h.args);
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find(h.fragment), std::string::npos) << c.output;
    EXPECT_EQ(std::count(c.output.begin(), c.output.end(), '\n'), 1) << c.output;
  }
}

// User input echoed in a message shows control characters and bidi overrides escaped, never raw: an
// escape sequence in a --set, an option value or a path cannot act on the terminal or reorder the line,
// whichever part of the program wrote the message.
TEST(Cli, ControlAndBidiCharactersInInputAreEscaped) {
  TempDir dir("cli-escape");
  // Written as bash's $'...' escapes: ESC [2J (clear the screen), U+202E (right-to-left override).
  const std::string esc = "\\x1b[2J", rlo = "\\u202e";
  const std::string simulate = "simulate --out " + (dir / "run") + " -c ";
  const std::vector<Hostile> cases = {
      {"--set value", simulate + kConfig + " --set $'run.method=a" + esc + "b" + rlo + "c'",
       "unknown value \"a\\x1b[2Jb\\u{202e}c\""},
      {"--set key", simulate + kConfig + " --set $'run.x" + esc + "=1'", "run.x\\x1b[2J"},
      {"option value", "sample --run x --tokens $'1" + esc + "'", "got '1\\x1b[2J'"},
      {"path", simulate + "$'" + (dir / "a") + esc + rlo + ".toml'", (dir / "a") + "\\x1b[2J\\u{202e}.toml: cannot open"},
      {"unexpected argument", simulate + kConfig + " $'x" + esc + "'", "unexpected argument 'x\\x1b[2J'"},
      // A message of a reader (the trace's) reaches the log escaped too.
      {"trace path", simulate + kConfig + " --set heterogeneity.profile=trace --set $'heterogeneity.trace=" +
                         (dir / "t") + esc + ".csv'",
       (dir / "t") + "\\x1b[2J.csv"},
  };
  for (const Hostile& h : cases) {
    SCOPED_TRACE(h.name);
    const Command c = testing::run("{ ASAN_OPTIONS=detect_leaks=0 timeout -k 5 120 bash -c \"" + testing::binary() + " " +
                                   h.args + "\" >/dev/null; }");
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find(h.fragment), std::string::npos) << c.output;
    EXPECT_EQ(c.output.find('\x1b'), std::string::npos) << "a raw ESC";
    EXPECT_EQ(c.output.find("\u202e"), std::string::npos) << "a raw right-to-left override";
  }
}

// A resumed run writes where it ran: a new directory is refused the same way whether it comes as --out or
// as --set run.out (the --set used to be ignored silently).
TEST(Cli, ResumeRefusesANewDirectoryEitherWay) {
  TempDir dir("cli-resume-out");
  const std::string out = dir / "run";
  ASSERT_EQ(stderr_of("simulate -c " + kConfig + " --set run.time_budget_s=1 --out " + out).exit_code, 0);
  const std::string before = testing::read_text(testing::fs::path(out) / "events.csv");
  for (const std::string& how : {"--out " + (dir / "elsewhere"), "--set run.out=" + (dir / "elsewhere"),
                                 "--set ' run.out = \"" + (dir / "elsewhere") + "\"'"}) {
    SCOPED_TRACE(how);
    const Command c = stderr_of("simulate --resume " + out + " " + how);
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find("--resume continues in its own directory"), std::string::npos) << c.output;
    EXPECT_FALSE(testing::fs::exists(dir / "elsewhere"));
  }
  EXPECT_EQ(testing::read_text(testing::fs::path(out) / "events.csv"), before);
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
