"""The self-correcting graph."""
