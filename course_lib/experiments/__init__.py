"""Running and reporting experiments: results rows (``results``), the leaderboard that
aggregates them (``leaderboard``), sweeps of models x attention x seeds (``sweep``) and the speed
benchmark (``bench``). The statistics they use are in :mod:`course_lib.stats`, the model
measurements in :mod:`course_lib.measure`."""
