"""`modelbot serve`: the embedded serving gateway that makes the stages of models.yaml real.

state (what to serve at a git revision) → routing (pure: which arm answers a request) → backends (one
sandboxed model-host child per version) → app (the HTTP API, fallback, shadow, metrics, prediction log).
"""
