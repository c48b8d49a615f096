// The two halves of the MPI engine: the server loop on rank 0 and the worker loop on ranks 1..n.
#pragma once

#include <mpi.h>

#include "ringmaster/config.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/run.hpp"

namespace ringmaster::mpi {

// Both talk on `comm` (make_loop_comm(): the job's ranks, errors returned, protocol.hpp).

// Rank 0: carries the run's arrivals until one of its stop rules fires, stops every worker, then lets
// the run write its checkpoint and summary. Returns the exit code: 0, or kExitStopped after a signal.
int serve(MPI_Comm comm, Run& run, int workers);

// Rank `worker` (1..n): computes gradients at the points it is sent until told to stop, as its
// WorkerModel says (delays, samples, faults). `epoch` picks fresh random streams after a resume.
// Returns the exit code the server's stop asks for.
int work(MPI_Comm comm, const Config& config, Objective& objective, int worker, std::uint32_t epoch);

}  // namespace ringmaster::mpi
