"""Paper reproductions on top of dr_sim, one folder each, run from a checkout (never installed).

Each study is one command from the repository root, ``python -m studies.<name> [CONFIG] [--out DIR]
[--only POINT ...] [--set KEY=VALUE ...]``, on the shared harness in ``studies/harness``.
"""
