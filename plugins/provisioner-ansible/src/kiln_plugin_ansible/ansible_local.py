"""The ``ansible-local`` provisioner: Ansible runs inside the machine being built, on
files uploaded to a staging folder there (Packer's ``ansible-local``)."""

from __future__ import annotations

import io
import os
import posixpath
import shlex
from dataclasses import dataclass
from typing import Any

from kiln.sdk import (
    DISCONNECTED,
    BuildError,
    Communicator,
    CommunicatorError,
    Config,
    Context,
    Provisioner,
    TempFolder,
    Ui,
    option,
    redact_text,
    require_communicator,
    run_with_ui,
)
from kiln_plugin_ansible.config import check_paths, playbooks_of

DEFAULT_STAGING_PARENT = "/tmp/packer-provisioner-ansible-local"
#: the status a shell gives a command it cannot find
NOT_FOUND = 127
#: set before the command, as Packer's default command does: colours and output as it comes
COMMAND_ENV = "ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1"
#: Ansible's own search paths, kept after the staging folder's (setting the variable
#: replaces them)
DEFAULT_ROLES_PATH = "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles"
DEFAULT_COLLECTIONS_PATH = "~/.ansible/collections:/usr/share/ansible/collections"
INVENTORY_NAME = "kiln-inventory"
#: options naming local files, and local folders, that must exist
FILE_OPTIONS = ("playbook_file", "playbook_files", "inventory_file", "galaxy_file")
FOLDER_OPTIONS = (
    "playbook_dir",
    "group_vars",
    "host_vars",
    "playbook_paths",
    "role_paths",
    "collection_paths",
)


class AnsibleLocalConfig(Config):
    playbook_file: str = option(
        "",
        doc="A playbook on this host, uploaded to the staging folder and run there. One "
        "of `playbook_file` and `playbook_files` is required.",
    )
    playbook_files: list[str] = option(
        default_factory=list,
        doc="Playbooks on this host, run one after the other. A playbook inside "
        "`playbook_dir` runs from the uploaded folder; any other is uploaded to the "
        "staging folder under its absolute path.",
    )
    playbook_dir: str = option(
        "",
        doc="A folder (a whole Ansible project) whose contents become the staging folder, "
        "before anything else is uploaded.",
    )
    playbook_paths: list[str] = option(
        default_factory=list,
        doc="Folders of more playbooks, each uploaded to `playbooks/<name>` in the staging folder.",
    )
    role_paths: list[str] = option(
        default_factory=list,
        doc="Role folders, each uploaded to `roles/<name>` in the staging folder, which "
        "is on the roles path.",
    )
    collection_paths: list[str] = option(
        default_factory=list,
        doc="Collection folders, each uploaded to `collections/<name>` in the staging "
        "folder, which is on the collections path.",
    )
    group_vars: str = option(
        "", doc="A `group_vars` folder, uploaded to `group_vars` in the staging folder."
    )
    host_vars: str = option(
        "", doc="A `host_vars` folder, uploaded to `host_vars` in the staging folder."
    )
    command: str = option(
        "ansible-playbook",
        doc="The program that runs the playbooks on the machine, a name on its `PATH` or "
        "a path. It runs in the staging folder with `ANSIBLE_FORCE_COLOR=1` and "
        "`PYTHONUNBUFFERED=1` set (Packer's default `command` held those two).",
    )
    extra_arguments: list[str] = option(
        default_factory=list,
        doc="More arguments for the command. As in Packer they reach it through the "
        "machine's shell, so a value with spaces carries its own quotes in the string. An "
        "`-e`/`--extra-vars` value holding a sensitive value is uploaded to a private "
        "file (mode 0600) in the staging folder and passed as `-e @FILE`, never on the "
        "command line, where `ps` and the build log would show it; the file is removed "
        "even with `clean_staging_directory = false`.",
    )
    inventory_file: str = option(
        "",
        doc="An inventory to upload and use instead of the generated one (which lists "
        "`127.0.0.1`); give `--limit` in `extra_arguments` when it names other hosts.",
    )
    inventory_groups: list[str] = option(
        default_factory=list,
        doc="Groups the generated inventory puts `127.0.0.1` in (`[group]` then the host, "
        "for each).",
    )
    galaxy_file: str = option(
        "",
        doc="A requirements file for `ansible-galaxy`, uploaded and installed on the "
        "machine before the playbooks run: roles when it lists `roles:` (or no "
        "`collections:`), collections when it lists `collections:`.",
    )
    galaxy_command: str = option(
        "ansible-galaxy", doc="The program that installs `galaxy_file` on the machine."
    )
    galaxy_roles_path: str = option(
        "",
        doc="Where galaxy installs roles on the machine (`-p`); it is put on the roles "
        "path. Default: `galaxy_roles` in the staging folder.",
    )
    galaxy_collections_path: str = option(
        "",
        doc="Where galaxy installs collections on the machine (`-p`); it is put on the "
        "collections path. Default: `galaxy_collections` in the staging folder.",
    )
    staging_directory: str = option(
        "",
        doc="The folder on the machine everything is uploaded to, and the playbooks run "
        "in; made if missing, readable by the communicator's user alone. Default: "
        "`/tmp/packer-provisioner-ansible-local/<uuid>`, new for each run.",
    )
    clean_staging_directory: bool = option(
        True,
        doc="Remove the staging folder after the run, whether it succeeded or failed. "
        "Packer's default is `false` (its staging folders stay in the image); set "
        "`false` to keep it.",
    )


@dataclass(frozen=True)
class Upload:
    """One local file or folder and where it goes on the machine."""

    src: str
    dst: str
    folder: bool
    what: str


class AnsibleLocal(Provisioner):
    """Runs Ansible playbooks inside the machine being built, in local mode.

    The playbooks, roles, collections, variables, inventory and galaxy file are
    uploaded to a staging folder on the machine over the communicator; then
    `ansible-playbook PLAYBOOK --extra-vars "packer_build_name=... packer_builder_type=..."
    EXTRA_ARGUMENTS -c local -i INVENTORY` runs there. Ansible must be installed on the
    machine (nothing is installed for you). Unlike Packer, the staging folder is removed
    afterwards by default, on failure too, and sensitive extra variables travel in a
    private file instead of the command line.
    """

    config_class = AnsibleLocalConfig
    config: AnsibleLocalConfig

    def prepare(self, config: Config) -> list[str]:
        assert isinstance(config, AnsibleLocalConfig)
        playbooks_of(config.playbook_file, config.playbook_files)
        for name in FILE_OPTIONS:
            check_paths(config, name, folder=False)
        for name in FOLDER_OPTIONS:
            check_paths(config, name, folder=True)
        import uuid  # here: uuid imports platform, and every command loads this module

        staging = config.staging_directory or f"{DEFAULT_STAGING_PARENT}/{uuid.uuid4()}"
        self.staging = staging.rstrip("/") or "/"
        self.roles_path = config.galaxy_roles_path or f"{self.staging}/galaxy_roles"
        self.collections_path = (
            config.galaxy_collections_path or f"{self.staging}/galaxy_collections"
        )
        return []

    # -- what goes where --------------------------------------------------------------

    def _stage(self, name: str) -> str:
        return posixpath.join(self.staging, name)

    def _playbooks(self) -> list[tuple[str, str, bool]]:
        """(local path, path on the machine, whether it is uploaded) of each playbook to
        run, in order, as Packer places them: ``playbook_file`` is uploaded to the
        staging folder under its name (from ``playbook_dir`` too); of ``playbook_files``,
        one in ``playbook_dir`` is already there, others are uploaded under the staging
        folder at their absolute path."""
        config = self.config
        if config.playbook_file:
            name = os.path.basename(config.playbook_file)
            return [(config.playbook_file, self._stage(name), True)]
        base = os.path.abspath(config.playbook_dir) if config.playbook_dir else ""
        found = []
        for path in config.playbook_files:
            full = os.path.abspath(path)
            inside = bool(base) and os.path.commonpath([base, full]) == base
            relative = os.path.relpath(full, base) if inside else full.lstrip(os.sep)
            found.append((full, self._stage(relative.replace(os.sep, "/")), not inside))
        return found

    def _uploads(self) -> list[Upload]:
        """Everything to upload, in Packer's order (``playbook_dir`` first: it becomes
        the staging folder, and what follows may replace its files)."""
        config = self.config
        uploads = []
        if config.playbook_dir:
            uploads.append(Upload(config.playbook_dir, self.staging, True, "playbook_dir"))
        for src, dst, upload in self._playbooks():
            if upload:
                uploads.append(Upload(src, dst, False, "playbook"))
        if config.galaxy_file:
            dst = self._stage(os.path.basename(config.galaxy_file))
            uploads.append(Upload(config.galaxy_file, dst, False, "galaxy_file"))
        if config.inventory_file:
            dst = self._stage(os.path.basename(config.inventory_file))
            uploads.append(Upload(config.inventory_file, dst, False, "inventory_file"))
        if config.group_vars:
            uploads.append(Upload(config.group_vars, self._stage("group_vars"), True, "group_vars"))
        if config.host_vars:
            uploads.append(Upload(config.host_vars, self._stage("host_vars"), True, "host_vars"))
        for option_name, folder, paths in (
            ("role_paths", "roles", config.role_paths),
            ("collection_paths", "collections", config.collection_paths),
            ("playbook_paths", "playbooks", config.playbook_paths),
        ):
            for src in paths:
                name = os.path.basename(os.path.normpath(src))
                dst = self._stage(f"{folder}/{name}")
                uploads.append(Upload(src, dst, True, option_name))
        return uploads

    def _inventory(self) -> tuple[str, bytes | None]:
        """The inventory's path on the machine, and the text to upload there (None: the
        user's ``inventory_file``, uploaded with the rest)."""
        config = self.config
        if config.inventory_file:
            return self._stage(os.path.basename(config.inventory_file)), None
        if config.inventory_groups:
            text = "".join(f"[{group}]\n127.0.0.1\n" for group in config.inventory_groups)
        else:
            text = "127.0.0.1\n"
        return self._stage(INVENTORY_NAME), text.encode()

    # -- the run ----------------------------------------------------------------------

    def provision(self, ui: Ui, comm: Communicator | None, generated_data: dict[str, Any]) -> None:
        comm = require_communicator(comm, "ansible-local")
        ui.say("Provisioning with Ansible...")
        secrets: list[str] = []
        try:
            self._upload(ui, comm)
            extra = self._extra_arguments(comm, generated_data, secrets)
            if self.config.galaxy_file:
                self._galaxy(ui, comm)
            inventory = shlex.quote(self._inventory()[0])
            for _, playbook, _ in self._playbooks():
                self._run_playbook(ui, comm, playbook, extra, inventory)
        finally:
            self._clean(ui, comm, secrets)

    def _upload(self, ui: Ui, comm: Communicator) -> None:
        uploads = self._uploads()
        inventory, text = self._inventory()
        # every folder at once: one command however many uploads follow
        folders = {self.staging} | {posixpath.dirname(u.dst) for u in uploads if not u.folder}
        folders |= {u.dst for u in uploads if u.folder}
        mkdir = f"mkdir -p {_words(sorted(folders))} && chmod 0700 {shlex.quote(self.staging)}"
        ui.message(f"Creating the Ansible staging directory {self.staging}...")
        status = run_with_ui(comm, ui, mkdir, self.ctx)
        if status != 0:
            raise BuildError(
                f"Error creating the staging directory {self.staging}: exit status {status}. "
                "See the output above."
            )
        for item in uploads:
            ui.message(f"Uploading {item.what} {item.src} to {item.dst}")
            try:
                if item.folder:
                    comm.upload_dir(item.dst, item.src.rstrip("/") + "/", ctx=self.ctx)
                else:
                    with open(item.src, "rb") as f:
                        comm.upload(item.dst, f, ctx=self.ctx)
            except OSError as exc:
                raise BuildError(
                    f"Error uploading {item.what} {item.src}: {exc.strerror}"
                ) from None
            except CommunicatorError as exc:
                raise BuildError(f"Error uploading {item.what} {item.src}: {exc}") from None
        if text is not None:
            ui.message("Uploading the inventory file...")
            comm.upload(inventory, io.BytesIO(text), ctx=self.ctx)

    def _extra_arguments(self, comm: Communicator, data: dict[str, Any], secrets: list[str]) -> str:
        """The arguments after the playbook: Packer's extra variables, then the user's
        (shell text). Extra variables holding a sensitive value go to private files on
        the machine, whose paths are added to ``secrets``."""
        packer_vars = [
            f"packer_build_name={self.ctx.build_name}",
            f"packer_builder_type={self.ctx.builder_type}",
        ]
        if http := data.get("PackerHTTPAddr"):
            packer_vars.append(f"packer_http_addr={http}")
        own = f"--extra-vars {shlex.quote(' '.join(packer_vars))}"
        text = " ".join(self.config.extra_arguments)
        if redact_text(text) == text:
            return f"{own} {text}".rstrip()
        return f"{own} {self._private_arguments(comm, text, secrets)}"

    def _private_arguments(self, comm: Communicator, text: str, secrets: list[str]) -> str:
        """``text`` (shell words) with each sensitive extra-vars value moved to a private
        file uploaded to the staging folder."""
        from kiln_plugin_ansible.secrets import private_extra_vars

        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise BuildError(f"extra_arguments: cannot read them as shell words: {exc}") from None
        with TempFolder(self.ctx, "kiln-ansible-local-") as local:
            args = private_extra_vars(words, local)
            for name in sorted(os.listdir(local)):
                remote = self._stage(name)
                with open(os.path.join(local, name), "rb") as f:
                    comm.upload(remote, f, mode=0o600, ctx=self.ctx)
                secrets.append(remote)
            args = [arg.replace(local + os.sep, self.staging + "/") for arg in args]
        return shlex.join(args)

    def _search_paths(self) -> str:
        """The roles and collections paths the commands run with: the staging folder's,
        galaxy's, then Ansible's defaults."""
        config = self.config
        roles = [self._stage("roles")] if config.role_paths else []
        collections = [self._stage("collections")] if config.collection_paths else []
        if config.galaxy_file:
            roles.append(self.roles_path)
            collections.append(self.collections_path)
        env = []
        if roles:
            value = ":".join([*roles, DEFAULT_ROLES_PATH])
            env.append(f"ANSIBLE_ROLES_PATH={shlex.quote(value)}")
        if collections:
            value = ":".join([*collections, DEFAULT_COLLECTIONS_PATH])
            env.append(f"ANSIBLE_COLLECTIONS_PATH={shlex.quote(value)}")
        return "".join(f"{item} " for item in env)

    def _galaxy(self, ui: Ui, comm: Communicator) -> None:
        from kiln_plugin_ansible.run import galaxy_kinds

        config = self.config
        kinds = galaxy_kinds(config.galaxy_file)
        requirements = shlex.quote(self._stage(os.path.basename(config.galaxy_file)))
        jobs = []
        if "roles" in kinds:
            jobs.append(f"install -r {requirements} -p {shlex.quote(self.roles_path)}")
        if "collections" in kinds:
            jobs.append(
                f"collection install -r {requirements} -p {shlex.quote(self.collections_path)}"
            )
        for job in jobs:
            command = f"cd {shlex.quote(self.staging)} && {config.galaxy_command} {job}"
            ui.message(f"Executing Ansible Galaxy: {command}")
            _check(
                run_with_ui(comm, ui, command, self.ctx),
                "Ansible Galaxy",
                f"{config.galaxy_command} was not found on the machine (exit status 127): "
                "install Ansible in the image, or set galaxy_command to its path there.",
            )

    def _run_playbook(
        self, ui: Ui, comm: Communicator, playbook: str, extra: str, inventory: str
    ) -> None:
        command = (
            f"cd {shlex.quote(self.staging)} && {self._search_paths()}{COMMAND_ENV} "
            f"{self.config.command} {shlex.quote(playbook)} {extra} -c local -i {inventory}"
        )
        ui.message(f"Executing Ansible: {command}")
        _check(
            run_with_ui(comm, ui, command, self.ctx),
            "Ansible",
            f"{self.config.command} not found on the target (exit status 127). ansible-local "
            "runs Ansible inside the machine: install it in the image first (a shell "
            "provisioner before this one), or set command to where it is.",
        )

    def _clean(self, ui: Ui, comm: Communicator, secrets: list[str]) -> None:
        """Remove the staging folder (or, when it stays, the private files); this runs
        after a failure or cancellation too, so it is not cancellable itself."""
        if self.config.clean_staging_directory:
            ui.message(f"Removing the staging directory {self.staging}...")
            targets = [self.staging]
        elif secrets:
            targets = secrets
        else:
            ui.message(f"Keeping the staging directory {self.staging}")
            return
        command = f"rm -rf {_words(targets)}"
        if self.config.clean_staging_directory and not self.config.staging_directory:
            # the shared parent goes too when no other run's folder is in it
            command += f" && {{ rmdir {DEFAULT_STAGING_PARENT} 2>/dev/null || true; }}"
        try:
            status = run_with_ui(comm, ui, command, Context())
        except CommunicatorError as exc:
            raise BuildError(f"Error removing {targets[0]} on the machine: {exc}") from None
        if status != 0:
            raise BuildError(f"Error removing {targets[0]} on the machine: exit status {status}")


def _words(items: list[str]) -> str:
    return " ".join(shlex.quote(item) for item in items)


def _check(status: int, what: str, not_found: str) -> None:
    """Fail a build whose command on the machine (Ansible, or galaxy) ended with
    ``status``: ``not_found`` says what to do when the program is not there."""
    if status == NOT_FOUND:
        raise BuildError(f"Error executing {what}: {not_found}")
    if status == DISCONNECTED:
        raise BuildError(f"Error executing {what}: the connection to the machine dropped.")
    if status != 0:
        raise BuildError(f"Error executing {what}: Non-zero exit status: {status}")
