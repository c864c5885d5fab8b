"""The latency suite proves itself: sampler, budgets, slow server, charts in a real browser."""
