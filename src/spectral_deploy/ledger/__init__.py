"""The deploy ledger and the generation allocator: the history the rollback planner reads."""
