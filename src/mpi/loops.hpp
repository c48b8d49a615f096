// The two halves of the MPI engine: the server loop on rank 0 and the worker loop on ranks 1..n.
#pragma once

#include <mpi.h>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/recorder.hpp"

namespace ringmaster::mpi {

// Both talk on `comm` (make_loop_comm(): the job's ranks, errors returned, protocol.hpp).

// Rank 0: serves arrivals until a stop rule fires, stops every worker, writes the checkpoint and the
// summary. `resume` is the checkpoint to continue from (null for a fresh run). Returns the exit code:
// 0, or kExitStopped after a signal.
int serve(MPI_Comm comm, const Config& config, Objective& objective, Recorder& recorder, int workers,
          const Checkpoint* resume);

// Rank `worker` (1..n): computes gradients at the points it is sent until told to stop. `epoch` picks
// fresh random streams after a resume. Returns the exit code the server's stop asks for.
int work(MPI_Comm comm, const Config& config, Objective& objective, int worker, int workers, std::uint32_t epoch);

}  // namespace ringmaster::mpi
