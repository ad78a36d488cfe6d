"""Tasks: the episodic environments evals run."""
