"""``kiln reap`` for docker builds: removes what a build that was killed (or whose
cleanup could not reach the engine) left behind, through the engine it used.

What the plugin writes in the cleanup journal, under the reaper name ``docker``:

- ``container``: the build container, by its name (chosen before ``docker run``) and
  then its id; removed with ``docker rm --force --volumes`` (its anonymous volumes go
  with it).
- ``image``: a committed image, by its id, or before that by the container it is
  committed from; an image docker-import makes, as the image its reference names if
  that is no longer the one it named before the import (once the import says its id,
  the image is the build's result).
  Removed with ``docker rmi`` (not forced: an image someone has since tagged again or
  started a container from stays, and kiln reap says why).
The partial file of an export or a docker-save is recorded as the core's
``kiln``/``local-file``, which kiln's own reaper removes.

Each engine record carries the docker command and the engine settings the build used
(``DOCKER_HOST``, ``DOCKER_CONTEXT``, ``DOCKER_CONFIG``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``), which replace those of the environment ``kiln reap`` runs in.
Something already gone counts as removed.
"""

from __future__ import annotations

from kiln.sdk import BuildError, Leftover, Reaper

#: the reaper name in the plugin's cleanup journal records
REAPER = "docker"


class DockerReaper(Reaper):
    """Removes docker builds' leftover containers and images."""

    def remove(self, leftover: Leftover) -> None:
        details = leftover.details
        # the driver (subprocess, tempfile...) loads when something is to be removed
        from kiln_plugin_docker.driver import Driver

        engine = {str(k): str(v) for k, v in dict(details.get("engine") or {}).items()}
        driver = Driver(str(details.get("docker") or "docker"), self.ctx, engine=engine)
        if leftover.kind == "container":
            driver.remove_container(str(details.get("id") or details["name"]))
        elif leftover.kind == "image" and details.get("id"):
            driver.remove_image(str(details["id"]))
        elif leftover.kind == "image" and details.get("container"):
            for image in driver.committed_from(str(details["container"])):
                driver.remove_image(image)
        elif leftover.kind == "image" and details.get("name"):
            driver.remove_made(str(details["name"]), str(details.get("previous") or ""))
        else:
            raise BuildError(f"the docker plugin does not know how to remove {leftover.describe()}")
