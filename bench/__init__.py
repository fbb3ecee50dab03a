"""Benchmarks (`make bench`): figures for the closing notes, never assertions in tests."""
