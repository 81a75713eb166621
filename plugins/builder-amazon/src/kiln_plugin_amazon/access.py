"""AWS sessions and EC2 clients from the access options; waiting for resources.

The clients are botocore's, the core of boto3: the same credential chain, retries and
calls, without boto3's resource layer and the S3 transfer manager its import brings
in (40 ms of every build). This module is imported only when a build or a data
source runs.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import botocore.config
import botocore.exceptions
import botocore.loaders
import botocore.parsers
import botocore.session

from kiln.sdk import BuildError, Context, cache_folder, format_duration, write_atomically
from kiln_plugin_amazon.config import AccessConfig

ClientError = botocore.exceptions.ClientError
#: everything a failed AWS call raises: an error answer, a transport failure, or an
#: answer that cannot be read (an endpoint that does not implement the call)
AWS_ERRORS = (ClientError, botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError)


class AWS:
    """The clients of one build: an EC2 client per region, with the access options."""

    def __init__(self, config: AccessConfig, ctx: Context) -> None:
        self.config = config
        self.ctx = ctx
        self.region = config.build_region()
        if not self.region:
            raise BuildError(
                "No region: set region in the template, or AWS_REGION in the environment."
            )
        self.session = self._session()
        self._clients: dict[str, Any] = {}

    def _session(self) -> botocore.session.Session:
        config = self.config
        session = new_session(config.profile or None)
        if config.shared_credentials_file:
            path = os.path.expanduser(config.shared_credentials_file)
            session.set_config_variable("credentials_file", path)
        if config.skip_metadata_api_check:  # no instance or container role in the chain
            resolver = session.get_component("credential_provider")
            for name in ("iam-role", "container-role"):
                resolver.remove(name)
        if config.access_key:
            session.set_credentials(config.access_key, config.secret_key, config.token or None)
        if config.assume_role is not None:
            session = self._assume(session)
        return session

    def _assume(self, session: botocore.session.Session) -> botocore.session.Session:
        role = self.config.assume_role
        assert role is not None
        args: dict[str, Any] = {
            "RoleArn": role.role_arn,
            "RoleSessionName": role.session_name or f"kiln-{self.ctx.run_uuid or 'run'}",
            "DurationSeconds": role.duration_seconds,
        }
        if role.external_id:
            args["ExternalId"] = role.external_id
        if role.policy:
            args["Policy"] = role.policy
        if role.policy_arns:
            args["PolicyArns"] = [{"arn": arn} for arn in role.policy_arns]
        if role.tags:
            args["Tags"] = [{"Key": k, "Value": v} for k, v in role.tags.items()]
        if role.transitive_tag_keys:
            args["TransitiveTagKeys"] = role.transitive_tag_keys
        try:
            found = self._client(session, "sts").assume_role(**args)
        except AWS_ERRORS as exc:
            raise BuildError(f"Cannot assume role {role.role_arn}: {exc}") from None
        credentials = found["Credentials"]
        assumed = new_session()
        assumed.set_credentials(
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )
        return assumed

    def _client(
        self, session: botocore.session.Session, service: str, region: str = "", endpoint: str = ""
    ) -> Any:
        return new_client(
            session, service, region or self.region, endpoint, self.config.max_retries
        )

    def ec2(self, region: str | None = None) -> Any:
        """The EC2 client of ``region`` (the build's by default)."""
        region = region or self.region
        if region not in self._clients:
            self._clients[region] = self._client(
                self.session, "ec2", region, self.config.custom_endpoint_ec2
            )
        return self._clients[region]

    def check_credentials(self) -> None:
        """Fail early, and clearly, when there are no credentials."""
        if self.session.get_credentials() is None:
            raise BuildError(
                "No AWS credentials found: set access_key and secret_key, a profile, or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment."
            )
        if self.config.skip_credential_validation or self.config.custom_endpoint_ec2:
            return
        try:
            self._client(self.session, "sts").get_caller_identity()
        except AWS_ERRORS as exc:
            raise BuildError(f"The AWS credentials do not work: {exc}") from None


#: the EC2 calls the plugin makes (its builds, data source and reaper): the only ones
#: the model of its EC2 clients holds (see _Loader); a test checks the list against the
#: plugin's code
EC2_OPERATIONS = frozenset(
    {
        "AuthorizeSecurityGroupIngress",
        "CopyImage",
        "CreateFleet",
        "CreateImage",
        "CreateKeyPair",
        "CreateLaunchTemplate",
        "CreateSecurityGroup",
        "CreateTags",
        "DeleteFleets",
        "DeleteKeyPair",
        "DeleteLaunchTemplate",
        "DeleteSecurityGroup",
        "DeleteSnapshot",
        "DeleteTags",
        "DeleteVolume",
        "DeregisterImage",
        "DescribeImages",
        "DescribeInstances",
        "DescribeKeyPairs",
        "DescribeLaunchTemplates",
        "DescribeRegions",
        "DescribeSecurityGroups",
        "DescribeSnapshots",
        "DescribeSubnets",
        "DescribeVolumes",
        "DescribeVpcs",
        "EnableImageDeprecation",
        "ModifyImageAttribute",
        "ModifyInstanceAttribute",
        "ModifySnapshotAttribute",
        "RunInstances",
        "StopInstances",
        "TerminateInstances",
    }
)


class _PlainJSONFiles(botocore.loaders.JSONFileLoader):
    """botocore's data files decoded into plain dicts, not botocore's OrderedDicts:
    both keep the file's order, and plain dicts decode in about half the time."""

    def _load_file(self, full_path: str, open_method: Callable[..., Any]) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as f:
            return json.loads(f.read())


class _Loader(botocore.loaders.Loader):
    """botocore's data loader, made quicker for the one or two clients of a build:

    - data files are decoded into plain dicts (:class:`_PlainJSONFiles`);
    - a service's model is looked up in its own folder, without first listing every
      service botocore knows (about 400 folders: 7 ms for each kind of model);
    - EC2's model (4.3 MB compressed JSON, 830 operations: 40 ms to read) is cut down
      to :data:`EC2_OPERATIONS` and the shapes they use, without documentation, and
      kept in kiln's cache for this botocore version: 160 KB, read in about 1 ms. A
      model of the user's own (``~/.aws/models``, ``AWS_DATA_PATH``) is read whole.
    """

    FILE_LOADER_CLASS = _PlainJSONFiles

    @botocore.loaders.instance_cache
    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if api_version is None:
            try:
                api_version = self.determine_latest_version(service_name, type_name)
            except botocore.exceptions.DataNotFoundError:  # botocore's error names the
                return super().load_service_model(service_name, type_name)  # known ones
        path = os.path.join(service_name, api_version, type_name)
        if (service_name, type_name) == ("ec2", "service-2") and self._builtin(service_name):
            model = self._trimmed(path, EC2_OPERATIONS)
        else:
            model = self.load_data(path)
        extras = self._find_extras(service_name, type_name, api_version)
        self._extras_processor.process(model, extras)
        return model

    def _builtin(self, service_name: str) -> bool:
        """Whether the service's models are botocore's own, not the user's."""
        for folder in self.search_paths:
            if folder == self.BUILTIN_DATA_PATH:
                return True
            if os.path.isdir(os.path.join(folder, service_name)):
                return False
        return False

    def _trimmed(self, path: str, operations: frozenset[str]) -> Any:
        """The model at ``path`` cut down to ``operations``, from the cache if it is
        there; a cache that cannot be read or written only costs time."""
        digest = hashlib.sha256("\n".join(sorted(operations)).encode()).hexdigest()[:16]
        name = f"{path.replace(os.sep, '-')}-{digest}.json"
        cached = cache_folder("kiln-plugin-amazon") / "botocore" / botocore.__version__ / name
        with contextlib.suppress(OSError, ValueError):  # missing, or not JSON
            return json.loads(cached.read_bytes())
        model = trim_model(self.load_data(path), operations)
        with contextlib.suppress(OSError):
            write_atomically(cached, json.dumps(model, separators=(",", ":")).encode())
        return model


def trim_model(model: dict[str, Any], operations: frozenset[str]) -> dict[str, Any]:
    """A botocore service model with only those of ``operations`` it has and the shapes
    they use, without documentation."""
    kept_operations = {
        name: model["operations"][name] for name in sorted(operations & model["operations"].keys())
    }
    shapes: dict[str, Any] = {}
    todo = [
        ref["shape"]
        for operation in kept_operations.values()
        for ref in (operation.get("input"), operation.get("output"), *operation.get("errors", ()))
        if ref
    ]
    while todo:
        name = todo.pop()
        if name not in shapes:
            shape = shapes[name] = model["shapes"][name]
            members = shape.get("members", {}).values()
            refs = (shape.get("member"), shape.get("key"), shape.get("value"), *members)
            todo.extend(ref["shape"] for ref in refs if ref)
    return _undocumented({**model, "operations": kept_operations, "shapes": shapes})


def _undocumented(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _undocumented(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_undocumented(v) for v in value]
    return value


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector paused, then freeze what is
    alive. Making EC2's client decodes its model, some 30,000 dicts and lists kept for
    the whole build: the collector would walk them again and again as they are made,
    and later (about 15 ms)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


def new_session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session (of ``profile``) that reads its data files faster
    (:class:`_Loader`)."""
    session = botocore.session.Session(profile=profile)
    paths = session.get_config_variable("data_path")  # AWS_DATA_PATH, as botocore reads it
    extra = (
        [os.path.expanduser(os.path.expandvars(p)) for p in paths.split(os.pathsep)]
        if paths
        else None
    )
    session.register_component("data_loader", _Loader(extra_search_paths=extra))
    return session


def new_client(
    session: botocore.session.Session,
    service: str,
    region: str,
    endpoint: str = "",
    max_retries: int = 0,
) -> Any:
    """A client of ``service`` in ``region`` (else the session's), at ``endpoint`` (else
    the one botocore finds), with standard retries (``max_retries`` more attempts than
    the first; 0: botocore's default)."""
    retries: dict[str, Any] = {"mode": "standard"}
    if max_retries:
        retries["total_max_attempts"] = max_retries + 1
    config = botocore.config.Config(retries=retries, user_agent_extra="kiln")
    with _collector_paused():
        return session.create_client(
            service, region_name=region or None, endpoint_url=endpoint or None, config=config
        )


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def filter_list(filters: dict[str, str]) -> list[dict[str, Any]]:
    """A template's ``filters`` map as the ``Filters`` of EC2's Describe* calls."""
    return [{"Name": name, "Values": [value]} for name, value in sorted(filters.items())]


def tag_specifications(kinds: tuple[str, ...], tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": tag_list(tags)} for kind in kinds if tags]


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


@dataclass(frozen=True)
class Polling:
    """How to wait: the first delay (later ones grow by half, up to 30 s) and the
    number of checks."""

    delay: float
    attempts: int

    @classmethod
    def of(cls, config: AccessConfig, default_minutes: float) -> Polling:
        polling = config.aws_polling
        delay = float(
            (polling.delay_seconds if polling else 0)
            or os.environ.get("AWS_POLL_DELAY_SECONDS")
            or 2
        )
        attempts = int(
            (polling.max_attempts if polling else 0) or os.environ.get("AWS_MAX_ATTEMPTS") or 0
        )
        if not attempts:  # enough checks, backing off, for Packer's limit
            attempts, waited, step = 1, 0.0, delay
            while waited < default_minutes * 60:
                waited += step
                step = min(step * 1.5, max(30.0, delay))
                attempts += 1
        return cls(delay, attempts)


def wait_until(
    ctx: Context,
    what: str,
    ready: Callable[[], bool],
    polling: Polling,
) -> None:
    """Check ``ready`` until it says so, sleeping in between (cancellable); fail
    saying what did not become ready and how long kiln waited."""
    started = time.monotonic()
    delay = polling.delay
    for attempt in range(polling.attempts):
        if ready():
            return
        if attempt + 1 == polling.attempts:
            break
        ctx.sleep(delay)
        delay = min(delay * 1.5, max(30.0, polling.delay))
    waited = format_duration(round(time.monotonic() - started))
    raise BuildError(
        f"{what} did not become ready after {polling.attempts} checks over {waited}. Raise "
        "aws_polling { max_attempts, delay_seconds } (or AWS_MAX_ATTEMPTS and "
        "AWS_POLL_DELAY_SECONDS) to wait longer."
    )


__all__ = [
    "AWS",
    "AWS_ERRORS",
    "ClientError",
    "Polling",
    "error_code",
    "filter_list",
    "new_client",
    "new_session",
    "tag_list",
    "tag_specifications",
    "wait_until",
]
