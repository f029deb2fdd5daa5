"""Terminal output of a session: the rich live view, plain log lines and single-key controls."""
