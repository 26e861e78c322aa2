"""Alerts after apply: events built from the outcomes and the run history
(events), sent as one summary per target (senders, dispatch)."""
