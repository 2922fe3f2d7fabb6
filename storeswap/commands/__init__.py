"""CLI sub-commands that belong to no single feature package."""
