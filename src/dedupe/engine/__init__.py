"""Algorithms over documents. No file or network I/O."""
