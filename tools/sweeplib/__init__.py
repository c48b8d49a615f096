"""The library behind tools/sweep.py: sweeps of Ringmaster runs (see that file)."""
