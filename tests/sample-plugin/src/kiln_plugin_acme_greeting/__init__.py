"""kiln-plugin-acme-greeting: a sample third-party kiln plugin.

Template source address ``github.com/acme/greeting``; components ``greeting`` (a
provisioner) and ``greeting-file`` (a post-processor), registered in :mod:`.plugin`.
"""

__version__ = "1.0.0"
