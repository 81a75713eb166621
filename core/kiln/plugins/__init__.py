"""The plugin host (pluggy): hook specs, descriptors and the manager."""
