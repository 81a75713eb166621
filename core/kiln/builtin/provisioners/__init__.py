"""Built-in provisioners."""
