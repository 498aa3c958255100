"""Offline validation: candidate vs champion vs naive baseline on pinned evaluation data, with intervals.

Modules by concern: data (load, verify), models (the only MLflow loading), outputs (what a model answered),
metrics, ranking (ROC/PR AUC with influence values), intervals, compare (estimates and paired differences per
group), gates (pure decisions), slices, errors_analysis, robustness, datachecks, engine (orchestration) and
evidence (what the report renders). Heavy libraries are imported inside functions.
"""
