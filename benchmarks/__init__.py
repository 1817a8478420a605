"""minigrad against PyTorch: ``python -m benchmarks`` (see benchmarks/README.md)."""
