// The cross-checks of load_config (docs/configuration.md "Cross-checks"): settings that are each valid but
// contradict one another, and the limits that keep every accepted run making progress and ending. Each
// throws Error naming the key (or the keys whose product is limited) through the reader.
#pragma once

#include "config/reader.hpp"

namespace ringmaster::config_reading {

// The gpt's heads divide its width into an even head dimension.
void check_heads(const Reader& r, const GptConfig& gpt);
// `workers_from_engine`: run.workers came from the MPI job (for the messages).
void check_consistency(const Reader& r, const Config& c, bool workers_from_engine);
// profile = "trace": the file read now, with the number of workers known.
void load_trace(const Reader& r, Config& c);
// Only the simulator: virtual time must advance on its own, and reach the time budget.
void check_simulator(const Reader& r, const Config& c);

}  // namespace ringmaster::config_reading
