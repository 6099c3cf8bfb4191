"""Running, measuring and reporting experiments: results rows (``results``), the leaderboard
that aggregates them (``leaderboard``), sweeps of models x attention x seeds (``sweep``), the
speed benchmark (``bench``), parameters, FLOPs and throughput of a model (``measure``) and the
statistics every comparison uses (``stats``: t-intervals, seed-paired differences, Holm)."""
