// The two halves of the MPI engine: the server loop on rank 0 and the worker loop on ranks 1..n.
#pragma once

#include "ringmaster/config.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/recorder.hpp"

namespace ringmaster::mpi {

// Rank 0: serves arrivals until a stop rule fires, stops every worker, writes the summary.
void serve(const Config& config, Objective& objective, Recorder& recorder, int workers);

// Rank `worker` (1..n): computes gradients at the points it is sent until told to stop.
void work(const Config& config, Objective& objective, int worker, int workers);

}  // namespace ringmaster::mpi
