"""An EC2 emulator on loopback and an sshd that accepts any key, for the amazon plugin's
tests.

``ec2_emulator`` (a session fixture) is moto's server mode on a free 127.0.0.1 port;
``ec2`` (a function fixture) is the same server, wiped (:meth:`EC2Emulator.reset`) before
the test. Its instances are records, not machines: a build reaches "the instance" through
``ssh_host``/``ssh_port`` pointing at a loopback sshd. ``any_key_sshd`` is one whose
``AuthorizedKeysCommand`` prints back whatever public key the client offers, so it lets
in the private key of a key pair the emulator generated (CreateKeyPair). Resource sets
before and after a build (:meth:`EC2Emulator.resources`) show whether anything leaked.
:func:`running_ec2` and :func:`running_any_key_sshd` are the same as context managers,
for code outside pytest.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sshd import SSHServer, running_sshd

#: a boto3 EC2 client (boto3 and moto are imported when they are used, not at collection)
EC2Client = Any

#: the dummy credentials every client of the emulator uses (moto accepts any)
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
DEFAULT_REGION = "us-east-1"
#: the account moto gives requests signed with keys it does not know
ACCOUNT_ID = "123456789012"

#: the program sshd runs to look up a user's keys; it must be in a root-owned folder
#: that no one else may write to, or sshd refuses to run it
ANY_KEY_COMMAND = Path("/usr/local/sbin/kiln-test-any-key")
ANY_KEY_SCRIPT = '#!/bin/sh\necho "$1 $2"\n'

#: environment variables of the host's own AWS set-up that would send a client elsewhere
#: or sign with other credentials; :meth:`EC2Emulator.env` drops them
_HOST_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True)
class EC2Emulator:
    """A running EC2 emulator: ``endpoint`` is its ``http://127.0.0.1:PORT``."""

    endpoint: str
    #: the account every request acts as (moto's default: the dummy key names no other)
    account_id: str = ACCOUNT_ID

    def client(self, region: str = DEFAULT_REGION) -> EC2Client:
        """A boto3 EC2 client for ``region`` of the emulator, with the dummy credentials;
        one per endpoint and region, made once (a client takes 0.1-0.3 s to make)."""
        key = (self.endpoint, region)
        client = _clients.get(key)
        if client is None:
            import boto3

            client = _clients[key] = boto3.session.Session().client(
                "ec2",
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
            )
        return client

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with the emulator's dummy
        credentials, region us-east-1 and the instance metadata lookup turned off, for a
        kiln subprocess; the host's own AWS profile, token and endpoint variables are
        dropped, and its config and credentials files hidden (``os.devnull``). The
        endpoint itself is not set: a template names it (``custom_endpoint_ec2``)."""
        env = dict(os.environ if base is None else base)
        for name in _HOST_AWS_VARIABLES:
            env.pop(name, None)
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            AWS_DEFAULT_REGION=DEFAULT_REGION,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return env

    def reset(self) -> None:
        """Wipe everything the emulator holds, in every region (moto's reset endpoint);
        the sample AMIs and the default VPCs come back."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 200:
                raise RuntimeError(f"the emulator's reset answered {response.status}")

    def resources(self, regions: Iterable[str] = (DEFAULT_REGION,)) -> dict[str, set[str]]:
        """What a build could leave behind, per kind: ``instances`` (ids of those not
        terminated), ``key_pairs`` (names), ``security_groups`` (ids, not the VPCs'
        ``default`` groups), ``launch_templates`` (ids), ``images`` (ids, owned by the
        account), ``snapshots`` (ids, owned by the account) and ``volumes`` (ids, all).
        With several regions each key is ``REGION/KIND`` (``us-west-2/images``), with
        one just ``KIND``. Compare whole results::

            before = ec2.resources(regions)
            ...  # a build
            assert ec2.resources(regions) == before

        What the emulator (moto 5) does on its own, so a test is not surprised:

        - RunInstances without BlockDeviceMappings makes one 8 GiB root volume at
          ``/dev/sda1`` (whatever the AMI's root device name), DeleteOnTermination true;
          with BlockDeviceMappings it makes exactly the volumes listed (no extra root).
          TerminateInstances deletes the volumes whose DeleteOnTermination is true and
          leaves the others ``available``; the instance stays listed as ``terminated``.
        - CreateImage and CopyImage each make one 15 GiB snapshot owned by the account
          (whatever the instance's volumes); DeregisterImage leaves it, as AWS does.
        - The sample AMIs belong to other accounts, and so do their snapshots, which
          DescribeSnapshots lists even with ``OwnerIds=["self"]`` (moto ignores that
          parameter): snapshots are selected with the ``owner-id`` filter instead.
        - Fleets and spot requests are not listed: moto keeps an instant fleet and its
          spot request ``active`` after their instances are terminated.
        """
        regions = list(dict.fromkeys(regions))
        found: dict[str, set[str]] = {}
        for region in regions:
            prefix = f"{region}/" if len(regions) > 1 else ""
            for kind, ids in _region_resources(self.client(region), self.account_id).items():
                found[prefix + kind] = ids
        return found


#: the clients client() made, by endpoint and region
_clients: dict[tuple[str, str], EC2Client] = {}


def _pages(client: EC2Client, operation: str, key: str, **params: Any) -> Iterator[Any]:
    """The items under ``key`` of every page of ``operation``."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])
    else:
        yield from getattr(client, operation)(**params).get(key, [])


def _region_resources(client: EC2Client, account_id: str) -> dict[str, set[str]]:
    instances = {
        instance["InstanceId"]
        for reservation in _pages(client, "describe_instances", "Reservations")
        for instance in reservation["Instances"]
        if instance["State"]["Name"] != "terminated"
    }
    return {
        "instances": instances,
        "key_pairs": {k["KeyName"] for k in _pages(client, "describe_key_pairs", "KeyPairs")},
        "security_groups": {
            g["GroupId"]
            for g in _pages(client, "describe_security_groups", "SecurityGroups")
            if g["GroupName"] != "default"
        },
        "launch_templates": {
            t["LaunchTemplateId"]
            for t in _pages(client, "describe_launch_templates", "LaunchTemplates")
        },
        "images": {
            i["ImageId"] for i in _pages(client, "describe_images", "Images", Owners=["self"])
        },
        "snapshots": {
            s["SnapshotId"]
            for s in _pages(
                client,
                "describe_snapshots",
                "Snapshots",
                Filters=[{"Name": "owner-id", "Values": [account_id]}],
            )
        },
        "volumes": {v["VolumeId"] for v in _pages(client, "describe_volumes", "Volumes")},
    }


def import_key_pair(ec2_client: EC2Client, name: str, public_key_line: str) -> str:
    """Import ``public_key_line`` (an OpenSSH ``ssh-ed25519 AAAA... comment`` line) into
    the emulator as the key pair ``name`` (what ``ssh_keypair_name`` with
    ``ssh_private_key_file`` names); returns its KeyPairId."""
    answer = ec2_client.import_key_pair(
        KeyName=name, PublicKeyMaterial=public_key_line.strip().encode()
    )
    return str(answer["KeyPairId"])


@contextmanager
def running_ec2(port: int | None = None) -> Iterator[EC2Emulator]:
    """Run moto's server on ``127.0.0.1:port`` (default: a port the kernel picks) in a
    thread of this process until the block ends."""
    from moto.server import ThreadedMotoServer

    # werkzeug would print a line per request on stderr when nothing configured logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if port is not None:
        _check_port_free(port)  # ThreadedMotoServer.start() would wait forever
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or 0, verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        yield EC2Emulator(endpoint=f"http://{host}:{bound}")
    finally:
        server.stop()


def _check_port_free(port: int) -> None:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RuntimeError(
                f"the EC2 emulator cannot listen on 127.0.0.1:{port}: {exc}"
            ) from exc


def install_any_key_command(path: Path = ANY_KEY_COMMAND) -> None:
    """Write the AuthorizedKeysCommand that prints back the offered key (``%t %k``), mode
    0755, unless it is already there as it should be. Needs root: sshd insists the
    program and every folder above it belong to root and that no one else may write."""
    try:
        if path.read_text() == ANY_KEY_SCRIPT and (path.stat().st_mode & 0o7777) == 0o755:
            return
    except FileNotFoundError:
        pass
    if os.geteuid() != 0:
        raise RuntimeError(f"writing {path} (for the any-key sshd) needs root")
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(ANY_KEY_SCRIPT)
    temporary.chmod(0o755)
    os.replace(temporary, path)  # atomic: another test session may be reading it


@contextmanager
def running_any_key_sshd(workdir: Path) -> Iterator[SSHServer]:
    """Run an sshd from ``workdir`` (like :func:`tests.sshd.running_sshd`) that lets the
    current user in with any public key, until the block ends: its
    ``AuthorizedKeysCommand`` prints back whatever key the client offers. The yielded
    ``private_key_file`` is the usual throwaway client key (it works too)."""
    install_any_key_command()
    extra = (
        f"AuthorizedKeysCommand {ANY_KEY_COMMAND} %t %k",
        "AuthorizedKeysCommandUser root",
    )
    with running_sshd(workdir, extra_config=extra) as server:
        yield server


@pytest.fixture(scope="session")
def ec2_emulator() -> Iterator[EC2Emulator]:
    """The EC2 emulator for the whole test session (its state is shared: see ``ec2``)."""
    with running_ec2() as emulator:
        yield emulator


@pytest.fixture
def ec2(ec2_emulator: EC2Emulator) -> EC2Emulator:
    """The session's EC2 emulator, wiped before the test."""
    ec2_emulator.reset()
    return ec2_emulator


@pytest.fixture(scope="session")
def any_key_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    """An sshd on 127.0.0.1 that accepts any public key for the current user, for the
    whole test session."""
    with running_any_key_sshd(tmp_path_factory.mktemp("any-key-sshd")) as server:
        yield server
