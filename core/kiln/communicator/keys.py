"""Temporary SSH key pairs, for builders that install a fresh key on the machine.

The private key is OpenSSH's own format (what ``ssh-keygen`` writes); the public key
is the ``authorized_keys`` line, whose comment names the build so that
``ssh_clear_authorized_keys`` can find the line again.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kiln.sdk.commconfig import DEFAULT_KEY_BITS

CURVES: dict[int, ec.EllipticCurve] = {
    256: ec.SECP256R1(),
    384: ec.SECP384R1(),
    521: ec.SECP521R1(),
}


@dataclass(frozen=True)
class KeyPair:
    private_key: str  # OpenSSH private key text, unencrypted
    public_key: str  # "ssh-ed25519 AAAA... comment"


def generate_key_pair(kind: str = "ed25519", bits: int = 0, comment: str = "kiln") -> KeyPair:
    """A fresh key pair of ``kind`` (ed25519, rsa or ecdsa); ``bits`` for rsa and ecdsa,
    0 for the default size (``ssh_temporary_key_pair_bits``'s: rsa 4096, ecdsa 521)."""
    if kind not in DEFAULT_KEY_BITS:
        raise ValueError(f"unknown key type {kind!r}: use ed25519, rsa or ecdsa")
    bits = bits or DEFAULT_KEY_BITS[kind]
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif bits in CURVES:
        key = ec.generate_private_key(CURVES[bits])
    else:
        raise ValueError(f"an ecdsa key has 256, 384 or 521 bits, not {bits}")
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    return KeyPair(private, f"{public} {comment}")
