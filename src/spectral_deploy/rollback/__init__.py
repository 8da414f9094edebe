"""Rollback: the runbook's five failure classes as a planner and an executor."""
