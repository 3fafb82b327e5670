"""Field encryption at rest and keyed search tokens (blind index, name tokens).

`FieldCipher` encrypts one column value with AES-256-GCM, bound to its table, column and row, and tags
the blob with the id of its key so keys rotate. `BlindIndex` derives keyed, deterministic values that a
repository can store beside the ciphertext to find a row again: an exact hash (CNIE number) and name
tokens that let Arabic and Latin spellings and small misspellings meet. See docs/privacy.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from himaya import names

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
FIELD_KEY_INFO = b"himaya-field-v1"
BLIND_INDEX_INFO = b"himaya-blind-index-v1"
NAME_TOKEN_LABEL = b"himaya-name-tokens-v1"
TOKEN_HEX_CHARS = 16
# Weight of a stored token absent from the query in `BlindIndex.score` (a missing query token weighs 1).
STORED_EXTRA_WEIGHT = 0.25
# Thresholds on `BlindIndex.score`, measured on the spelling variants in shared/tests/test_names.py.
SAME_NAME_SCORE = 0.6
UNRELATED_SCORE = 0.3
MIN_SECRET_CHARS = 16
# Prefix of a word's phonetic-key feature in `word_features` (bigrams start with "b:").
KEY_FEATURE_PREFIX = "k:"
_AAD_PREFIX = b"himaya-field-v1\x00"


class DecryptionError(Exception):
    """A blob could not be decrypted: unknown key id, wrong table/column/row, tampering or bad format."""


def derive_key(secret: str, info: bytes) -> bytes:
    """A 32-byte key derived from a configured secret string with HKDF-SHA256."""
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"a key secret must have at least {MIN_SECRET_CHARS} characters")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret.encode())


def _row_text(row_id: uuid.UUID | str) -> str:
    if isinstance(row_id, uuid.UUID):
        return str(row_id)
    try:
        return str(uuid.UUID(row_id))  # one spelling per UUID, whatever case or braces it came in
    except ValueError:
        if not row_id:
            raise ValueError("row_id must not be empty") from None
        return row_id


def _aad(header: bytes, table: str, column: str, row_id: uuid.UUID | str) -> bytes:
    for part in (table, column):
        if not part or "\x00" in part:
            raise ValueError("table and column must be non-empty and contain no NUL")
    row = _row_text(row_id)
    if "\x00" in row:
        raise ValueError("row_id must contain no NUL")
    return b"".join((_AAD_PREFIX, header, b"\x00", table.encode(), b"\x00", column.encode(), b"\x00",
                     row.encode()))


class FieldCipher:
    """AES-256-GCM encryption of column values, bound to table, column and row, with rotating key ids.

    Blob layout: version byte (1) · key-id length (1 byte) · key id (UTF-8) · 12-byte nonce ·
    ciphertext with its 16-byte tag. The associated data binds the header (version and key id), the
    table, the column and the row id, so a blob copied to another row, column or table fails to decrypt.
    """

    def __init__(self, keys: Mapping[str, bytes], active_kid: str) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        if active_kid not in keys:
            raise ValueError(f"active key id {active_kid!r} is not among the keys")
        self._aeads: dict[str, AESGCM] = {}
        self._headers: dict[str, bytes] = {}
        for kid, key in keys.items():
            encoded = kid.encode()
            if not kid or len(encoded) > 255 or not kid.isprintable():
                raise ValueError("a key id must be 1-255 bytes of printable text")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes")
            self._aeads[kid] = AESGCM(key)
            self._headers[kid] = bytes((FORMAT_VERSION, len(encoded))) + encoded
        self.active_kid = active_kid

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str], active_kid: str | None = None) -> FieldCipher:
        """A cipher from secret strings per key id (HKDF-SHA256); active is `active_kid` or the last key."""
        if not secrets:
            raise ValueError("at least one key secret is required")
        keys = {kid: derive_key(secret, FIELD_KEY_INFO) for kid, secret in secrets.items()}
        return cls(keys, active_kid if active_kid is not None else list(secrets)[-1])

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of every key this cipher can decrypt with."""
        return tuple(self._aeads)

    def encrypt(self, value: str | None, *, table: str, column: str, row_id: uuid.UUID | str) -> bytes | None:
        """The blob of `value` for this table, column and row, with the active key; None stays None."""
        if value is None:
            return None
        header = self._headers[self.active_kid]
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self.active_kid].encrypt(nonce, value.encode(), _aad(header, table, column, row_id))
        return header + nonce + sealed

    def decrypt(self, blob: bytes | None, *, table: str, column: str, row_id: uuid.UUID | str) -> str | None:
        """The value sealed in `blob` for this table, column and row; raises DecryptionError otherwise."""
        if blob is None:
            return None
        blob = bytes(blob)  # asyncpg may hand back a memoryview
        kid, body_at = self._parse_header(blob)
        aead = self._aeads.get(kid)
        if aead is None:
            raise DecryptionError(f"unknown key id {kid!r}")
        nonce = blob[body_at:body_at + NONCE_BYTES]
        sealed = blob[body_at + NONCE_BYTES:]
        try:
            plain = aead.decrypt(nonce, sealed, _aad(blob[:body_at], table, column, row_id))
            return plain.decode()
        except (InvalidTag, UnicodeDecodeError):
            raise DecryptionError("the value does not decrypt for this table, column and row") from None

    def key_id(self, blob: bytes) -> str:
        """The id of the key a blob was encrypted with (raises DecryptionError on a malformed blob)."""
        return self._parse_header(bytes(blob))[0]

    def reencrypt(self, blob: bytes | None, *, table: str, column: str,
                  row_id: uuid.UUID | str) -> bytes | None:
        """The blob under the active key; returned unchanged when it already uses it."""
        if blob is None or not self.needs_rotation(blob):
            return blob
        value = self.decrypt(blob, table=table, column=column, row_id=row_id)
        return self.encrypt(value, table=table, column=column, row_id=row_id)

    def needs_rotation(self, blob: bytes | None) -> bool:
        """Whether the blob was encrypted with a key other than the active one."""
        return blob is not None and self.key_id(blob) != self.active_kid

    @staticmethod
    def _parse_header(blob: bytes) -> tuple[str, int]:
        if len(blob) < 2 or blob[0] != FORMAT_VERSION:
            raise DecryptionError("not a field blob of a known version")
        body_at = 2 + blob[1]
        if len(blob) < body_at + NONCE_BYTES + 16:
            raise DecryptionError("truncated field blob")
        try:
            return blob[2:body_at].decode(), body_at
        except UnicodeDecodeError:
            raise DecryptionError("malformed key id") from None


def normalise_exact(value: str, *, purpose: str) -> str:
    """The form of an exact-match value that is hashed: CNIE-like ids upper-cased without spaces or dashes."""
    if purpose in ("cnie", "passport", "birth_act", "police_report"):
        return "".join(ch for ch in value.upper() if ch not in " -_./\t")
    return " ".join(value.split()).casefold()


class BlindIndex:
    """Keyed, deterministic search values: exact hashes and name tokens. Never holds or returns plaintext."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"a blind-index key must have at least {KEY_BYTES} bytes")
        self._key = key
        # Name tokens use their own subkey, so a token can never equal an exact() value.
        self._token_key = hmac.new(key, NAME_TOKEN_LABEL, hashlib.sha256).digest()
        self._word_tokens = lru_cache(maxsize=131072)(self._compute_word_tokens)
        self._word_key_tokens = lru_cache(maxsize=16384)(self._compute_word_key_tokens)

    @classmethod
    def from_secret(cls, secret: str) -> BlindIndex:
        """A blind index from a configured secret string (HKDF-SHA256, info himaya-blind-index-v1)."""
        return cls(derive_key(secret, BLIND_INDEX_INFO))

    def exact(self, value: str, *, purpose: str) -> bytes:
        """HMAC-SHA256 of purpose and normalised value, for an exact lookup (e.g. purpose "cnie")."""
        if not purpose or "\x00" in purpose:
            raise ValueError("purpose must be non-empty and contain no NUL")
        message = purpose.encode() + b"\x00" + normalise_exact(value, purpose=purpose).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def name_tokens(self, *names_: str | None) -> list[str]:
        """Keyed tokens of the names to store with a person: each word's phonetic key and its bigrams."""
        tokens: set[str] = set()
        for name in names_:
            if name:
                for word in names.words(name):
                    tokens.update(self._word_tokens(word))
        return sorted(tokens)

    def query_tokens(self, query: str) -> list[str]:
        """The tokens of a search string, comparable with `name_tokens` through `score`."""
        return self.name_tokens(query)

    def key_tokens(self, *names_: str | None) -> list[str]:
        """The phonetic-key tokens among `name_tokens` (one or two per word, no bigrams).

        Far rarer than bigrams, which a few common names share with most people, so a repository can select
        candidates by them first and fall back to every token only when they find too few.
        """
        tokens: set[str] = set()
        for name in names_:
            if name:
                for word in names.words(name):
                    tokens.update(self._word_key_tokens(word))
        return sorted(tokens)

    @staticmethod
    def score(query_tokens: Sequence[str], stored_tokens: Sequence[str]) -> float:
        """Similarity 0..1 of a query to a person's stored tokens (Tversky index, see STORED_EXTRA_WEIGHT).

        Every query token missing from the person counts fully; the person's other tokens (other names,
        the other script's spelling) count a quarter, so "Mohamed" still finds "Mohamed Amine Benali".
        """
        query, stored = set(query_tokens), set(stored_tokens)
        return BlindIndex.score_counts(shared=len(query & stored), query=len(query), stored=len(stored))

    @staticmethod
    def score_counts(*, shared: int, query: int, stored: int) -> float:
        """`score` from the sizes of the two token sets and of their intersection (what SQL can count)."""
        if not shared:
            return 0.0
        return shared / (query + STORED_EXTRA_WEIGHT * (stored - shared))

    def _compute_word_tokens(self, word: str) -> tuple[str, ...]:
        # Keyed BLAKE2b (a PRF like HMAC-SHA256, RFC 7693) is about twice as fast here, and a bulk load
        # tokenises millions of words.
        return tuple(self._feature_token(feature) for feature in word_features(word))

    def _compute_word_key_tokens(self, word: str) -> tuple[str, ...]:
        return tuple(self._feature_token(f) for f in word_features(word) if f.startswith(KEY_FEATURE_PREFIX))

    def _feature_token(self, feature: str) -> str:
        return hashlib.blake2b(feature.encode(), key=self._token_key, digest_size=TOKEN_HEX_CHARS // 2).hexdigest()


def word_features(word: str) -> list[str]:
    """The plaintext features of one normalised word (phonetic keys and their bigrams), before keying."""
    features: list[str] = []
    for key in names.word_keys(word):
        if key:
            features.append(KEY_FEATURE_PREFIX + key)
            padded = "^" + key + "$"
            features.extend(["b:" + padded[i:i + 2] for i in range(len(padded) - 1)])
    return features
