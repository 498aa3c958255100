"""modelbot: a GitOps promotion bot for machine-learning models."""

__version__ = "0.1.0"
