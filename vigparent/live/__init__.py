"""Live review: a practitioner and a family watching the same clips together, in step."""
