"""Benchmarks: every operation through the adapter and through the raw driver, interleaved in one run."""
