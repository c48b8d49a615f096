#include "ringmaster/cli.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <type_traits>

// cxxopts splits repeated-option values on ',' by default, which would cut `--set list=[1.0,2.0]`
// in two: --set values are whole TOML values, never lists of options.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "ringmaster/bench.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/engine.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/eval_run.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/sample.hpp"
#include "ringmaster/text.hpp"
#include "ringmaster/update_executor.hpp"

namespace ringmaster {
namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  mpirun -np N+1 ringmaster train -c FILE [--set section.key=value]... [--out DIR | --name NAME] [--force]\n"
    "  mpirun -np N+1 ringmaster train --resume DIR [-c FILE] [--set section.key=value]...\n"
    "  ringmaster simulate -c FILE [--set section.key=value]... [--out DIR | --name NAME] [--force]\n"
    "  ringmaster simulate --resume DIR [-c FILE] [--set section.key=value]...\n"
    "  ringmaster bench lmo [--shape MxN]... [--json]\n"
    "  ringmaster bench mlp [--hidden W1,W2]... [--batch B]... [--json] [--python PATH]\n"
    "  ringmaster bench gpt [--model L,H,C,T,B]... [--json] [--python PATH]\n"
    "  ringmaster bench server [-c FILE]... [--set section.key=value]... [--backend NAME]... [--threads N]...\n"
    "                          [--min-mflop F] [--json]\n"
    "  ringmaster sample --run DIR [--prompt TEXT] [--tokens N] [--temperature T] [--seed S] [--raw]\n"
    "  ringmaster eval --run DIR [--data FILE [--labels FILE]]\n"
    "  ringmaster --version\n"
    "  ringmaster help [COMMAND]          (the same as ringmaster COMMAND --help; bench WHAT --help for each benchmark)\n";

constexpr const char* kCommands =
    "commands: train, simulate, bench, sample, eval, help; ringmaster help prints the usage";

// Under mpirun or srun every rank parses the same arguments: only the first rank reports problems.
bool first_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(var)) return std::string(v) == "0";
  }
  return true;
}

// The value of `--option` of `command` (text as typed) as a number of type T in [lo, hi]; anything else is
// an Error naming the option, what it takes and what it got, in one line (cxxopts's own conversion says
// only "Argument 'x' failed to parse", and a NaN would pass it).
template <class T>
T number(const std::string& command, const std::string& option, const std::string& text, T lo, T hi) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || !(value >= lo && value <= hi))
    throw Error(fmt::format("{}: --{} takes {} in [{}, {}], got '{}'", command, option,
                            std::is_integral_v<T> ? "an integer" : "a number", lo, hi, shown(text)));
  return value;
}

// The same for every value of a repeatable option (none given: empty).
template <class T>
std::vector<T> numbers(const std::string& command, const cxxopts::ParseResult& args, const std::string& option, T lo,
                       T hi) {
  std::vector<T> values;
  if (args.count(option))
    for (const std::string& text : args[option].as<std::vector<std::string>>())
      values.push_back(number(command, option, text, lo, hi));
  return values;
}

// An argument no option took.
Error unexpected(const std::string& command, const cxxopts::ParseResult& args) {
  return Error(command + ": unexpected argument '" + shown(args.unmatched().front()) + "'");
}

cxxopts::Options run_options(const std::string& command, const std::string& what) {
  cxxopts::Options options("ringmaster " + command, what);
  options.add_options()                                                          //
      ("c,config", "TOML configuration file (keys: docs/configuration.md)", cxxopts::value<std::string>())  //
      ("set", "override one key: section.key=value (repeatable)", cxxopts::value<std::vector<std::string>>())  //
      ("out", "run directory (default runs/<date>-<time>-<method>)", cxxopts::value<std::string>())  //
      ("name", "name the run: its directory is runs/<date>-<time>-NAME (letters, digits, . _ + -)",
       cxxopts::value<std::string>())  //
      ("force", "write into an existing non-empty --out directory")                 //
      ("resume", "continue the run in DIR from its checkpoint (config defaults to DIR/config.toml)",
       cxxopts::value<std::string>())  //
      ("h,help", "show this help");
  return options;
}

// `argv`: the whole command line (the program, the command, its options).
RunRequest parse_run(cxxopts::Options& options, int argc, char** argv) {
  const auto args = options.parse(argc - 1, argv + 1);
  if (!args.unmatched().empty()) throw unexpected(argv[1], args);
  RunRequest r;
  if (args.count("resume")) r.resume = args["resume"].as<std::string>();
  if (args.count("config"))
    r.config_path = args["config"].as<std::string>();
  else if (!r.resume.empty())
    r.config_path = (std::filesystem::path(r.resume) / "config.toml").string();  // the run's own resolved config
  else
    throw Error("missing -c/--config FILE");
  if (args.count("set")) r.overrides = args["set"].as<std::vector<std::string>>();
  // A resumed run writes where it ran: a new place for it is refused, however it is asked for.
  if (!r.resume.empty() && args.count("out")) throw Error("--resume continues in its own directory: drop --out");
  if (const std::string* out = r.resume.empty() ? nullptr : find_override(r.overrides, "run.out"))
    throw Error("--set " + shown(*out) + ": --resume continues in its own directory: drop it");
  if (args.count("out")) r.out = args["out"].as<std::string>();
  if (args.count("name")) {
    r.name = args["name"].as<std::string>();
    check_run_name(r.name);
    if (!r.resume.empty()) throw Error("--name " + shown(r.name) + ": --resume continues in its own directory: drop --name");
    if (!r.out.empty()) throw Error("--name " + shown(r.name) + ": --out gives the run's directory itself: use one of them");
  }
  r.force = args.count("force") > 0;
  r.argv.assign(argv, argv + argc);
  return r;
}

// The benchmarks (docs/method.md §10, docs/benchmarks.md), each with its own options and help text.
struct BenchCommand {
  const char* what;
  const char* description;
};
constexpr BenchCommand kBenchCommands[] = {
    {"lmo", "LMO back-ends against plain sgemm of the same size, measured in the same run, with the "
            "orthogonality of each result"},
    {"mlp", "the MLP's forward+backward against PyTorch's, both on one thread, interleaved in one run"},
    {"gpt", "the gpt network's forward+backward against PyTorch's, with GFLOP/s against sgemm and the server's "
            "update time beside one gradient"},
    {"server", "the server's update (momentum + every block's LMO) on a config's layout with 1, 2, ... threads "
               "and each spectral back-end, against one thread's sgemm, interleaved in one run"},
};

// Every bench option, with the benchmarks that take it.
struct BenchOption {
  const char* name;
  const char* help;
  const char* used_by;  // space-separated benchmarks
  enum Kind { repeated, single, flag } kind;
  const char* default_value = nullptr;
};
constexpr BenchOption kBenchOptions[] = {
    {"shape", "matrix shape MxN (repeatable)", "lmo", BenchOption::repeated},
    {"hidden", "hidden widths W1,W2,... (repeatable)", "mlp", BenchOption::repeated},
    {"batch", "minibatch size (repeatable)", "mlp", BenchOption::repeated},
    {"model", "layers,heads,width,context,batch (repeatable)", "gpt", BenchOption::repeated},
    {"c,config", "a config whose objective's layout to update (repeatable)", "server", BenchOption::repeated},
    {"set", "override one key of every config: section.key=value (repeatable)", "server", BenchOption::repeated},
    {"backend", "a spectral back-end (lmo.backend) to time side by side (repeatable)", "server",
     BenchOption::repeated},
    {"threads", "threads of the update (repeatable)", "server", BenchOption::repeated},
    {"min-mflop", "updates of fewer LMO MFLOP keep one thread (the server's threshold by default)", "server",
     BenchOption::single},
    {"python", "the Python with torch", "mlp gpt", BenchOption::single, "/usr/bin/python3"},
    {"json", "print JSON (docs/method.md §10)", "lmo mlp gpt server", BenchOption::flag},
};

bool takes(const BenchOption& option, const std::string& what) {
  const std::string used_by = std::string(" ") + option.used_by + " ";
  return used_by.find(" " + what + " ") != std::string::npos;
}

// The options of `ringmaster bench WHAT` (its own only: `bench lmo --batch 8` is an unknown option).
cxxopts::Options bench_options(const BenchCommand& command) {
  cxxopts::Options options(std::string("ringmaster bench ") + command.what, command.description);
  for (const BenchOption& o : kBenchOptions) {
    if (!takes(o, command.what)) continue;
    if (o.kind == BenchOption::flag)
      options.add_options()(o.name, o.help);
    else if (o.kind == BenchOption::single)
      options.add_options()(o.name, o.help,
                            o.default_value ? cxxopts::value<std::string>()->default_value(o.default_value)
                                            : cxxopts::value<std::string>());
    else
      options.add_options()(o.name, o.help, cxxopts::value<std::vector<std::string>>());
  }
  options.add_options()("h,help", "show this help");
  return options;
}

std::string bench_names() {
  std::string names;
  for (const BenchCommand& c : kBenchCommands) names += (names.empty() ? "" : ", ") + std::string(c.what);
  return names;
}

std::string bench_help() {
  std::string text = "usage: ringmaster bench WHAT [options]   (ringmaster bench WHAT --help: its options)\n";
  for (const BenchCommand& c : kBenchCommands) text += fmt::format("  {:<7} {}\n", c.what, c.description);
  return text;
}

int bench(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what.empty() || what == "-h" || what == "--help") {
    if (what.empty()) throw Error("bench: what to benchmark? (available: " + bench_names() + "; ringmaster bench --help)");
    std::cout << bench_help();
    return kExitOk;
  }
  const BenchCommand* command = nullptr;
  for (const BenchCommand& c : kBenchCommands)
    if (what == c.what) command = &c;
  if (!command)
    throw Error("bench: what to benchmark? (available: " + bench_names() + "; got '" + shown(what) + "')");
  cxxopts::Options options = bench_options(*command);
  const auto args = options.parse(argc - 1, argv + 1);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return kExitOk;
  }
  if (!args.unmatched().empty()) throw unexpected("bench " + what, args);
  const bool json = args.count("json") > 0;
  const auto strings = [&](const char* key) {
    return args.count(key) ? args[key].as<std::vector<std::string>>() : std::vector<std::string>{};
  };
  if (what == "lmo") return bench_lmo(strings("shape"), json);
  if (what == "mlp") {
    // A minibatch is at most the training set (60,000 images).
    return bench_mlp(strings("hidden"), numbers("bench mlp", args, "batch", 1, 60000), json,
                     args["python"].as<std::string>(), "");
  }
  if (what == "gpt") return bench_gpt(strings("model"), json, args["python"].as<std::string>(), "");
  if (what == "server") {
    const double min_flops = args.count("min-mflop") ? number("bench server", "min-mflop", args["min-mflop"].as<std::string>(),
                                                              0.0, 1e12) * 1e6
                                                     : kMinParallelFlops;
    return bench_server(strings("config"), strings("set"), strings("backend"),
                        numbers("bench server", args, "threads", 1, 1024), min_flops, json);
  }
  throw Error("bench: no benchmark '" + shown(what) + "'");  // unreachable: kBenchCommands lists the four
}

// The options of a command that reads a run directory (sample, eval): nothing after printing --help; a stray
// argument or a missing --run DIR is an Error.
std::optional<cxxopts::ParseResult> parse_run_reader(cxxopts::Options& options, int argc, char** argv,
                                                     const std::string& command) {
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return std::nullopt;
  }
  if (!args.unmatched().empty()) throw unexpected(command, args);
  if (!args.count("run")) throw Error(command + ": missing --run DIR");
  return args;
}

// Text from a gpt run's checkpoint on stdout: as UTF-8 (what is not UTF-8 in the bytes the network made is
// U+FFFD) ending in a newline, or with --raw the bytes as they are made (byte 0 is its end-of-document
// token).
int sample(int argc, char** argv) {
  cxxopts::Options options("ringmaster sample", "Generate text from a gpt run's newest checkpoint");
  const SampleRequest defaults;
  options.add_options()                                                                              //
      ("run", "the run directory (objective.kind = \"gpt\")", cxxopts::value<std::string>())           //
      ("prompt", "the start of the text (a document's start)", cxxopts::value<std::string>()->default_value(""))  //
      ("tokens", "bytes to generate", cxxopts::value<std::string>()->default_value(std::to_string(defaults.tokens)))  //
      ("temperature", "softmax temperature; 0 = always the most likely byte",
       cxxopts::value<std::string>()->default_value("1.0"))                                          //
      ("seed", "seed of the draws (temperature > 0)", cxxopts::value<std::string>()->default_value("0"))  //
      ("raw", "write the bytes as made: no U+FFFD for bytes that are not UTF-8, no final newline")  //
      ("h,help", "show this help");
  const std::optional<cxxopts::ParseResult> parsed = parse_run_reader(options, argc, argv, "sample");
  if (!parsed) return kExitOk;
  const cxxopts::ParseResult& args = *parsed;
  SampleRequest request;
  request.run = args["run"].as<std::string>();
  request.prompt = args["prompt"].as<std::string>();
  // A million bytes is hours of generation on a CPU; beyond a temperature of 1000 the draws are uniform.
  request.tokens = number("sample", "tokens", args["tokens"].as<std::string>(), 1, 1000000);
  request.temperature = number("sample", "temperature", args["temperature"].as<std::string>(), 0.0, 1000.0);
  request.seed = number("sample", "seed", args["seed"].as<std::string>(), std::uint64_t{0},
                        std::numeric_limits<std::uint64_t>::max());
  const bool raw = args.count("raw") > 0;
  Utf8Stream utf8;
  char last = '\0';  // the last byte written
  const auto put = [&](std::string_view bytes) {
    if (bytes.empty()) return;
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    if (!std::cout) throw RuntimeFailure("sample: cannot write to stdout");
    last = bytes.back();
  };
  // Streamed: each byte is flushed as it is made (a million of them take minutes); in text mode a UTF-8
  // sequence waits for its last byte.
  sample_run(request, [&](std::string_view bytes) {
    if (raw) return put(bytes);
    for (char byte : bytes) put(utf8.push(byte));
  });
  if (!raw) {
    put(utf8.finish());
    if (last != '\n') put("\n");
  }
  return kExitOk;
}

// The loss of a run's newest checkpoint, as eval.csv's header and one row on stdout.
int evaluate(int argc, char** argv) {
  cxxopts::Options options("ringmaster eval", "The loss (and accuracy) of a run's newest checkpoint, as an eval.csv row");
  options.add_options()                                                                                        //
      ("run", "the run directory", cxxopts::value<std::string>())                                                 //
      ("data", "evaluate on this data instead of the run's: a text file (gpt), an IDX images file (mlp)",
       cxxopts::value<std::string>())                                                                             //
      ("labels", "mlp: the IDX labels file of --data", cxxopts::value<std::string>())                              //
      ("h,help", "show this help");
  const std::optional<cxxopts::ParseResult> parsed = parse_run_reader(options, argc, argv, "eval");
  if (!parsed) return kExitOk;
  const cxxopts::ParseResult& args = *parsed;
  EvalRequest request;
  request.run = args["run"].as<std::string>();
  if (args.count("data")) request.data.path = args["data"].as<std::string>();
  if (args.count("labels")) request.data.labels = args["labels"].as<std::string>();
  std::cout << evaluate_run(request) << std::flush;
  if (!std::cout) throw RuntimeFailure("eval: cannot write to stdout");
  return kExitOk;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) throw Error(std::string("missing command (") + kCommands + ")");
  const std::string command = argv[1];
  if (command == "-h" || command == "--help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "help") {
    // `ringmaster help COMMAND [WHAT]` is `ringmaster COMMAND [WHAT] --help`.
    if (argc < 3) {
      std::cout << kUsage;
      return kExitOk;
    }
    static char help_flag[] = "--help";
    std::vector<char*> asked{argv[0]};
    asked.insert(asked.end(), argv + 2, argv + argc);
    asked.push_back(help_flag);
    const std::string topic = asked[1];
    if (topic == "help" || topic == "version" || topic == "--version") {
      std::cout << kUsage;
      return kExitOk;
    }
    return dispatch(static_cast<int>(asked.size()), asked.data());
  }
  if (command == "--version" || command == "version") {
    // Set by CMake at configure time (CMakeLists.txt): the project version and `git rev-parse --short
    // HEAD`, with "-dirty" for a tree with changes, "unknown" outside git.
    std::cout << "ringmaster " << RINGMASTER_VERSION << " (commit " << RINGMASTER_GIT_COMMIT << ")\n";
    return kExitOk;
  }
  if (command == "train" || command == "simulate") {
    auto options = run_options(command, command == "train" ? "Train with the MPI engine (rank 0 serves, ranks 1..N work)"
                                                           : "Simulate on a virtual clock, in one process");
    if (command == "train") {
      // Parse first; MPI starts only for a valid command line.
      RunRequest request;
      bool help = false;
      for (int i = 2; i < argc; ++i) help = help || std::string(argv[i]) == "-h" || std::string(argv[i]) == "--help";
      if (help) {
        std::cout << options.help() << "\n";
        return kExitOk;
      }
      request = parse_run(options, argc, argv);
      return run_mpi(request, argc, argv);
    }
    const auto peek = options.parse(argc - 1, argv + 1);
    if (peek.count("help")) {
      std::cout << options.help() << "\n";
      return kExitOk;
    }
    const RunRequest request = parse_run(options, argc, argv);
    return run_sim(request);
  }
  if (command == "bench") return bench(argc - 1, argv + 1);
  if (command == "sample") return sample(argc - 1, argv + 1);
  if (command == "eval") return evaluate(argc - 1, argv + 1);
  throw Error("unknown command '" + shown(command) + "' (" + kCommands + ")");
}

}  // namespace

// Every log line goes to stderr: stdout carries only what a command was asked to print
// (--help, --version, bench --json), so it can be piped; a run's progress and its errors are diagnostics.
static void log_to_stderr() {
  auto logger = std::make_shared<spdlog::logger>("", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  spdlog::set_default_logger(std::move(logger));
}

int cli_main(int argc, char** argv) {
  log_to_stderr();
  if (const char* fallback = std::getenv("RINGMASTER_OPENBLAS_FALLBACK"); fallback && first_rank())
    spdlog::debug("OpenBLAS detected core type {} on a CPU that supports better kernels: restarted with "
                  "OPENBLAS_CORETYPE={} (src/main.cpp)",
                  fallback, std::getenv("OPENBLAS_CORETYPE"));
  try {
    return dispatch(argc, argv);
  } catch (const RuntimeFailure& e) {
    spdlog::critical("{}", shown(e.what(), kShownMessage));
    return kExitRuntime;
  } catch (const Error& e) {
    if (first_rank()) spdlog::error("{}", shown(e.what(), kShownMessage));
    return kExitBadInput;
  } catch (const cxxopts::exceptions::exception& e) {
    // An unknown option, one missing its value: one line, as every bad input (ringmaster --help lists them).
    // A benchmark has options of its own: `bench lmo --batch 8` points to `ringmaster bench lmo --help`.
    const bool benchmark = argc > 2 && std::string(argv[1]) == "bench" && argv[2][0] != '-';
    if (first_rank())
      spdlog::error("{} (ringmaster {} --help lists the options)", shown(e.what(), kShownMessage),
                    argc > 1 ? shown(argv[1]) + (benchmark ? " " + shown(argv[2]) : "") : "COMMAND");
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    spdlog::critical("out of memory");
    return kExitRuntime;
  } catch (const std::exception& e) {
    spdlog::critical("{}", shown(e.what(), kShownMessage));
    return kExitRuntime;
  }
}

}  // namespace ringmaster
