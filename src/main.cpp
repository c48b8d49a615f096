#include "ringmaster/cli.hpp"

int main(int argc, char** argv) { return ringmaster::cli_main(argc, argv); }
