"""weightwatch benchmarks: `python -m benchmarks` (see run.py and docs/performance.md)."""
