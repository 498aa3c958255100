"""models.yaml: schema, typed view, minimal-diff edits, and diff into transitions."""

from bot.registry.load import parse, read
from bot.registry.model import Dataset, Evaluation, Model, Registry, Version, version_key

__all__ = ["Dataset", "Evaluation", "Model", "Registry", "Version", "parse", "read", "version_key"]
