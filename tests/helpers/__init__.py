"""Helpers shared by the tests (one home: tiny models, runs of the tools, sample data)."""
