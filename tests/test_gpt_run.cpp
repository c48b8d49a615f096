// The gpt objective through the real binary (docs/method.md §6, §10): a short simulation of a tiny model on the
// fortunes corpus learns; `ringmaster sample --temperature 0` and tools/gpt_checkpoint.py (the checkpoint in
// PyTorch) generate the same text from its checkpoint; a bad corpus is exit 2 naming the path, before any run
// directory exists, under both engines; sample refuses what is not a gpt run.
#include <gtest/gtest.h>
#include <poll.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/text.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace testing;

const std::string kTinyConfig = source_dir() + "/tests/configs/good/gpt_tiny.toml";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Runs `command` with its stdout in `file` (generated text may hold byte 0) and its stderr captured.
Command run_to_file(const std::string& command, const std::string& file) {
  std::string shell = "(";
  shell += command;
  shell += " > " + file + ")";
  return run(shell);
}

// One short simulation shared by the tests that read its run directory (a few seconds of real time).
class GptRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("gpt-run");
    run_ = new Command(::ringmaster::testing::run(binary() + " simulate -c " + kTinyConfig + " --out " + out()));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  static std::string out() { return *dir_ / "run"; }
  static TempDir* dir_;
  static Command* run_;
};
TempDir* GptRun::dir_ = nullptr;
Command* GptRun::run_ = nullptr;

// At x0 the head is zero (nanochat's initialization): every logit is 0, the prediction uniform over 256 bytes,
// and the validation loss ln 256 ≈ 5.545 nats per byte up to float32 rounding of a sum of ~8192 terms
// (relative 1e-4 covers it). Four virtual seconds (~880 updates of 8 · 16 bytes) must bring it below 3.2:
// under the byte unigram entropy of the corpus (3.32 nats), which no model that ignores the context can
// beat, so the network must have learned to read it; broken gradients, windows or updates stay near 5.5
// (measured: 2.95 to 2.99 over seeds 0, 1, 2; the bigram conditional entropy is 2.59).
TEST_F(GptRun, ShortSimulationLowersTheValidationLoss) {
  ASSERT_EQ(run_->exit_code, 0) << run_->output;
  const auto eval = read_csv(fs::path(out()) / "eval.csv");
  ASSERT_GE(eval.size(), 3u);
  EXPECT_EQ(eval.front().count("accuracy"), 0u);  // a language model reports no accuracy
  EXPECT_NEAR(std::stod(eval.front().at("loss")), std::log(256.0), 1e-4 * std::log(256.0));
  EXPECT_LT(std::stod(eval.back().at("loss")), 3.2) << run_->output;
  EXPECT_TRUE(std::isfinite(std::stod(eval.back().at("grad_dual_norm"))));
  const auto summary = read_json(fs::path(out()) / "summary.json");
  EXPECT_GT(summary["accepted"].get<double>(), 300.0);
  EXPECT_TRUE(summary["final_accuracy"].is_null());
}

// Greedy decoding is a function of the parameters: the binary's float32 network and PyTorch's agree on
// the argmax at every step unless two logits are within rounding of each other (~1e-6 of logits of
// order 1), which 64 steps of a trained model do not meet.
TEST_F(GptRun, SampleAndPyTorchGreedyDecodeTheSameText) {
  ASSERT_EQ(run_->exit_code, 0) << run_->output;
  const auto text_of = [](const std::string& command, const std::string& file) {
    const Command c = run_to_file(command, file);
    EXPECT_EQ(c.exit_code, 0) << command << "\n" << c.output;
    return read_bytes(file);
  };
  const std::string tool = "/usr/bin/python3 " + source_dir() + "/tools/gpt_checkpoint.py " + out();
  for (const std::string prompt : {"The ", ""}) {
    SCOPED_TRACE("prompt '" + prompt + "'");
    const std::string ours = text_of(binary() + " sample --raw --run " + out() + " --temperature 0 --tokens 64 --prompt '" +
                                         prompt + "'",
                                     *dir_ / "ours.txt");
    const std::string theirs =
        text_of(tool + " --sample '" + prompt + "' --tokens 64 --save " + (*dir_ / "model.pt"), *dir_ / "theirs.txt");
    EXPECT_EQ(ours.size(), prompt.size() + 64u);
    EXPECT_EQ(ours.substr(0, prompt.size()), prompt);
    EXPECT_EQ(ours, theirs);
  }
  EXPECT_GT(fs::file_size(*dir_ / "model.pt"), 0u);
}

// sample's text is UTF-8 ending in a newline: the bytes --raw writes, with U+FFFD for what is not UTF-8
// (Utf8Stream). At the largest temperature the draws are near uniform over the 256 bytes: half of them
// cannot start a UTF-8 sequence.
TEST_F(GptRun, SampleWritesUtf8EndingInANewline) {
  ASSERT_EQ(run_->exit_code, 0) << run_->output;
  const std::string args = " --run " + out() + " --tokens 300 --temperature 1000 --seed 11";
  ASSERT_EQ(run_to_file(binary() + " sample --raw" + args, *dir_ / "raw.bin").exit_code, 0);
  ASSERT_EQ(run_to_file(binary() + " sample" + args, *dir_ / "text.txt").exit_code, 0);
  const std::string raw = read_bytes(*dir_ / "raw.bin"), text = read_bytes(*dir_ / "text.txt");
  ASSERT_EQ(raw.size(), 300u);
  EXPECT_FALSE(is_utf8(raw));
  EXPECT_TRUE(is_utf8(text));
  Utf8Stream utf8;
  std::string expected;
  for (char byte : raw) expected += utf8.push(byte);
  expected += utf8.finish();
  if (expected.back() != '\n') expected += '\n';
  EXPECT_EQ(text, expected);
}

// Sampling at a temperature is a function of the seed.
TEST_F(GptRun, SampleIsSeeded) {
  ASSERT_EQ(run_->exit_code, 0) << run_->output;
  const auto draw = [](int seed) {
    const std::string file = *dir_ / ("seed" + std::to_string(seed) + ".txt");
    const Command c =
        run_to_file(binary() + " sample --raw --run " + out() + " --tokens 48 --temperature 1 --seed " + std::to_string(seed), file);
    EXPECT_EQ(c.exit_code, 0) << c.output;
    return read_bytes(file);
  };
  const std::string first = draw(3);
  EXPECT_EQ(first.size(), 48u);
  EXPECT_EQ(first, draw(3));
  EXPECT_NE(first, draw(4));  // ~2.5 nats per byte: two seeds agree on 48 bytes with probability ~e^−120
}

// Generated text is streamed, each byte written as it is made: the first bytes of a million (minutes of
// generation) reach the reader while sample still runs. It used to print nothing until the end.
TEST_F(GptRun, SampleStreamsItsOutput) {
  ASSERT_EQ(run_->exit_code, 0) << run_->output;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const std::string command = binary() + " sample --run " + out() + " --tokens 1000000 --prompt 'A'";
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    execl("/bin/sh", "sh", "-c", ("exec " + command + " 2>/dev/null").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipe_fds[1]);
  // The prompt and 15 generated bytes, waited for up to two minutes (a million take far longer).
  std::string head;
  pollfd readable{pipe_fds[0], POLLIN, 0};
  while (head.size() < 16 && poll(&readable, 1, 120000) == 1) {
    char buffer[16];
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer - head.size());
    if (n <= 0) break;
    head.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  const bool still_running = waitpid(pid, &status, WNOHANG) == 0;
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  close(pipe_fds[0]);
  ASSERT_EQ(head.size(), 16u);
  EXPECT_EQ(head.front(), 'A');
  EXPECT_TRUE(still_running) << "the bytes came only when sample had finished";
}

// A trace-replay run (heterogeneity.profile = "trace") whose trace file is gone: sample does not need it
// (the model is in config.toml and the checkpoint; the run id ties them together) and writes the same
// text as while the trace was there. It used to refuse the run, naming the missing trace.
TEST(GptSample, ATraceRunSamplesWithoutItsTraceFile) {
  TempDir dir("gpt-sample-trace");
  const std::string trace = dir / "trace.csv", out = dir / "run";
  write_file(trace, "worker,seconds\n1,0.01\n2,0.02\n3,0.03\n4,0.04\n");
  ASSERT_EQ(run(binary() + " simulate -c " + kTinyConfig + " --set heterogeneity.profile=trace --set heterogeneity.trace=" +
                trace + " --set run.time_budget_s=1 --out " + out)
                .exit_code,
            0);
  const std::string sample = binary() + " sample --raw --run " + out + " --tokens 32 --seed 5";
  const Command with = run_to_file(sample, dir / "with.txt");
  ASSERT_EQ(with.exit_code, 0) << with.output;
  fs::remove(trace);
  const Command without = run_to_file(sample, dir / "without.txt");
  ASSERT_EQ(without.exit_code, 0) << without.output;
  EXPECT_EQ(read_bytes(dir / "without.txt"), read_bytes(dir / "with.txt"));
  EXPECT_EQ(read_bytes(dir / "without.txt").size(), 32u);
  // The run id still ties the checkpoint to its directory: another run's checkpoint is refused.
  write_file(fs::path(out) / "run_id", "0123456789abcdef\n");
  const Command foreign = run_to_file(sample, "/dev/null");
  EXPECT_EQ(foreign.exit_code, 2) << foreign.output;
  EXPECT_NE(foreign.output.find("belongs to another run"), std::string::npos) << foreign.output;
}

TEST(GptSample, RefusesWhatIsNotAGptRun) {
  TempDir dir("gpt-sample-refuse");
  const std::string quadratic = dir / "quadratic";
  const std::string config = write_test_quadratic(dir / "q.toml", {{"run.time_budget_s", "0.2"}});
  ASSERT_EQ(run(binary() + " simulate -c " + config + " --out " + quadratic).exit_code, 0);
  Command c = run(binary() + " sample --run " + quadratic);
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("--run " + quadratic + ": a run of objective.kind = \"quadratic\""), std::string::npos)
      << c.output;
  c = run(binary() + " sample --run " + dir / "missing");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find(dir / "missing"), std::string::npos) << c.output;
  c = run(binary() + " sample --run " + quadratic + " --tokens 0");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("--tokens takes an integer in [1, 1000000], got '0'"), std::string::npos) << c.output;
}

// A bad corpus: exit 2, the message names objective.gpt.corpus and the path, no run directory.
struct CorpusCase {
  std::string name;
  std::function<std::string(const TempDir&)> make;  // returns the corpus path
  std::string message;                               // after the path
};

std::vector<CorpusCase> corpus_cases() {
  return {
      {"missing", [](const TempDir& d) { return d / "nowhere"; }, ": no such file or directory"},
      {"empty_file",
       [](const TempDir& d) {
         write_file(d.path() / "empty.txt", "");
         return d / "empty.txt";
       },
       ": the corpus is empty"},
      {"empty_dir",
       [](const TempDir& d) {
         fs::create_directories(d.path() / "empty-dir");
         return d / "empty-dir";
       },
       ": the directory holds no regular file"},
      {"too_short_to_split",  // two documents: one of 12 bytes per side, less than a window of 17
       [](const TempDir& d) {
         write_file(d.path() / "short.txt", "a fortune.\n%\nand another\n");
         return d / "short.txt";
       },
       ": its "},
  };
}

void expect_refused(const Command& result, const std::string& corpus, const std::string& message, const std::string& out) {
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("objective.gpt.corpus: " + corpus + message), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(out)) << "a run directory was created:\n" << result.output;
}

TEST(GptCorpus, EveryBadCorpusIsExit2NamingThePathWithoutRunDirectory) {
  TempDir dir("gpt-corpus");
  for (const CorpusCase& c : corpus_cases()) {
    SCOPED_TRACE(c.name);
    const std::string corpus = c.make(dir);
    const std::string out = dir / ("run-" + c.name);
    expect_refused(run(binary() + " simulate -c " + kTinyConfig + " --set objective.gpt.corpus=" + corpus + " --out " + out),
                   corpus, c.message, out);
  }
}

TEST(GptCorpus, MpiEngineRefusesABadCorpusBeforeMakingTheRunDirectory) {
  TempDir dir("gpt-corpus-mpi");
  const CorpusCase c = corpus_cases()[1];  // empty file
  const std::string corpus = c.make(dir);
  const std::string out = dir / "run";
  expect_refused(run(mpirun(3, "-c " + kTinyConfig + " --set objective.gpt.corpus=" + corpus + " --out " + out)), corpus,
                 c.message, out);
}

// A resume checks the corpus against the fingerprint its checkpoint recorded (docs/method.md §8 "Data
// fingerprints"): a file removed from the corpus directory, or one edited, under the same path is exit 2
// naming the file and nothing is appended to the run (it continued, exit 0: the configuration hash covers
// the corpus's path, not its content); with the corpus as it was, the run resumes. A checkpoint from before
// fingerprints resumes with one warning that nothing is checked.
TEST(GptCorpus, ResumeRefusesACorpusThatChangedSinceItsCheckpoint) {
  TempDir dir("gpt-corpus-resume");
  const std::string corpus = dir / "corpus";
  const auto write_corpus = [&corpus] {
    fs::remove_all(corpus);
    fs::create_directories(corpus);
    for (const char* name : {"a.txt", "b.txt", "c.txt"}) {
      std::string text;
      for (int d = 0; d < 40; ++d)
        text += std::string(name) + ": fortune number " + std::to_string(d) + ", not short\n%\n";
      write_file(fs::path(corpus) / name, text);
    }
  };
  write_corpus();
  const std::string out = dir / "run";
  const std::string first = binary() + " simulate -c " + kTinyConfig + " --set objective.gpt.corpus=" + corpus +
                            " --set run.max_updates=20 --out " + out;
  const Command started = run(first);
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const std::string resume = binary() + " simulate --resume " + out + " --set run.max_updates=40";
  const std::string events = read_bytes(out + "/events.csv");

  fs::rename(fs::path(corpus) / "c.txt", dir / "c.txt");
  Command refused = run(resume);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("checkpoint " + out + "/checkpoint.bin: the run's data changed since it was written: " +
                                corpus + ": c.txt disappeared (it had "),
            std::string::npos)
      << refused.output;
  fs::rename(dir / "c.txt", fs::path(corpus) / "c.txt");
  write_file(fs::path(corpus) / "b.txt", "b.txt: rewritten since the checkpoint, one long document now\n");
  refused = run(resume);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find(": b.txt changed ("), std::string::npos) << refused.output;
  EXPECT_EQ(read_bytes(out + "/events.csv"), events) << "a refused resume appended to the run";

  // The same corpus again (b.txt as it was): resumed. Then the checkpoint as an earlier version wrote it.
  write_corpus();
  const Command resumed = run(resume);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(resumed.output.find("records no fingerprint"), std::string::npos) << resumed.output;
  Checkpoint old = read_checkpoint(out + "/checkpoint.bin");
  ASSERT_TRUE(old.data.has_value());
  EXPECT_EQ(old.data->files.size(), 3u);
  old.data.reset();
  write_checkpoint(out + "/checkpoint.bin", old);
  const Command from_old = run(binary() + " simulate --resume " + out + " --set run.max_updates=60");
  EXPECT_EQ(from_old.exit_code, 0) << from_old.output;
  EXPECT_NE(from_old.output.find("records no fingerprint of the run's data (it was written by an earlier version): " +
                                 corpus + " is not checked"),
            std::string::npos)
      << from_old.output;
}

}  // namespace
}  // namespace ringmaster
