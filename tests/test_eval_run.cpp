// `ringmaster eval` through the real binary (docs/method.md §10): a run's final checkpoint evaluated again prints
// the digits of its last eval.csv row — the same evaluation code on the same parameters, for every objective and
// both engines; data the user names is evaluated the way the run's own is (a text holding exactly the validation
// documents gives the validation loss; the Fashion-MNIST test pair named by hand gives the test loss); a damaged
// or foreign checkpoint, a run whose data changed since, and data that cannot be read, are exit 2 naming the file.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "objectives/text_corpus.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace testing;

const std::string kTinyGpt = source_dir() + "/tests/configs/good/gpt_tiny.toml";
const std::string kMnistDir = "/usr/share/datasets/fashion-mnist";

// The last eval.csv row of `run` without its train_loss column, and eval.csv's header without it: what
// `ringmaster eval --run` prints for a run's final checkpoint.
std::string last_row_without_train_loss(const fs::path& run) {
  std::ifstream in(run / "eval.csv");
  std::string header, line, last;
  std::getline(in, header);
  while (std::getline(in, line)) last = line;
  const bool train_loss = header.ends_with(",train_loss");
  if (train_loss) {
    header.erase(header.rfind(','));
    last.erase(last.rfind(','));
  }
  return header + "\n" + last + "\n";
}

// `ringmaster eval ARGS` with stdout alone in `out` (stderr goes to the returned output).
Command eval(const std::string& args, const std::string& out) {
  std::string shell = "(";  // built by appending: GCC 12 warns (-Wrestrict, falsely) on "(" + std::string
  shell += binary() + " eval " + args + " > " + out + ")";
  return run(shell);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void expect_reproduces_last_row(const std::string& run_dir, const std::string& extra, const TempDir& dir) {
  const std::string out = dir / "eval.out";
  const Command c = eval("--run " + run_dir + extra, out);
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(read_text(out), last_row_without_train_loss(run_dir)) << c.output;
}

// The run's final evaluation and its final checkpoint are taken at the same k after the workers stopped
// (docs/method.md §8), and eval computes through evaluate_snapshot on one BLAS thread as the run did: every
// digit of the row is the same, under either engine.
TEST(EvalRun, ReproducesTheLastEvalRowOfAGptSimulation) {
  TempDir dir("eval-gpt-sim");
  const std::string out = dir / "run";
  const Command sim = run(binary() + " simulate -c " + kTinyGpt + " --set run.time_budget_s=1.5 --out " + out);
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  expect_reproduces_last_row(out, "", dir);
}

TEST(EvalRun, ReproducesTheLastEvalRowOfAnMpiRun) {
  TempDir dir("eval-gpt-mpi");
  const std::string out = dir / "run";
  const Command mpi = run(mpirun(3, "-c " + kTinyGpt + " --set run.time_budget_s=1.5 --out " + out));
  ASSERT_EQ(mpi.exit_code, 0) << mpi.output;
  expect_reproduces_last_row(out, "", dir);
}

TEST(EvalRun, ReproducesTheLastEvalRowOfAQuadraticAndRefusesDataForIt) {
  TempDir dir("eval-quadratic");
  const std::string out = dir / "run";
  const std::string config = write_test_quadratic(dir / "q.toml", {{"run.time_budget_s", "0.5"}});
  ASSERT_EQ(run(binary() + " simulate -c " + config + " --out " + out).exit_code, 0);
  expect_reproduces_last_row(out, "", dir);
  write_file(dir.path() / "text.txt", "some text\n");
  const Command c = eval("--run " + out + " --data " + (dir / "text.txt"), dir / "eval.out");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("--data (a run of objective.kind = \"quadratic\"): "), std::string::npos) << c.output;
  EXPECT_EQ(read_text(dir / "eval.out"), "");
}

// A text holding exactly the validation documents, separated by `%` lines, is read into the validation stream
// byte for byte (load_text_stream: the documents, each followed by byte 0), so its windows, and the loss over
// them, are the run's own: the same row. A corpus of our own documents, each ending in a newline, so that
// joining them with `%` lines gives the same documents back.
TEST(EvalRun, DataHoldingTheValidationDocumentsGivesTheValidationLoss) {
  TempDir dir("eval-gpt-data");
  std::string corpus, validation;
  std::vector<std::string> documents;
  for (int d = 0; d < 300; ++d) {
    std::string document;
    for (int w = 0; w < 3 + d % 7; ++w) document += "word" + std::to_string((d * 31 + w * 17) % 97) + (w % 4 == 3 ? "\n" : " ");
    document += "end of " + std::to_string(d) + "\n";
    documents.push_back(document);
    corpus += (d ? "%\n" : "") + document;
  }
  write_file(dir.path() / "corpus.txt", corpus);
  const std::string out = dir / "run";
  const Command sim = run(binary() + " simulate -c " + kTinyGpt + " --set run.time_budget_s=1 --set objective.gpt.corpus=" +
                          (dir / "corpus.txt") + " --set objective.gpt.validation_fraction=0.2 --out " + out);
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  // The split of the run: run.seed 0 (the config's default), context 16.
  const TextCorpus split = load_text_corpus(dir / "corpus.txt", 0.2, 0, 16);
  for (std::size_t i = 0; i < split.validation_documents.size(); ++i)
    validation += (i ? "%\n" : "") + documents[split.validation_documents[i]];
  write_file(dir.path() / "validation.txt", validation);
  expect_reproduces_last_row(out, " --data " + (dir / "validation.txt"), dir);

  // Another text: another loss; the same time_s and k (the checkpoint's) and grad_dual_norm (over the training
  // subset, which --data does not change).
  write_file(dir.path() / "other.txt", "Something else entirely, which the run never saw in this form.\n");
  const Command other = eval("--run " + out + " --data " + (dir / "other.txt"), dir / "other.csv");
  ASSERT_EQ(other.exit_code, 0) << other.output;
  write_file(dir.path() / "last.csv", last_row_without_train_loss(out));
  const auto got = read_csv(dir.path() / "other.csv"), expected = read_csv(dir.path() / "last.csv");
  ASSERT_EQ(got.size(), 1u);
  for (const char* column : {"time_s", "k", "grad_dual_norm"}) EXPECT_EQ(got[0].at(column), expected.at(0).at(column));
  EXPECT_NE(got[0].at("loss"), expected.at(0).at("loss"));

  // What is not a text to evaluate: one line naming the file, exit 2, nothing on stdout.
  write_file(dir.path() / "short.txt", "too short\n");  // 11 bytes: less than a window of 17
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  for (const auto& [data, message] : std::vector<std::pair<std::string, std::string>>{
           {dir / "short.txt", "11 bytes with their end-of-document bytes, shorter than one window of context + 1 = 17 bytes"},
           {dir / "missing.txt", "no such file or directory"},
           {dir / "fifo", "is not a regular file"}}) {
    SCOPED_TRACE(data);
    const Command c = eval("--run " + out + " --data " + data, dir / "bad.out");
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find("--data (a run of objective.kind = \"gpt\"): " + data + ": " + message), std::string::npos)
        << c.output;
    EXPECT_EQ(read_text(dir / "bad.out"), "");
  }
  const Command labels = eval("--run " + out + " --data " + (dir / "other.txt") + " --labels " + (dir / "other.txt"),
                              dir / "bad.out");
  EXPECT_EQ(labels.exit_code, 2) << labels.output;
  EXPECT_NE(labels.output.find("--labels is for an mlp run's IDX pair"), std::string::npos) << labels.output;

  // The run's corpus changed since: its data fingerprint (in the checkpoint) no longer matches what eval reads.
  write_file(dir.path() / "corpus.txt", corpus + "%\none more document\n");
  const Command changed = eval("--run " + out, dir / "bad.out");
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  EXPECT_NE(changed.output.find("checkpoint " + out + "/checkpoint.bin: the run's data changed since it was written: "),
            std::string::npos)
      << changed.output;
}

// The mlp: the test set as the run read it, and the same two files named with --data and --labels, both give
// the run's last row (loss and accuracy); an IDX pair that does not go together is refused naming the file.
TEST(EvalRun, AnMlpRunOnItsTestSetAndOnAnIdxPairNamedByHand) {
  if (!fs::is_directory(kMnistDir)) GTEST_SKIP() << "the Debian package dataset-fashion-mnist is not installed";
  TempDir dir("eval-mlp");
  const std::string out = dir / "run";
  const Command sim = run(binary() + " simulate -c " + source_dir() +
                          "/configs/fashion_mnist.toml --set run.time_budget_s=0.5 --set run.eval_every_s=0.25 "
                          "--set heterogeneity.compute_s=0.01 --out " + out);
  ASSERT_EQ(sim.exit_code, 0) << sim.output;
  expect_reproduces_last_row(out, "", dir);
  const std::string images = kMnistDir + "/t10k-images-idx3-ubyte.gz", labels = kMnistDir + "/t10k-labels-idx1-ubyte.gz";
  expect_reproduces_last_row(out, " --data " + images + " --labels " + labels, dir);
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {" --data " + images, "an mlp run evaluates an IDX pair: add --labels FILE"},
           {" --data " + images + " --labels " + kMnistDir + "/train-labels-idx1-ubyte.gz",
            images + ": holds 10000 images but " + kMnistDir + "/train-labels-idx1-ubyte.gz holds 60000 labels"},
           // swapped: refused at the "labels" file (images, not labels: by its magic number or its size)
           {" --data " + labels + " --labels " + images, "(a run of objective.kind = \"mlp\"): " + images + ": "},
           {" --labels " + labels, "--labels " + labels + ": the labels of the images of --data IMAGES"}}) {
    SCOPED_TRACE(args);
    const Command c = eval("--run " + out + args, dir / "bad.out");
    EXPECT_EQ(c.exit_code, 2) << c.output;
    EXPECT_NE(c.output.find(message), std::string::npos) << c.output;
    EXPECT_EQ(c.output.find("dataset-fashion-mnist"), std::string::npos) << "a user's file named the package";
  }
}

// As `ringmaster sample` refuses them (the same reader): a checkpoint whose bytes changed, one written by another
// configuration, none yet, and what is not a run directory.
TEST(EvalRun, RefusesADamagedOrForeignCheckpoint) {
  TempDir dir("eval-refuse");
  const std::string a = dir / "a", b = dir / "b";
  const std::string config = write_test_quadratic(dir / "q.toml", {{"run.time_budget_s", "0.3"}});
  ASSERT_EQ(run(binary() + " simulate -c " + config + " --out " + a).exit_code, 0);
  ASSERT_EQ(run(binary() + " simulate -c " + config + " --set method.stepsize=0.03 --out " + b).exit_code, 0);
  const fs::path checkpoint = fs::path(a) / "checkpoint.bin";
  const std::string good = read_text(checkpoint);

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x01;
  write_file(checkpoint, flipped);
  Command c = eval("--run " + a, dir / "out");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("checkpoint " + checkpoint.string() + ": checksum mismatch"), std::string::npos) << c.output;

  fs::copy_file(fs::path(b) / "checkpoint.bin", checkpoint, fs::copy_options::overwrite_existing);
  c = eval("--run " + a, dir / "out");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("checkpoint " + checkpoint.string() + ": written by a different configuration than " + a +
                          "/config.toml"),
            std::string::npos)
      << c.output;

  fs::remove(checkpoint);
  c = eval("--run " + a, dir / "out");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("--run " + a + ": no checkpoint.bin yet"), std::string::npos) << c.output;

  c = eval("--run " + config, dir / "out");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("--run " + config + ": not a directory"), std::string::npos) << c.output;
  c = eval("", dir / "out");
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_NE(c.output.find("eval: missing --run DIR"), std::string::npos) << c.output;
}

}  // namespace
}  // namespace ringmaster
