// Living with runs (#26): what a run directory records about how it was started (provenance.json), named
// runs, progress lines, what the binary says about keys it ignores and resumes it will not make, sample's
// UTF-8 and the help texts. Runs the real binary (the simulator, and mpirun for the MPI cases).
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/engine.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/text.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

const std::string kQuadratic = source_dir() + "/configs/quadratic.toml";

// A quadratic config that sets neither run.workers nor a heterogeneity time (so nothing is ignored under MPI).
std::string plain_config(const TempDir& dir) {
  const std::string path = dir / "plain.toml";
  std::ofstream(path) << "[run]\ntime_budget_s = 1.0\n[objective]\nrows = 8\ncols = 8\n";
  return path;
}

// `ringmaster ARGS` run in `cwd`, stdout and stderr together.
Command in(const std::string& cwd, const std::string& args) {
  return run("cd " + cwd + " && ASAN_OPTIONS=detect_leaks=0 timeout -k 5 120 " + binary() + " " + args);
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// The one directory under DIR/runs.
fs::path only_run(const TempDir& dir) {
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(dir.path() / "runs")) runs.push_back(entry.path());
  EXPECT_EQ(runs.size(), 1u);
  return runs.empty() ? fs::path() : runs.front();
}

TEST(Provenance, RecordsTheInvocationAndAResumeKeepsTheFirst) {
  TempDir dir("prov-sim");
  const Command started = in(dir.path(), "simulate -c " + kQuadratic +
                                             " --set run.time_budget_s=1 --set 'method.stepsize=0.02' --name first-try");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const fs::path out = only_run(dir);
  // runs/<date>-<time>-NAME
  EXPECT_TRUE(std::regex_match(out.filename().string(), std::regex(R"(\d{8}-\d{6}-first-try)"))) << out;
  const nlohmann::json p = read_json(out / "provenance.json");
  EXPECT_EQ(p["engine"], "sim");
  EXPECT_EQ(p["name"], "first-try");
  const nlohmann::json& start = p["start"];
  EXPECT_EQ(start["argv"], nlohmann::json({binary(), "simulate", "-c", kQuadratic, "--set", "run.time_budget_s=1",
                                           "--set", "method.stepsize=0.02", "--name", "first-try"}));
  EXPECT_EQ(start["overrides"], nlohmann::json({"run.time_budget_s=1", "method.stepsize=0.02"}));
  EXPECT_EQ(start["config"]["given"], kQuadratic);
  EXPECT_EQ(start["cwd"], dir.path().string());
  // The binary as --version names it.
  const std::string version = run(binary() + " --version").output;
  EXPECT_NE(version.find(start["binary"]["version"].get<std::string>() + " (commit " +
                         start["binary"]["commit"].get<std::string>() + ")"),
            std::string::npos)
      << version;
  EXPECT_FALSE(start["binary"]["build_type"].get<std::string>().empty());
  EXPECT_EQ(start["hosts"], nlohmann::json::parse(R"([{"host": ")" + host() + R"(", "ranks": null}])"));
  EXPECT_EQ(start["mpi_library"].get<std::string>().rfind("Open MPI v", 0), 0u) << start["mpi_library"];
  EXPECT_EQ(start["openblas"]["config"].get<std::string>().rfind("OpenBLAS ", 0), 0u) << start["openblas"];
  EXPECT_FALSE(start["openblas"]["core"].get<std::string>().empty());
  EXPECT_EQ(start["workers"], 8);
  EXPECT_TRUE(p["resumes"].empty());

  const Command resumed = in(dir.path(), "simulate --resume " + out.string() + " --set run.time_budget_s=2");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const nlohmann::json q = read_json(out / "provenance.json");
  EXPECT_EQ(q["start"], start);  // the first invocation, unchanged
  ASSERT_EQ(q["resumes"].size(), 1u);
  EXPECT_EQ(q["resumes"][0]["argv"],
            nlohmann::json({binary(), "simulate", "--resume", out.string(), "--set", "run.time_budget_s=2"}));
  EXPECT_EQ(q["resumes"][0]["config"]["given"], (out / "config.toml").string());
}

// --name is one path component of safe characters: anything else is refused naming --name, before a run
// directory exists; beside --out or --resume it is refused too.
TEST(Provenance, NameIsOnePathComponent) {
  TempDir dir("prov-name");
  for (const std::string& bad : std::vector<std::string>{"../up", "a/b", "''", ".hidden", "-x", "'a b'", "$'\\x1b'", std::string(65, 'n')}) {
    SCOPED_TRACE(bad);
    const Command c = in(dir.path(), "simulate -c " + kQuadratic + " --set run.time_budget_s=1 --name=" + bad);
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find("--name"), std::string::npos) << c.output;
    EXPECT_EQ(count(c.output, "\n"), 1) << c.output;
    EXPECT_FALSE(fs::exists(dir.path() / "runs") && !fs::is_empty(dir.path() / "runs"));
  }
  const Command with_out = in(dir.path(), "simulate -c " + kQuadratic + " --name ok --out there");
  EXPECT_EQ(with_out.exit_code, 2) << with_out.output;
  EXPECT_FALSE(fs::exists(dir.path() / "there"));
  const Command with_resume = in(dir.path(), "simulate --resume there --name ok");
  EXPECT_EQ(with_resume.exit_code, 2) << with_resume.output;
  EXPECT_NE(with_resume.output.find("--name"), std::string::npos) << with_resume.output;
  // The longest name allowed is taken.
  const std::string longest(kMaxRunName, 'n');
  EXPECT_EQ(in(dir.path(), "simulate -c " + kQuadratic + " --set run.time_budget_s=0.5 --name " + longest).exit_code, 0);
}

// A run whose stop rules would fire at once is not resumed: said in one line, exit 0, and nothing in its
// directory changes (no epoch counted, no file rewritten).
TEST(Provenance, ResumingAFinishedRunSaysSoAndTouchesNothing) {
  TempDir dir("prov-finished");
  const std::string out = dir / "run";
  ASSERT_EQ(run(binary() + " simulate -c " + kQuadratic + " --set run.time_budget_s=1 --out " + out).exit_code, 0);
  std::map<std::string, std::string> before;
  // All but the lock file, whose holder (a hint: the lock is the flock) names the last process to take it.
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().filename() != ".lock") before[entry.path().filename()] = read_text(entry.path());
  const Command again = run(binary() + " simulate --resume " + out);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("the run already finished: its training clock is at t = 1.00 s"), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("run.time_budget_s"), std::string::npos) << again.output;
  for (const auto& [name, text] : before) EXPECT_EQ(read_text(fs::path(out) / name), text) << name;
  // A longer budget resumes it: the finished check is the stop rules under the resume's configuration.
  const Command longer = run(binary() + " simulate --resume " + out + " --set run.time_budget_s=2");
  EXPECT_EQ(longer.exit_code, 0) << longer.output;
  EXPECT_EQ(read_json(fs::path(out) / "summary.json")["epochs"], 2);
}

// What resumes a run, as a shell reads it: mpirun with the job's ranks under MPI, the binary as named,
// a resume's own -c and --set repeated (they are not in config.toml), odd characters quoted.
TEST(Provenance, ResumeCommandIsTheWholeCommand) {
  RunRequest fresh;
  fresh.argv = {"build/ringmaster", "train", "-c", "configs/quadratic.toml", "--set", "run.time_budget_s=9"};
  fresh.config_path = "configs/quadratic.toml";
  fresh.overrides = {"run.time_budget_s=9"};
  EXPECT_EQ(resume_command(fresh, "runs/a b", 4), "mpirun -np 4 build/ringmaster train --resume 'runs/a b'");
  EXPECT_EQ(resume_command(fresh, "runs/x", 0), "build/ringmaster simulate --resume runs/x");
  RunRequest resumed;
  resumed.argv = {"/opt/rm", "simulate", "--resume", "runs/x", "--set", "run.time_budget_s=90"};
  resumed.resume = "runs/x";
  resumed.config_path = "runs/x/config.toml";
  resumed.overrides = {"run.time_budget_s=90", "run.method=it's"};
  EXPECT_EQ(resume_command(resumed, "runs/x", 0),
            "/opt/rm simulate --resume runs/x --set run.time_budget_s=90 --set 'run.method=it'\\''s'");
}

// Under MPI: the hosts of every rank; a simulator run is not resumed by train, an MPI run not by simulate.
TEST(Provenance, MpiRecordsItsRanksAndEnginesDoNotResumeEachOther) {
  TempDir dir("prov-mpi");
  const std::string mpi_run = dir / "mpi", sim_run = dir / "sim";
  const Command trained = run(mpirun(3, "-c " + plain_config(dir) + " --out " + mpi_run));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const nlohmann::json p = read_json(fs::path(mpi_run) / "provenance.json");
  EXPECT_EQ(p["engine"], "mpi");
  EXPECT_EQ(p["start"]["ranks"], 3);
  EXPECT_EQ(p["start"]["workers"], 2);
  EXPECT_EQ(p["start"]["hosts"], nlohmann::json::parse(R"([{"host": ")" + host() + R"(", "ranks": [0, 1, 2]}])"));

  const std::string summary = read_text(fs::path(mpi_run) / "summary.json");
  const Command cross = run(binary() + " simulate --resume " + mpi_run + " --set run.time_budget_s=5");
  EXPECT_EQ(cross.exit_code, 2) << cross.output;
  EXPECT_NE(cross.output.find("made by the MPI engine"), std::string::npos) << cross.output;
  EXPECT_EQ(read_text(fs::path(mpi_run) / "summary.json"), summary);

  ASSERT_EQ(run(binary() + " simulate -c " + plain_config(dir) + " --set run.workers=2 --out " + sim_run).exit_code, 0);
  const Command back = run(mpirun(3, "--resume " + sim_run + " --set run.time_budget_s=5"));
  EXPECT_EQ(back.exit_code, 2) << back.output;
  EXPECT_NE(back.output.find("made by the simulator"), std::string::npos) << back.output;
  EXPECT_EQ(count(back.output, "made by the simulator"), 1) << back.output;  // rank 0 says it, once
}

// Keys the MPI engine does not use are named once, with where they were set, and only when set.
TEST(Provenance, IgnoredKeysAreSaidOnceWhenSet) {
  TempDir dir("prov-ignored");
  const Command set = run(mpirun(3, "-c " + plain_config(dir) +
                                        " --set run.workers=8 --set heterogeneity.compute_s=0.01 --out " + (dir / "a")));
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_EQ(count(set.output, "--set run.workers=8: run.workers = 8 is ignored under MPI: the job's 3 ranks give 2 "
                              "workers"),
            1)
      << set.output;
  EXPECT_EQ(count(set.output, "--set heterogeneity.compute_s=0.01: heterogeneity.compute_s is ignored under MPI"), 1)
      << set.output;
  // Nothing set, or run.workers equal to what the ranks give: not a word.
  const Command quiet = run(mpirun(3, "-c " + plain_config(dir) + " --set run.workers=2 --out " + (dir / "b")));
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_EQ(quiet.output.find("is ignored"), std::string::npos) << quiet.output;
}

// Progress lines: the share of the budget spent, an ETA, the last evaluated loss and the best; the last
// line the final and best loss, as summary.json has them.
TEST(Progress, LinesGiveTheBudgetShareAndTheLastLineTheLosses) {
  TempDir dir("progress");
  const std::string out = dir / "run";
  const Command c =
      run(binary() + " simulate -c " + kQuadratic + " --set run.time_budget_s=20 --set run.log_every_s=0.01 --out " + out);
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const std::regex line(R"(t=([0-9.]+)s \(([0-9]+)% of the budget, eta ([0-9.]+s|\?)\) k=([0-9]+) loss=([0-9.e+-]+) \(best ([0-9.e+-]+)\))");
  int lines = 0;
  double last_percent = -1.0;
  for (std::sregex_iterator it(c.output.begin(), c.output.end(), line), end; it != end; ++it, ++lines) {
    const double t = std::stod((*it)[1]), percent = std::stod((*it)[2]);
    EXPECT_NEAR(percent, 100.0 * t / 20.0, 0.5 + 1e-9) << it->str();  // printed to the percent
    EXPECT_GE(percent, last_percent);
    EXPECT_LE(std::stod((*it)[6]), std::stod((*it)[5]) * (1 + 5e-4)) << it->str();  // best ≤ last, 4 digits
    last_percent = percent;
  }
  EXPECT_GT(lines, 0) << c.output;
  const nlohmann::json summary = read_json(fs::path(out) / "summary.json");
  std::smatch final_line;
  ASSERT_TRUE(std::regex_search(c.output, final_line, std::regex(R"(stopped \(time_budget\).*final loss=([0-9.e+-]+) \(best ([0-9.e+-]+)\))")))
      << c.output;
  // {:.4g}: within half a unit of the fourth digit.
  EXPECT_NEAR(std::stod(final_line[1]), summary["final_loss"].get<double>(), 5e-4 * summary["final_loss"].get<double>());
  EXPECT_NEAR(std::stod(final_line[2]), summary["best_loss"].get<double>(), 5e-4 * summary["best_loss"].get<double>());

  // log_every_s at its maximum (the sweeps' run.log): no progress line.
  const Command silent = run(binary() + " simulate -c " + kQuadratic +
                             " --set run.time_budget_s=20 --set run.log_every_s=1e9 --out " + (dir / "silent"));
  ASSERT_EQ(silent.exit_code, 0) << silent.output;
  EXPECT_EQ(silent.output.find("of the budget"), std::string::npos) << silent.output;
}

TEST(Progress, FirstLineWithinTwoSecondsThenEveryPeriod) {
  ProgressClock every5(5.0);
  EXPECT_FALSE(every5.due(0.0));
  EXPECT_FALSE(every5.due(1.99));
  EXPECT_TRUE(every5.due(2.0));  // min(kFirstProgressS, 5)
  EXPECT_FALSE(every5.due(6.9));
  EXPECT_TRUE(every5.due(7.0));
  EXPECT_TRUE(every5.due(13.5));  // late: then on the grid again, not 5 s after the late line
  EXPECT_TRUE(every5.due(17.0));
  ProgressClock fast(0.5);
  EXPECT_FALSE(fast.due(0.49));
  EXPECT_TRUE(fast.due(0.5));
  ProgressClock off(kMaxSeconds);
  EXPECT_FALSE(off.due(1e6));
}

// Every shipped config prints a progress line at least every 10 s of wall time (gpt_tiny's 30 s printed
// none in a 30 s run).
TEST(Progress, ShippedConfigsLogAtLeastEveryTenSeconds) {
  int configs = 0;
  for (const auto& entry : fs::directory_iterator(source_dir() + "/configs")) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_LE(load_config(entry.path().string(), {}, 0, ConfigFor::model).run.log_every_s, 10.0);
    ++configs;
  }
  EXPECT_GE(configs, 3);
  EXPECT_LE(RunConfig{}.log_every_s, 10.0);
}

// sample's text: valid UTF-8 whatever bytes the network makes.
TEST(SampleText, Utf8StreamPassesUtf8AndReplacesTheRest) {
  const auto through = [](const std::string& bytes) {
    Utf8Stream s;
    std::string out;
    for (char b : bytes) out += s.push(b);
    return out + s.finish();
  };
  const std::string valid = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a é € 😀 z
  EXPECT_EQ(through(valid), valid);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(through("\xFF"), fffd);
  EXPECT_EQ(through("a\x80" "b"), "a" + fffd + "b");
  EXPECT_EQ(through("\xE2\x82"), fffd);                   // cut short by the end: one U+FFFD
  EXPECT_EQ(through("\xE2\x82" "b"), fffd + "b");         // cut short by an ASCII byte
  EXPECT_EQ(through("\xE0\x80"), fffd + fffd);            // overlong: E0 then a lone continuation
  EXPECT_EQ(through("\xED\xA0\x80"), fffd + fffd + fffd); // a surrogate
  EXPECT_EQ(through("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // above U+10FFFF
  // Random bytes: always UTF-8 out, and the valid sequences among them kept in order.
  std::mt19937 draw(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(64, '\0');
    for (char& b : bytes) b = static_cast<char>(draw());
    const std::string out = through(bytes);
    EXPECT_TRUE(is_utf8(out));
    EXPECT_GE(out.size(), 1u);
  }
}

// `ringmaster help [COMMAND]` is the usage or COMMAND --help; each benchmark has its own options.
TEST(Help, HelpCommandAndEachBenchmarkHasItsOwn) {
  const std::string usage = run(binary() + " --help").output;
  const Command help = run(binary() + " help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.output, usage);
  EXPECT_EQ(run(binary() + " help train").output, run(binary() + " train --help").output);
  EXPECT_EQ(run(binary() + " help eval").output, run(binary() + " eval --help").output);
  const std::map<std::string, std::vector<std::string>> own = {
      {"lmo", {"--shape"}}, {"mlp", {"--hidden", "--batch", "--python"}}, {"gpt", {"--model", "--python"}},
      {"server", {"--config", "--set", "--backend", "--threads", "--min-mflop"}}};
  const std::vector<std::string> all = {"--shape", "--hidden", "--batch", "--model", "--backend", "--threads",
                                        "--min-mflop", "--python"};
  for (const auto& [what, options] : own) {
    SCOPED_TRACE(what);
    const Command c = run(binary() + " help bench " + what);
    EXPECT_EQ(c.exit_code, 0);
    EXPECT_EQ(c.output, run(binary() + " bench " + what + " --help").output);
    EXPECT_NE(c.output.find("ringmaster bench " + what), std::string::npos) << c.output;
    for (const std::string& option : all)
      EXPECT_EQ(c.output.find(option) != std::string::npos,
                std::find(options.begin(), options.end(), option) != options.end())
          << option << "\n" << c.output;
  }
  const Command bench = run(binary() + " bench --help");
  EXPECT_EQ(bench.exit_code, 0);
  for (const auto& [what, options] : own) EXPECT_NE(bench.output.find("  " + what + " "), std::string::npos);
  const Command foreign = run(binary() + " bench lmo --batch 8");
  EXPECT_EQ(foreign.exit_code, 2) << foreign.output;
  EXPECT_NE(foreign.output.find("ringmaster bench lmo --help lists the options"), std::string::npos) << foreign.output;
  EXPECT_EQ(run(binary() + " help nothing").exit_code, 2);
}

}  // namespace
}  // namespace ringmaster
