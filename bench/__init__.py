"""Benchmarks of the execution stack (not part of lib/: may read the wall clock)."""
