"""Builds: plan them from a template, run them, provision, post-process, clean up."""
