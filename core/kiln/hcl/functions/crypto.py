"""Crypto functions: bcrypt md5 rsadecrypt sha1 sha256 sha512."""

from __future__ import annotations

import base64
import binascii

from kiln.hcl.functions._base import CallError, Param, function, whole_number
from kiln.hcl.types import NUMBER, STRING
from kiln.hcl.values import go_quote


def _hex_digest(name: str, text: str) -> str:
    import hashlib

    return hashlib.new(name, text.encode("utf-8")).hexdigest()


@function("md5", Param("str", STRING))
def md5(text: str) -> str:
    """The MD5 hash of the string's UTF-8 bytes, in hexadecimal."""
    return _hex_digest("md5", text)


@function("sha1", Param("str", STRING))
def sha1(text: str) -> str:
    """The SHA-1 hash of the string's UTF-8 bytes, in hexadecimal."""
    return _hex_digest("sha1", text)


@function("sha256", Param("str", STRING))
def sha256(text: str) -> str:
    """The SHA-256 hash of the string's UTF-8 bytes, in hexadecimal."""
    return _hex_digest("sha256", text)


@function("sha512", Param("str", STRING))
def sha512(text: str) -> str:
    """The SHA-512 hash of the string's UTF-8 bytes, in hexadecimal."""
    return _hex_digest("sha512", text)


@function("bcrypt", Param("str", STRING), var_param=Param("cost", NUMBER))
def bcrypt_(text: str, *cost: int | float) -> str:
    """A bcrypt hash of the string (``$2a$``, cost 10 unless given)."""
    import bcrypt

    rounds = 10
    if cost:
        rounds = whole_number(cost[0])
    if len(cost) > 1:
        raise CallError("bcrypt() takes no more than two arguments")
    if rounds < 4:
        rounds = 10  # Go's bcrypt uses its default cost below the minimum
    if rounds > 31:
        raise CallError(
            "error occured generating password crypto/bcrypt: "
            f"cost {rounds} is outside allowed range (4,31)"
        )
    password = text.encode("utf-8")[:72]
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=rounds, prefix=b"2a")).decode("ascii")


@function("rsadecrypt", Param("ciphertext", STRING), Param("privatekey", STRING))
def rsadecrypt(ciphertext: str, privatekey: str) -> str:
    """The plaintext of a Base64 RSA (PKCS #1 v1.5) ciphertext, given a PEM private key."""
    try:
        data = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise CallError(
            f"failed to decode input {go_quote(ciphertext)}: cipher text must be base64-encoded"
        ) from None
    block_type, headers, der = _pem_block(privatekey)
    if der is None:
        raise CallError("failed to parse key: no key found")
    if headers.get("Proc-Type") == "4,ENCRYPTED":
        raise CallError(
            "failed to parse key: password protected keys are not supported. "
            "Please decrypt the key prior to use"
        )
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    if block_type != "RSA PRIVATE KEY":
        raise CallError(
            "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this "
            "key format)"
        )
    try:
        key = load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise CallError("x509: failed to parse private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CallError("x509: failed to parse private key")
    try:
        plain = key.decrypt(data, padding.PKCS1v15())
    except ValueError:
        raise CallError("crypto/rsa: decryption error") from None
    return plain.decode("utf-8", errors="replace")


def _pem_block(text: str) -> tuple[str, dict[str, str], bytes | None]:
    """The first PEM block of ``text``: its type, headers and DER bytes."""
    start = text.find("-----BEGIN ")
    if start < 0:
        return "", {}, None
    header_end = text.find("-----", start + 11)
    if header_end < 0:
        return "", {}, None
    block_type = text[start + 11 : header_end]
    end_marker = f"-----END {block_type}-----"
    end = text.find(end_marker, header_end)
    if end < 0:
        return "", {}, None
    body = text[header_end + 5 : end].strip().splitlines()
    headers: dict[str, str] = {}
    while body and ":" in body[0]:
        key, _, value = body.pop(0).partition(":")
        headers[key.strip()] = value.strip()
    try:
        der = base64.b64decode("".join(line.strip() for line in body), validate=True)
    except (binascii.Error, ValueError):
        return "", {}, None
    return block_type, headers, der
