// The command line of docs/method.md §10: train (MPI), simulate, bench lmo.
#pragma once

namespace ringmaster {

// Runs the command in argv; returns the process exit code (0 ok, 2 bad input, 1 runtime failure).
int cli_main(int argc, char** argv);

}  // namespace ringmaster
