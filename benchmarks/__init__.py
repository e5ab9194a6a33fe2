"""rag_augment's benchmarks, data preparation and closed studies (see benchmarks/README.md).

Not part of the installed package: run the scripts as modules from the repository root, e.g.
`python -m benchmarks.perf.bench_search --help`.
"""
