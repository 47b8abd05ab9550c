"""Adapters: read inputs into Documents, write results out. Optional dependencies load late."""
