"""zhiku's benchmarks: each module runs on its own (``python -m bench.<name>``); ``bench.run_all`` runs them all.

See ``bench/README.md`` for what each one measures and the figures measured on the project's machine.
"""
