"""Built-in post-processors."""
