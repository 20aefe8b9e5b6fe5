"""Benchmarks: `python -m bench` runs every module here; each prints `ratio <name> <v> target <op> <v>`."""
