// The parts of the MPI engine: the server loop on rank 0, the follower shards' loop on ranks
// 1 … shards − 1 (server.shards > 1), and the worker loop on the other ranks.
#pragma once

#include <mpi.h>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/shards.hpp"

namespace ringmaster::mpi {

// All talk on `comm` (make_loop_comm(): the job's ranks, errors returned, protocol.hpp). `plan`: the
// server's shards (docs/method.md §7 "Sharded server"), or null for one server rank.

// Rank 0: carries the run's arrivals until one of its stop rules fires, stops every worker, then lets
// the run write its checkpoint and summary. Returns the exit code: 0, or kExitStopped after a signal.
// Sharded, it is the leader: its Run's Server holds shard 0's blocks, and it streams its decisions to
// the followers.
int serve(MPI_Comm comm, Run& run, int workers, const ShardPlan* plan);

// Sends each follower shard what it needs of `resume` (rank 0, before serve; null: a fresh run, nothing).
void send_shard_states(MPI_Comm comm, const ShardPlan& plan, const Checkpoint* resume);

// Rank `shard` (1 … shards − 1): a follower. Runs a Server over plan.layout(shard), fed the leader's
// decisions in the leader's order with its slices of the workers' gradients, sends its slice of each
// point to the workers, and stops when told. `resumed`: receive the resume state from rank 0 first.
// `updates`: how its LMO steps reach x (update_executor.hpp; server.threads).
// Returns the exit code.
int follow(MPI_Comm comm, const Config& config, const Objective& objective, const ShardPlan& plan, int shard,
           int workers, bool resumed, UpdateExecutorFactory updates);

// Worker `worker` (1 … n, rank worker + shards − 1): computes gradients at the points it is sent until
// told to stop, as its WorkerModel says (delays, samples, faults). `epoch` picks fresh random streams
// after a resume. Returns the exit code the server's stop asks for.
int work(MPI_Comm comm, const Config& config, Objective& objective, int worker, std::uint32_t epoch,
         const ShardPlan* plan);

}  // namespace ringmaster::mpi
