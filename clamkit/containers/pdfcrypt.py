"""The PDF standard security handler: can a PDF be opened with the empty password, and decryption.

Strategy: as the reference does, an encrypted PDF is tried with the empty
user password only (ISO 32000: algorithms 2 and 4/5 for revisions 2-4,
SHA-256 for the AES-256 revision 5).  Revision 6 (PDF 2.0's iterated
hash) is not tried: ClamAV 1.4 does not, and reports such files as
encrypted even when their user password is empty.  When it opens, every string
of streams is decrypted with the per-object key (RC4, AES-128) or the file
key (AES-256), as the crypt filter named by ``/StmF`` says; when it does
not, the caller raises ``Heuristics.Encrypted.PDF`` and the streams stay
encrypted.  RC4 and AES come from ``cryptography``.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

__all__ = ["Decryptor", "empty_password_decryptor", "pdf_string"]

# ISO 32000-1, 7.6.3.3: the padding that stands in for a missing password.
_PADDING = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")

_DELIMITERS = rb"[ \t\r\n\f\0]*"
_STRING_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_LITERAL_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\r\n]|.)", re.DOTALL)
_NOT_HEX = re.compile(rb"[^0-9a-fA-F]+")


# ``cryptography`` is imported by the functions that use it: it maps 8 MB
# of native code into every scanner process, and few scans meet an
# encrypted PDF.


def rc4(key: bytes, data: bytes) -> bytes:
    """RC4 (keys of 5 to 256 bytes, as every PDF key is)."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    return Cipher(ARC4(key), mode=None).decryptor().update(data)


def _aes_cbc(key: bytes, iv: bytes, data: bytes, *, encrypt: bool = False) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    whole = len(data) // 16 * 16
    return worker.update(data[:whole]) + worker.finalize()


def pdf_string(token: bytes) -> bytes:
    """The bytes of a PDF string token, ``<hex>`` or ``(literal)`` with its escapes."""
    if token.startswith(b"<"):
        digits = _NOT_HEX.sub(b"", token[1:-1])
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))

    def unescape(found: re.Match[bytes]) -> bytes:
        escaped = found.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8) & 0xFF])
        if escaped in (b"\r\n", b"\r", b"\n"):
            return b""
        return _STRING_ESCAPES.get(escaped, escaped)

    return _LITERAL_ESCAPE.sub(unescape, token[1:-1])


def _string_entry(dictionary: bytes, key: bytes) -> bytes | None:
    found = re.search(
        re.escape(key) + _DELIMITERS + rb"(<[^>]*>|\((?:\\.|[^\\)])*\))", dictionary, re.DOTALL
    )
    return None if found is None else pdf_string(found.group(1))


def _integer_entry(dictionary: bytes, key: bytes, default: int) -> int:
    found = re.search(re.escape(key) + _DELIMITERS + rb"(-?[0-9]+)", dictionary)
    return default if found is None else int(found.group(1))


def _name_entry(dictionary: bytes, key: bytes) -> bytes | None:
    found = re.search(re.escape(key) + _DELIMITERS + rb"/([A-Za-z0-9]+)", dictionary)
    return None if found is None else found.group(1)


@dataclass(frozen=True, slots=True)
class Decryptor:
    """Decrypts the streams of one PDF opened with the empty password."""

    key: bytes
    method: bytes  # V2 (RC4), AESV2, AESV3 or Identity

    def stream(self, number: int, generation: int, data: bytes) -> bytes:
        if self.method == b"Identity":
            return data
        if self.method == b"AESV3":
            return self._aes(self.key, data)
        salt = b"sAlT" if self.method == b"AESV2" else b""
        material = self.key + struct.pack("<I", number)[:3] + struct.pack("<H", generation)
        object_key = hashlib.md5(material + salt).digest()[: min(len(self.key) + 5, 16)]
        if self.method == b"AESV2":
            return self._aes(object_key, data)
        return rc4(object_key, data)

    @staticmethod
    def _aes(key: bytes, data: bytes) -> bytes:
        if len(data) < 32:
            return b""
        plain = _aes_cbc(key, data[:16], data[16:])
        pad = plain[-1] if plain else 0
        return plain[:-pad] if 0 < pad <= 16 else plain


def _method(encrypt: bytes, version: int) -> bytes:
    if version < 4:
        return b"V2"
    filter_name = _name_entry(encrypt, b"/StmF") or b"Identity"
    if filter_name == b"Identity":
        return b"Identity"
    found = re.search(
        rb"/" + re.escape(filter_name) + _DELIMITERS + rb"<<(.*?)>>", encrypt, re.DOTALL
    )
    return (found and _name_entry(found.group(1), b"/CFM")) or b"V2"


def empty_password_decryptor(encrypt: bytes, file_id: bytes) -> Decryptor | None:
    """A decryptor when the empty user password opens the PDF, else None.

    ``encrypt`` is the text of the encryption dictionary, ``file_id`` the
    first string of the trailer's ``/ID``.
    """
    if _name_entry(encrypt, b"/Filter") != b"Standard":
        return None
    revision = _integer_entry(encrypt, b"/R", 0)
    version = _integer_entry(encrypt, b"/V", 0)
    owner = _string_entry(encrypt, b"/O") or b""
    user = _string_entry(encrypt, b"/U") or b""
    method = _method(encrypt, version)
    if revision == 5:
        # The reference wants both 48-byte strings before it tries the password.
        if len(owner) < 48 or len(user) < 48:
            return None
        if hashlib.sha256(user[32:40]).digest() != user[:32]:
            return None
        user_encrypted = _string_entry(encrypt, b"/UE") or b""
        if len(user_encrypted) != 32:
            return None
        wrap = hashlib.sha256(user[40:48]).digest()
        return Decryptor(_aes_cbc(wrap, bytes(16), user_encrypted), method)
    if revision not in (2, 3, 4) or len(owner) < 32:
        return None
    length = 5 if revision == 2 else _integer_entry(encrypt, b"/Length", 40) // 8
    permissions = _integer_entry(encrypt, b"/P", 0)
    material = _PADDING + owner[:32] + struct.pack("<i", permissions) + file_id
    if revision >= 4 and re.search(rb"/EncryptMetadata" + _DELIMITERS + b"false", encrypt):
        material += b"\xff" * 4
    digest = hashlib.md5(material).digest()
    if revision >= 3:
        for _ in range(50):
            digest = hashlib.md5(digest[:length]).digest()
    key = digest[:length]
    if revision == 2:
        expected, check = rc4(key, _PADDING), user[:32]
    else:
        expected = rc4(key, hashlib.md5(_PADDING + file_id).digest())
        for step in range(1, 20):
            expected = rc4(bytes(byte ^ step for byte in key), expected)
        check = user[:16]
    return Decryptor(key, method) if expected == check else None
