"""Network functions: cidrhost cidrnetmask cidrsubnet cidrsubnets.

Addresses are handled as integers with their bit width (32 or 128), following the
go-cidr library Packer uses, quirks included (a negative ``newbits`` shortens the
prefix, as it does in Packer).
"""

from __future__ import annotations

from typing import Any

from kiln.hcl.functions._base import ArgError, CallError, Param, function, whole_number
from kiln.hcl.types import NUMBER, STRING


class _Net:
    """An IP network: the address (not necessarily masked) and prefix length."""

    def __init__(self, address: int, prefix: int, bits: int) -> None:
        self.address = address
        self.prefix = prefix
        self.bits = bits

    def mask(self, prefix: int | None = None) -> int:
        length = self.prefix if prefix is None else prefix
        return ((1 << length) - 1) << (self.bits - length) if length > 0 else 0

    def __str__(self) -> str:
        return f"{_ip_text(self.address, self.bits)}/{self.prefix}"


def _ip_text(address: int, bits: int) -> str:
    import ipaddress

    if bits == 32:
        return str(ipaddress.IPv4Address(address))
    return ipaddress.IPv6Address(address).compressed


def _parse_cidr(text: str) -> _Net:
    """Go's ``net.ParseCIDR``: the network (address masked) of a CIDR expression."""
    import ipaddress

    address_text, slash, prefix_text = text.partition("/")
    try:
        if not slash or not prefix_text.isdigit() or not prefix_text.isascii():
            raise ValueError
        address = ipaddress.ip_address(address_text)
        bits = 32 if address.version == 4 else 128
        prefix = int(prefix_text)
        if prefix > bits or (address.version == 4 and address_text.count(".") != 3):
            raise ValueError
    except ValueError:
        raise CallError(f"invalid CIDR expression: invalid CIDR address: {text}") from None
    net = _Net(int(address), prefix, bits)
    net.address &= net.mask()
    return net


@function("cidrhost", Param("prefix", STRING), Param("hostnum", NUMBER))
def cidrhost(prefix: str, hostnum: int | float) -> str:
    """The address of a host number within a network prefix (negative counts back)."""
    number = whole_number(hostnum)
    net = _parse_cidr(prefix)
    host_bits = net.bits - net.prefix
    max_host = (1 << host_bits) - 1
    magnitude = number
    if number < 0:
        magnitude = -number - 1
        number = max_host - magnitude
    if magnitude > max_host:
        raise CallError(f"prefix of {net.prefix} does not accommodate a host numbered {number}")
    return _ip_text(net.address | number, net.bits)


@function("cidrnetmask", Param("prefix", STRING))
def cidrnetmask(prefix: str) -> str:
    """The netmask of an IPv4 network prefix, in dotted form."""
    net = _parse_cidr(prefix)
    return _ip_text(net.mask(), net.bits)


def _subnet(net: _Net, newbits: int, netnum: int) -> _Net:
    new_prefix = net.prefix + newbits
    if new_prefix > net.bits:
        raise CallError(f"insufficient address space to extend prefix of {net.prefix} by {newbits}")
    max_num = (1 << newbits) - 1 if 0 <= newbits < 64 else (1 << 64) - 1
    if netnum % (1 << 64) > max_num:
        raise CallError(
            f"prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
        )
    shifted = netnum << (net.bits - new_prefix)
    return _Net((net.address | shifted) & ((1 << net.bits) - 1), new_prefix, net.bits)


@function("cidrsubnet", Param("prefix", STRING), Param("newbits", NUMBER), Param("netnum", NUMBER))
def cidrsubnet(prefix: str, newbits: int | float, netnum: int | float) -> str:
    """A subnet of a network prefix, extended by ``newbits`` and numbered ``netnum``."""
    bits = whole_number(newbits)
    number = whole_number(netnum)
    return str(_subnet(_parse_cidr(prefix), bits, number))


def _last_address(net: _Net) -> int:
    return net.address | (((1 << net.bits) - 1) ^ net.mask())


@function("cidrsubnets", Param("prefix", STRING), var_param=Param("newbits", NUMBER))
def cidrsubnets(prefix: str, *newbits: int | float) -> list[Any]:
    """Consecutive subnets of a network prefix, one per ``newbits`` value."""
    try:
        base = _parse_cidr(prefix)
    except CallError as exc:
        raise ArgError(0, str(exc)) from None
    if not newbits:
        return []
    lengths = []
    for i, value in enumerate(newbits):
        try:
            lengths.append(whole_number(value))
        except CallError as exc:
            raise ArgError(i + 1, str(exc)) from None
    full = (1 << base.bits) - 1
    first = base.prefix + lengths[0]
    previous = (base.address - 1) & full
    first = min(max(first, 0), base.bits)  # out of range lengths fail below, before use
    current = _Net(previous & _Net(0, first, base.bits).mask(), first, base.bits)
    out = []
    protocol = "IPv4" if base.bits == 32 else "IPv6"
    for i, extra in enumerate(lengths):
        if extra < 1:
            raise ArgError(i + 1, "must extend prefix by at least one bit")
        if extra > 32:
            raise ArgError(i + 1, "may not extend prefix by more than 32 bits")
        length = base.prefix + extra
        if length > base.bits:
            raise ArgError(
                i + 1,
                f"would extend prefix to {length} bits, which is too long for an "
                f"{protocol} address",
            )
        mask = _Net(0, length, base.bits).mask()
        widened = _Net(_last_address(current) & mask, length, base.bits)
        following = (_last_address(widened) + 1) & full
        rollover = following == 0
        nxt = _Net(following & mask, length, base.bits)
        if rollover or (nxt.address & base.mask()) != base.address:
            raise ArgError(
                i + 1,
                "not enough remaining address space for a subnet with a prefix of "
                f"{length} bits after {current}",
            )
        current = nxt
        out.append(str(current))
    return out
