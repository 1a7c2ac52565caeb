"""The family's language: the footer switcher, and each catalogue's translator review."""
