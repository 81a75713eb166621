"""From a ``required_plugins`` source address to the distribution that provides it.

The rule, one for every source: ``kiln-plugin-`` followed by the address's namespace
parts and its type, joined with dashes, as a canonical (PEP 503) project name. The
namespace ``hashicorp`` on ``github.com`` is left out, because kiln's own plugins stand
in for HashiCorp's official ones; that is what lets a Packer template's
``required_plugins`` block work unchanged:

==================================  =========================
source                              distribution
==================================  =========================
github.com/hashicorp/amazon         kiln-plugin-amazon
github.com/hashicorp/docker         kiln-plugin-docker
github.com/acme/greeting            kiln-plugin-acme-greeting
gitlab.example.com/infra/tools/vm   kiln-plugin-infra-tools-vm
==================================  =========================

Keeping the namespace in every other name means nobody can answer for someone else's
plugin by publishing its bare type. The host picks the index (see ``settings``).
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from kiln.hcl.requirements import SourceAddress, parse_source_address

OFFICIAL = ("github.com", ("hashicorp",))
PREFIX = "kiln-plugin-"


def distribution_for(source: str | SourceAddress) -> str:
    address = parse_source_address(source) if isinstance(source, str) else source
    namespace = tuple(part.lower() for part in address.namespace)
    parts = [address.type]
    if (address.host, namespace) != OFFICIAL:
        parts = [*namespace, address.type]
    return canonicalize_name(PREFIX + "-".join(parts))


def source_key(source: str) -> str:
    """The spelling a source is keyed by in the lock and the plugin home."""
    return str(parse_source_address(source))
