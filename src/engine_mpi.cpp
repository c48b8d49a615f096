// The MPI engine (docs/method.md §1, §10): `mpirun -np N+1 ringmaster train`. Rank 0 serves, ranks 1..N work;
// with server.shards = S, ranks 0 … S − 1 are the server's shards (rank 0 the leader) and ranks S … the
// workers (docs/method.md §7 "Sharded server").
// Everything that can be wrong with the input is found on every rank before any work starts and
// before the run directory exists; then all ranks exit 2 together.
#include <cblas.h>
#include <mpi.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/checkpoint.hpp"
#include "ringmaster/engine.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/provenance.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/shards.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

// True on every rank when any rank failed; the lowest failing rank has logged its message.
bool any_failed(const std::optional<std::string>& error, int rank) {
  const int mine = error ? rank : std::numeric_limits<int>::max();
  int lowest = 0;
  MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (error && lowest == rank) spdlog::error("{}", shown(*error, kShownMessage));
  return lowest != std::numeric_limits<int>::max();
}

// Every rank must run the same experiment with the same protocol: an MPMD launch (`mpirun -np 2
// ringmaster train -c A : -np 1 ringmaster train -c B`) or a stale binary on one node would train
// something no one asked for, or misread every message. Compares each rank's config_fingerprint and
// protocol_fingerprint with rank 0's; on every rank, the error naming the ranks that differ, or none.
std::optional<std::string> differing_ranks(const Config& config, int rank, int size) {
  const std::uint64_t mine[2] = {config_fingerprint(config), mpi::protocol_fingerprint()};
  std::vector<std::uint64_t> all(2 * static_cast<std::size_t>(size));
  MPI_Allgather(mine, 2, MPI_UINT64_T, all.data(), 2, MPI_UINT64_T, MPI_COMM_WORLD);
  std::string config_ranks, binary_ranks;
  for (int r = 1; r < size; ++r) {
    const auto at = 2 * static_cast<std::size_t>(r);
    if (all[at] != all[0]) config_ranks += (config_ranks.empty() ? "" : ", ") + std::to_string(r);
    if (all[at + 1] != all[1]) binary_ranks += (binary_ranks.empty() ? "" : ", ") + std::to_string(r);
  }
  if (rank != 0 || (config_ranks.empty() && binary_ranks.empty())) return std::nullopt;
  std::string error = "train: the ranks of this job disagree: ";
  if (!binary_ranks.empty())
    error += "rank(s) " + binary_ranks + " run a different ringmaster build (version or message layout) than rank 0";
  if (!binary_ranks.empty() && !config_ranks.empty()) error += "; ";
  if (!config_ranks.empty())
    error += "rank(s) " + config_ranks +
             " were started with a different configuration than rank 0 (another -c file or --set; every rank "
             "must get the same arguments)";
  return error;
}

// The cores rank 0's update threads may take (server.threads = 0): those in rank 0's CPU affinity, less one
// for each other rank on its node that may run on them too (a worker keeps a core busy), at least 1. So an
// oversubscribed node (mpirun binds nothing then) keeps one thread, whose helpers would otherwise wait for
// cores the workers hold, and rank 0 given cores of its own (a rankfile, a Slurm heterogeneous job)
// uses them all. Collective over MPI_COMM_WORLD; the result is meaningful on rank 0 only.
struct ServerCores {
  int affinity = 1;  // cores in rank 0's affinity
  int shared = 0;    // other ranks on rank 0's node whose affinity meets it
  int free() const { return std::max(1, affinity - shared); }
};

ServerCores server_cores(int rank) {
  MPI_Comm node;  // the ranks sharing this node; keyed by world rank, so world rank 0 is node rank 0
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int node_rank = 0, node_size = 1;
  MPI_Comm_rank(node, &node_rank);
  MPI_Comm_size(node, &node_size);
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) CPU_SET(0, &mine);  // unknown: one core
  std::vector<cpu_set_t> all(node_rank == 0 ? static_cast<std::size_t>(node_size) : 0);
  MPI_Gather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, 0, node);
  MPI_Comm_free(&node);
  ServerCores cores{std::max(1, CPU_COUNT(&mine)), 0};
  for (std::size_t r = 1; r < all.size(); ++r) {
    cpu_set_t both;
    CPU_AND(&both, &mine, &all[r]);
    if (CPU_COUNT(&both) > 0) ++cores.shared;
  }
  return cores;
}

// hosts[r]: the host MPI rank r runs on, on rank 0 (empty elsewhere), for provenance.json. Collective.
std::vector<std::string> rank_hosts(int rank, int size) {
  constexpr std::size_t kHost = 256;  // HOST_NAME_MAX + 1, and then some
  std::string mine = this_host();
  mine.resize(kHost, '\0');
  std::vector<char> all(rank == 0 ? kHost * static_cast<std::size_t>(size) : 0);
  MPI_Gather(mine.data(), static_cast<int>(kHost), MPI_CHAR, all.data(), static_cast<int>(kHost), MPI_CHAR, 0,
             MPI_COMM_WORLD);
  std::vector<std::string> hosts;
  for (std::size_t r = 0; rank == 0 && r < static_cast<std::size_t>(size); ++r)
    hosts.emplace_back(all.data() + r * kHost, ::strnlen(all.data() + r * kHost, kHost - 1));
  return hosts;
}

int run_ranks(const RunRequest& request, int rank, int size) {
  std::optional<std::string> error;
  Config config;
  std::unique_ptr<Objective> objective;
  std::unique_ptr<Checkpoint> resume;
  std::optional<RunDir> run_dir;  // rank 0 only
  std::unique_ptr<ShardPlan> plan;  // server.shards > 1
  int shards = 1, workers = size - 1;
  std::vector<std::string> ignored;  // keys the user set that this engine does not use (load_config)
  std::optional<std::string> finished;  // rank 0: the resumed run had already finished
  try {
    if (size < 2)
      throw Error("train: needs at least 2 MPI ranks (rank 0 serves, ranks 1..N work); got " +
                  std::to_string(size) + ". Start it as: mpirun -np N+1 ringmaster train -c FILE");
    config = load_config(request.config_path, request.overrides, size, ConfigFor::mpi, &ignored);
    shards = config.server.shards;
    workers = size - shards;
    objective = make_objective(config);
    if (shards > 1) plan = std::make_unique<ShardPlan>(objective->layout(), config.lmo.options(), shards);
    if (!request.resume.empty() && rank == 0) {
      // Only the leader reads the checkpoint; the followers get their slices of it, the workers the epoch.
      Resumed resumed = open_resumed(request.resume, config, workers, *objective, ConfigFor::mpi);
      finished = std::move(resumed.finished);
      run_dir.emplace(std::move(resumed.dir));
      resume = std::make_unique<Checkpoint>(std::move(resumed.checkpoint));
    }
  } catch (const Error& e) {
    error = e.what();
  }
  if (any_failed(error, rank)) return kExitBadInput;
  error = differing_ranks(config, rank, size);
  if (any_failed(error, rank)) return kExitBadInput;
  // Nothing left to train (docs/method.md §8): every rank ends here, and the directory is left as it is.
  int done = finished ? 1 : 0;
  MPI_Bcast(&done, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (done) {
    if (rank == 0) spdlog::info("{}", *finished);
    return kExitOk;
  }
  const std::vector<std::string> hosts = rank_hosts(rank, size);
  std::uint32_t epoch = resume ? resume->epoch + 1 : 0;
  MPI_Bcast(&epoch, 1, MPI_UINT32_T, 0, MPI_COMM_WORLD);

  // N+1 ranks share the node's cores: one BLAS thread each, or OpenBLAS's spinning threads would
  // fight over them.
  openblas_set_num_threads(1);
  mpi::tighten_timer_slack();
  const ServerCores cores = server_cores(rank);

  std::unique_ptr<Recorder> recorder;
  int failure = kExitBadInput;  // the exit code if rank 0 fails to start its run directory
  if (rank == 0) {
    try {
      // Everything is validated: only now is a new run directory made (locked, with its run id); if
      // writing its first files fails, RunDir removes it again.
      if (!run_dir) run_dir.emplace(RunDir::create(config, request.out, request.force, request.name));
      recorder = std::make_unique<Recorder>(*run_dir, config, "mpi", workers, EvalColumns::of(*objective),
                                            resume ? &resume->recorder : nullptr);
      record_provenance(run_dir->path(), invocation(request, "mpi", workers, shards, hosts), config, resume != nullptr);
      run_dir->started();
    } catch (const RuntimeFailure& e) {
      error = e.what();
      failure = kExitRuntime;  // a full disk or an I/O error is not bad input
    } catch (const Error& e) {
      error = e.what();
    }
  }
  MPI_Bcast(&failure, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (any_failed(error, rank)) return failure;

  MPI_Comm comm = mpi::make_loop_comm();
  int code = kExitOk;
  if (rank == 0) {
    spdlog::info("{} with {} workers on {}; run directory {}", config.run.method, workers,
                 config.objective.kind, shown_path(recorder->dir()));
    if (plan)
      spdlog::info("server: {} shards (ranks 0-{}), blocks {}; the largest shard does {:.0f}% of an update", shards,
                   shards - 1, plan->describe(), 100.0 * plan->max_share());
    for (const std::string& line : ignored) spdlog::warn("{}", shown(line, kShownMessage));
    // The server's update: its blocks' LMOs side by side on the cores rank 0 was given (server.threads;
    // x is bit for bit the same for any number).
    const int threads = config.server.threads > 0 ? config.server.threads : cores.free();
    const int lanes = block_parallel_lanes(objective->layout(), config.lmo.options(), threads);
    spdlog::info("server: block LMOs on {} thread{} (server.threads = {}; rank 0 may use {} core{}, {} other rank{} "
                 "on its node may use them too)",
                 lanes, lanes == 1 ? "" : "s", config.server.threads, cores.affinity, cores.affinity == 1 ? "" : "s",
                 cores.shared, cores.shared == 1 ? "" : "s");
    Run run(config, *objective, *recorder, workers, resume.get(), resume_command(request, recorder->dir(), size),
            block_parallel_updates(threads), plan.get());
    if (plan) mpi::send_shard_states(comm, *plan, resume.get());
    // Evaluations on a thread of their own, so that serving goes on meanwhile (docs/method.md §7); rank
    // 0's objective is the evaluator's from here on.
    run.evaluate_apart();
    code = mpi::serve(comm, run, workers, plan.get());
  } else if (rank < shards) {
    // A follower shard: its blocks' LMOs on server.threads threads (1 by default: the node's cores are
    // the workers' and the other shards').
    code = mpi::follow(comm, config, *objective, *plan, rank, workers, !request.resume.empty(),
                       block_parallel_updates(std::max(1, config.server.threads)));
  } else {
    code = mpi::work(comm, config, *objective, rank - shards + 1, epoch, plan.get());
  }
  MPI_Comm_free(&comm);
  return code;
}

}  // namespace

int run_mpi(const RunRequest& request, int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  spdlog::set_pattern(fmt::format("[%H:%M:%S.%e] [rank {}] [%^%l%$] %v", rank));
  install_stop_signals();
  int code = kExitOk;
  try {
    code = run_ranks(request, rank, size);
  } catch (const std::exception& e) {
    // A failure after the start (I/O, MPI) on one rank: the others cannot finish without it.
    spdlog::critical("{}", shown(e.what(), kShownMessage));
    MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
  }
  MPI_Finalize();
  return code;
}

}  // namespace ringmaster
