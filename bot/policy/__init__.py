"""policies/: schema, loading with `extends` and per-model overrides, resolution per stage."""

from bot.policy.load import (
    DEFAULT_POLICY,
    POLICY_DIR,
    Policies,
    load_policies,
    parse_duration,
    parse_files,
    parse_time,
    read_policies,
)
from bot.policy.model import OWNERS_ROLE, Freeze, Policy, RollbackRules, StagePolicy
from bot.policy.roles import Approval, Role

__all__ = [
    "DEFAULT_POLICY",
    "OWNERS_ROLE",
    "POLICY_DIR",
    "Approval",
    "Freeze",
    "Policies",
    "Policy",
    "Role",
    "RollbackRules",
    "StagePolicy",
    "load_policies",
    "parse_duration",
    "parse_files",
    "parse_time",
    "read_policies",
]
