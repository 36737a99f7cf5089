"""Benchmarks of the course: chapter timings and scratch-vs-torch speed (run with `make bench`)."""
