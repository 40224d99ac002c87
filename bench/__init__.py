"""Benchmarks: anvil next to a peer in one run, printing the ratio. Not tests."""
