"""What this release is. Each tag of the sample app changes these lines."""

VERSION = "1.1.0"
# None, "behavior" (some requests fail: the runbook's Class 2) or
# "data" (orders are written with the wrong total: Class 3)
FAULT: str | None = None
# 1.1.0 writes the column that migration 0003 adds (the expand half of expand/contract)
WRITES_EMAIL = True
