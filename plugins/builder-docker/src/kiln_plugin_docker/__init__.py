"""kiln-plugin-docker: the ``docker`` builder and communicator, and the ``docker-import``,
``docker-tag``, ``docker-push`` and ``docker-save`` post-processors.

Everything talks to the engine through the docker CLI, as Packer does, so
``DOCKER_HOST``, ``docker context use`` and credential helpers work as they do for
``docker`` itself.
"""
