"""The cutover: the deployment runbook's ten steps as a resumable state machine, then the flip."""
