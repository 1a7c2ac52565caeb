"""Recordings: a parent's uploaded video, from the first byte to ready-to-review."""
