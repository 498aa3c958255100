"""Planning a change of models.yaml: what each transition needs (rules.py, pure), the plan of two git
revisions (revisions.py), and a promotion proposed as an edit of a working tree (proposal.py)."""

from bot.plan.rules import SELF_MERGING_KINDS, Plan, Step, plan

__all__ = ["SELF_MERGING_KINDS", "Plan", "Step", "plan"]
