"""Agents on the office PCs: their reports (ingest), the in-memory fleet view kept in step with the
store, and this machine's own agent."""
