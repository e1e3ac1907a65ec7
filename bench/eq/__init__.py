"""Execution-quality benchmark helpers (bench/execution_quality.py is the entry point).

Modules: grid (cells, buckets, arrivals), policies (P0..P4, floors, variants),
runner (fork a seeded market at the arrival time and run one policy),
stats (paired bootstrap, percentiles), scenarios (pairs, netting),
targets (PASS/FAIL/GAP), report (text tables, JSON, PNG).
"""
