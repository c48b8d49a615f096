// The run directory against the real binary: a full disk is an error, never a
// run that exits 0 with empty files; runs started together get distinct directories; a directory in
// use by one job is refused to a second; bad --out paths are exit 2 naming the path.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <set>
#include <thread>

#include "ringmaster/config.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

std::string sim(const std::string& args) {
  return "ASAN_OPTIONS=detect_leaks=0 timeout 300 " + binary() + " simulate " + args;
}

// Files that a failed run must never leave: empty ones and temporaries.
std::vector<std::string> bad_files(const fs::path& dir) {
  std::vector<std::string> bad;
  if (!fs::exists(dir)) return bad;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == ".lock") continue;  // the lock file holds a pid only as a hint
    if (entry.path().extension() == ".tmp" || (entry.is_regular_file() && entry.file_size() == 0)) bad.push_back(name);
  }
  return bad;
}

// A 200 KiB tmpfs (the test runs as root; skipped where mounting is not allowed), unmounted at the end.
class SmallDisk {
 public:
  explicit SmallDisk(const fs::path& at) : at_(at) {
    fs::create_directories(at_);
    mounted_ = ::mount("tmpfs", at_.c_str(), "tmpfs", 0, "size=200k") == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  // Empties the disk, then fills it until `free_bytes` are left.
  void leave_free(std::uint64_t free_bytes) {
    for (const auto& entry : fs::directory_iterator(at_)) fs::remove_all(entry.path());
    struct statvfs s {};
    ::statvfs(at_.c_str(), &s);
    const std::uint64_t available = static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
    std::ofstream(at_ / "filler", std::ios::binary) << std::string(available - free_bytes, '\0');
  }

 private:
  fs::path at_;
  bool mounted_ = false;
};

// at every amount of free space the run either completes (exit 0, summary.json parses)
// or fails non-zero with an error naming the file and errno — and never leaves a 0-byte or .tmp file.
TEST(RunDir, AFullDiskIsAnErrorNamingTheFileNeverEmptyFiles) {
  TempDir dir("full-disk");
  SmallDisk disk(dir.path() / "small");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string config = source_dir() + "/configs/quadratic.toml";
  int failures = 0;
  for (const std::uint64_t free_kib : {4, 8, 16, 24, 32, 48, 64, 96}) {
    SCOPED_TRACE(std::to_string(free_kib) + " KiB free");
    disk.leave_free(free_kib * 1024);
    const fs::path out = dir.path() / "small" / "s";
    const Command c = run(sim("-c " + config + " --set run.time_budget_s=2 --out " + out.string()));
    if (c.exit_code == 0) {
      EXPECT_NO_THROW(read_json(out / "summary.json")) << c.output;
    } else {
      ++failures;
      EXPECT_NE(c.output.find(out.string() + "/"), std::string::npos) << c.output;
      EXPECT_NE(c.output.find("No space left on device"), std::string::npos) << c.output;
    }
    EXPECT_EQ(bad_files(out), std::vector<std::string>{}) << c.output;
    // With 4 KiB free the start itself fails (class 9): the directory it created is removed again.
    if (free_kib == 4) {
      EXPECT_FALSE(fs::exists(out)) << c.output;
    }
    // CSV files that remain hold whole rows.
    for (const char* csv : {"events.csv", "eval.csv", "delays.csv"}) {
      const fs::path p = out / csv;
      if (!fs::exists(p)) continue;
      std::ifstream in(p, std::ios::binary);
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      EXPECT_TRUE(!text.empty() && text.back() == '\n') << csv;
    }
  }
  EXPECT_GE(failures, 2);  // the disk was full for some of them: the test tested something
}

// runs started together without --out each get a directory of their own, and each
// directory is self-consistent (its config.toml and its summary.json are the same run's).
TEST(RunDir, RunsStartedInTheSameSecondGetDistinctDirectories) {
  TempDir dir("same-second");
  const std::string config = write_test_quadratic(dir / "q.toml", {{"run.time_budget_s", "0.5"}});
  constexpr int kRuns = 8;
  std::string script = "cd " + dir.path().string() + " && for s in $(seq 1 " + std::to_string(kRuns) +
                       "); do (" + sim("-c " + config + " --set run.seed=$s") + " >log$s 2>&1; echo $? >rc$s) & done; wait";
  ASSERT_EQ(run(script).exit_code, 0);
  std::set<std::int64_t> seeds;
  for (int s = 1; s <= kRuns; ++s) {
    std::ifstream rc(dir.path() / ("rc" + std::to_string(s)));
    int code = -1;
    rc >> code;
    EXPECT_EQ(code, 0) << "run " << s << ": " << std::ifstream(dir.path() / ("log" + std::to_string(s))).rdbuf();
  }
  int dirs = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "runs")) {
    ++dirs;
    SCOPED_TRACE(entry.path().string());
    const Config written = load_config((entry.path() / "config.toml").string(), {});
    const auto summary = read_json(entry.path() / "summary.json");
    EXPECT_EQ(summary["seed"].get<std::int64_t>(), static_cast<std::int64_t>(written.run.seed));
    seeds.insert(static_cast<std::int64_t>(written.run.seed));
  }
  EXPECT_EQ(dirs, kRuns);
  EXPECT_EQ(seeds.size(), static_cast<std::size_t>(kRuns));
}

// while a job runs in a directory, a second job — a simulation forced into it, a
// --resume of it — is refused with exit 2 naming the directory and the holder's pid; the first job
// finishes unharmed.
TEST(RunDir, ADirectoryInUseIsRefusedToASecondJob) {
  TempDir dir("locked");
  const std::string config =
      write_test_quadratic(dir / "q.toml", {{"run.time_budget_s", "8.0"}, {"checkpoint.every_s", "0.2"}});
  const std::string out = dir / "run";
  Command first;
  std::thread job([&] { first = run(mpirun(3, "-c " + config + " --out " + out)); });
  // Wait for its first checkpoint: from then on an unlocked --resume would run (and interleave rows).
  for (int i = 0; i < 600 && !fs::exists(fs::path(out) / "checkpoint.bin"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(fs::path(out) / "checkpoint.bin"));

  const Command forced = run(sim("-c " + config + " --out " + out + " --force"));
  EXPECT_EQ(forced.exit_code, 2) << forced.output;
  EXPECT_NE(forced.output.find(out), std::string::npos) << forced.output;
  EXPECT_NE(forced.output.find("in use by another job (pid"), std::string::npos) << forced.output;
  const Command resumed = run(mpirun(3, "--resume " + out));
  EXPECT_EQ(resumed.exit_code, 2) << resumed.output;
  EXPECT_NE(resumed.output.find("in use by another job"), std::string::npos) << resumed.output;

  job.join();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto summary = read_json(fs::path(out) / "summary.json");
  EXPECT_EQ(summary["epochs"], 1);
  const auto events = read_csv(fs::path(out) / "events.csv");
  std::int64_t arrivals = 0;
  double last_time = 0.0;
  for (const auto& row : events) {
    if (row.at("action") != "interrupt") ++arrivals;
    EXPECT_GE(std::stod(row.at("time_s")), last_time);
    last_time = std::stod(row.at("time_s"));
  }
  EXPECT_EQ(summary["arrivals"].get<std::int64_t>(), arrivals);
}

// filesystem errors on --out are exit 2 naming the path (not exit 1 "filesystem
// error"), and a refused start leaves nothing behind.
TEST(RunDir, BadOutPathsAreExit2NamingThePath) {
  TempDir dir("bad-out");
  const std::string config = write_test_quadratic(dir / "q.toml", {{"run.time_budget_s", "0.2"}});
  fs::create_symlink("loop", dir.path() / "loop");
  write_file(dir.path() / "plain", "a file\n");
  const std::vector<std::string> outs = {dir / "loop/run", dir / "plain/run", dir / std::string(300, 'n'),
                                         dir / "plain"};
  for (const std::string& out : outs) {
    const Command c = run(sim("-c " + config + " --out " + out));
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find(out), std::string::npos) << c.output;
  }
  // Without --out, runs/<stamp>-<method> under a `runs` that is a symlink loop.
  const Command loop = run("cd " + dir.path().string() + " && ln -s runs runs && " + sim("-c " + config));
  EXPECT_EQ(loop.exit_code, 2) << loop.output;
  EXPECT_NE(loop.output.find("runs"), std::string::npos) << loop.output;
  EXPECT_EQ(loop.output.find("filesystem error"), std::string::npos) << loop.output;
  // Invalid input is found before the directory is made.
  const Command bad = run(sim("-c " + config + " --set method.momentum=2 --out " + (dir / "never")));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_FALSE(fs::exists(dir.path() / "never"));
}

}  // namespace
}  // namespace ringmaster
