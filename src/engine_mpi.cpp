// The MPI engine (SPEC §1, §10): `mpirun -np N+1 ringmaster train`. Rank 0 serves, ranks 1..N work.
// Everything that can be wrong with the input is found on every rank before any work starts and
// before the run directory exists; then all ranks exit 2 together.
#include <cblas.h>
#include <mpi.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <limits>
#include <optional>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/checkpoint.hpp"
#include "ringmaster/engine.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/run_dir.hpp"

namespace ringmaster {
namespace {

// True on every rank when any rank failed; the lowest failing rank has logged its message.
bool any_failed(const std::optional<std::string>& error, int rank) {
  const int mine = error ? rank : std::numeric_limits<int>::max();
  int lowest = 0;
  MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (error && lowest == rank) spdlog::error("{}", *error);
  return lowest != std::numeric_limits<int>::max();
}

int run_ranks(const RunRequest& request, int rank, int size) {
  std::optional<std::string> error;
  Config config;
  std::unique_ptr<Objective> objective;
  std::unique_ptr<Checkpoint> resume;
  std::optional<RunDir> run_dir;  // rank 0 only
  try {
    if (size < 2)
      throw Error("train: needs at least 2 MPI ranks (rank 0 serves, ranks 1..N work); got " +
                  std::to_string(size) + ". Start it as: mpirun -np N+1 ringmaster train -c FILE");
    config = load_config(request.config_path, request.overrides, size - 1);
    objective = make_objective(config);
    if (!request.resume.empty() && rank == 0) {
      // Only the server reads the checkpoint; the workers need only the epoch, sent below. The lock
      // comes first: a second job resuming the same directory stops here, before reading anything.
      run_dir.emplace(RunDir::resume(request.resume));
      const std::filesystem::path file = run_dir->path() / kCheckpointFile;
      const std::size_t params = objective->layout().size();
      resume = std::make_unique<Checkpoint>(read_checkpoint(file, checkpoint_payload_limit(params, size - 1)));
      check_resumable(*resume, config, size - 1, params, run_dir->run_id(), file.string());
    }
  } catch (const Error& e) {
    error = e.what();
  }
  if (any_failed(error, rank)) return kExitBadInput;
  std::uint32_t epoch = resume ? resume->epoch + 1 : 0;
  MPI_Bcast(&epoch, 1, MPI_UINT32_T, 0, MPI_COMM_WORLD);

  // N+1 ranks share the node's cores: one BLAS thread each, or OpenBLAS's spinning threads would
  // fight over them.
  openblas_set_num_threads(1);
  mpi::tighten_timer_slack();

  std::unique_ptr<Recorder> recorder;
  if (rank == 0) {
    try {
      // Everything is validated: only now is a new run directory made (locked, with its run id); if
      // writing its first files fails, RunDir removes it again.
      if (!run_dir) run_dir.emplace(RunDir::create(config, request.out, request.force));
      recorder = std::make_unique<Recorder>(*run_dir, config, "mpi", size - 1, resume ? &resume->recorder : nullptr);
      run_dir->started();
    } catch (const Error& e) {
      error = e.what();
    }
  }
  if (any_failed(error, rank)) return kExitBadInput;

  if (rank == 0) {
    spdlog::info("{} with {} workers on {}; run directory {}", config.run.method, size - 1,
                 config.objective.kind, recorder->dir().string());
    return mpi::serve(config, *objective, *recorder, size - 1, resume.get());
  }
  return mpi::work(config, *objective, rank, size - 1, epoch);
}

}  // namespace

int run_mpi(const RunRequest& request, int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  spdlog::set_pattern(fmt::format("[%H:%M:%S.%e] [rank {}] [%^%l%$] %v", rank));
  mpi::install_stop_signals();
  int code = kExitOk;
  try {
    code = run_ranks(request, rank, size);
  } catch (const std::exception& e) {
    // A failure after the start (I/O, MPI) on one rank: the others cannot finish without it.
    spdlog::critical("{}", e.what());
    MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
  }
  MPI_Finalize();
  return code;
}

}  // namespace ringmaster
