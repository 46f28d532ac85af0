"""Helpers for the Chunk Works client-driven compatibility suite."""
