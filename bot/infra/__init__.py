"""Infrastructure validation: the candidate in the real model server a deployment would use.

One module per concern: `sandbox` (start `mlflow models serve`, health, limits, cleanup) with `procs` (the
process tree from /proc); `client` (the serving API's request and answer formats); `signature` (API
consistency); `query`, `parity` (with `local_predict`, its child process), `loadtest`, `replay` (the
measurements); `results` and `gates` (pure decisions against `gates.infra`); `check` (the orchestration the
validation engine and `modelbot infra-check` call).
"""
