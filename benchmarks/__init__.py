"""Zixir's benchmarks: each component side by side with the peer a user would pick instead."""
