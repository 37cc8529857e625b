"""Offline evaluation of drafts (datasets, runner, metrics, reports)."""
