"""The key file: the keys that seal (encrypt) identifying answers at rest, kept outside the database.

A key file is JSON, readable by its owner only (mode 0600):

    {"format": "sanad-keys/1", "current": "k3f9a0c1d", "keys": {"k3f9a0c1d": "<base64, 32 bytes>", ...},
     "mac": "<base64, 32 bytes>"}

`current` seals everything new; the others still open what they sealed (a rotation re-seals records,
their history and comments with the current key; entries of the append-only audit log keep the key
they were sealed with, so an old key stays in the file). `mac` keys the blind search indexes and the
audit log's hash chain; it is never rotated.

Where it is: --key-file, else $SANAD_KEY_FILE, else `sanad.key` in the data folder. $SANAD_KEYS may
hold the file's content instead (a container secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_FILE = "SANAD_KEY_FILE"
ENV_CONTENT = "SANAD_KEYS"
FORMAT = "sanad-keys/1"
#: a sealed value in a JSON column: {"$sealed": "<key id>.<base64 of nonce + ciphertext>"}
TOKEN = "$sealed"
#: a sealed value in a text column
TEXT_PREFIX = "sealed:v1:"


class KeyFileError(Exception):
    """The key file is missing, unreadable or not a key file; the message says which and what to do."""


class SealError(Exception):
    """A sealed value could not be opened: the key is wrong or the value was changed."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def normalized(value: str) -> str:
    """What a blind index compares: case, spacing and Unicode forms do not matter."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


@dataclass
class Keyring:
    current: str
    keys: dict[str, bytes]
    mac: bytes
    path: str | None = None  # None: from $SANAD_KEYS
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False)
    #: reads the key file again (set by the KeySource that read it): a value sealed with a key this
    #: ring does not hold yet (a rotation by another process, within the last second) still opens
    reread: Callable[[], Keyring] | None = field(default=None, repr=False, compare=False)

    def _cipher(self, kid: str) -> AESGCM:
        c = self._aead.get(kid)
        if c is None:
            key = self.keys.get(kid)
            if key is None and self.reread is not None:
                key = self.reread().keys.get(kid)
                if key is not None:
                    self.keys[kid] = key
            if key is None:
                where = self.path or f"${ENV_CONTENT}"
                raise SealError(f"the key '{kid}' is not in {where}; use the key file this database was sealed with")
            c = self._aead[kid] = AESGCM(key)
        return c

    # -- sealing -----------------------------------------------------------------------------------
    def seal_bytes(self, plain: bytes, aad: str) -> str:
        nonce = os.urandom(12)
        return f"{self.current}.{_b64(nonce + self._cipher(self.current).encrypt(nonce, plain, aad.encode()))}"

    def open_bytes(self, token: str, aad: str) -> bytes:
        kid, _, body = token.partition(".")
        raw = _unb64(body)
        try:
            return self._cipher(kid).decrypt(raw[:12], raw[12:], aad.encode())
        except (InvalidTag, ValueError):
            raise SealError(f"a sealed value ({aad}) does not open with key '{kid}': wrong key, or changed") from None

    def seal(self, value: Any, aad: str) -> dict[str, str]:
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return {TOKEN: self.seal_bytes(plain, aad)}

    def open(self, sealed: dict[str, str], aad: str) -> Any:
        return json.loads(self.open_bytes(sealed[TOKEN], aad))

    def seal_text(self, text: str | None, aad: str) -> str | None:
        if not text or text.startswith(TEXT_PREFIX):
            return text
        return TEXT_PREFIX + self.seal_bytes(text.encode(), aad)

    def open_text(self, text: str | None, aad: str) -> str | None:
        if not text or not text.startswith(TEXT_PREFIX):
            return text
        return self.open_bytes(text[len(TEXT_PREFIX) :], aad).decode()

    # -- keyed digests -----------------------------------------------------------------------------
    def blind(self, scope: str, value: str) -> str:
        """A keyed digest of a value, to find it by equality without storing it."""
        msg = f"{scope}\x00{normalized(value)}".encode()
        return hmac.new(self.mac, msg, hashlib.sha256).hexdigest()[:32]

    def digest(self, data: bytes) -> str:
        return hmac.new(self.mac, data, hashlib.sha256).hexdigest()

    def check(self, kid: str) -> str:
        """Proof that a key is the one a database was sealed with, without revealing it."""
        return hmac.new(self.keys[kid], b"sanad key check", hashlib.sha256).hexdigest()[:32]

    # -- the file ------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "current": self.current,
                "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
                "mac": base64.b64encode(self.mac).decode(),
            },
            indent=2,
        )

    def with_new_key(self) -> Keyring:
        kid = new_key_id()
        while kid in self.keys:
            kid = new_key_id()
        return Keyring(kid, {**self.keys, kid: AESGCM.generate_key(bit_length=256)}, self.mac, self.path)


def generate(path: str | None = None) -> Keyring:
    kid = new_key_id()
    return Keyring(kid, {kid: AESGCM.generate_key(bit_length=256)}, secrets.token_bytes(32), path)


def parse(text: str, where: str) -> Keyring:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"{where} is not a Sanad key file (not JSON: {exc.msg}, line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise KeyFileError(f'{where} is not a Sanad key file (its "format" is not "{FORMAT}")')
    try:
        keys = {str(k): base64.b64decode(v) for k, v in doc["keys"].items()}
        mac = base64.b64decode(doc["mac"])
        current = str(doc["current"])
    except (KeyError, TypeError, AttributeError, ValueError):
        raise KeyFileError(f'{where} is damaged: it needs "current", "keys" and "mac"') from None
    if current not in keys:
        raise KeyFileError(f"{where} is damaged: its current key '{current}' is not among its keys")
    if any(len(k) != 32 for k in keys.values()) or len(mac) != 32:
        raise KeyFileError(f"{where} is damaged: every key is 32 bytes")
    return Keyring(current, keys, mac, None if where.startswith("$") else where)


def default_path(data_dir: str) -> str:
    return os.environ.get(ENV_FILE) or os.path.join(data_dir, "sanad.key")


def read(path: str) -> Keyring | None:
    """The key file at `path` (None if there is none); $SANAD_KEYS wins when set."""
    if os.environ.get(ENV_CONTENT):
        return parse(os.environ[ENV_CONTENT], f"${ENV_CONTENT}")
    if not os.path.exists(path):
        return None
    mode = os.stat(path).st_mode
    if mode & 0o077:
        raise KeyFileError(
            f"{path} can be read by other users of this computer (mode {mode & 0o777:o}); run: chmod 600 {path}"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            return parse(fh.read(), path)
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from None


def write(ring: Keyring, path: str) -> None:
    """Write the key file atomically, mode 0600 (a new file, then renamed over the old one)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(ring.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    ring.path = path


def create(path: str) -> Keyring:
    """A new key file at `path`; never replaces one (of two processes starting at once, the second
    reads the first one's file)."""
    ring = generate(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(ring.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic, and fails if the file exists
    except FileExistsError:
        found = read(path)
        assert found is not None
        return found
    finally:
        os.unlink(tmp)
    return ring
