"""Field encryption and blind indexes of this service's identifying values (himaya.crypto).

Each sensitive value is stored as `<column>_enc` ciphertext bound to (table, column, row id); names also
yield keyed `name_tokens` for search, CNIE numbers a keyed `cnie_index` for exact lookup.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from himaya.crypto import BlindIndex, FieldCipher

NAME_FIELDS = ("first_name", "last_name", "first_name_ar", "last_name_ar")
CNIE_PURPOSE = "cnie"


@dataclass(frozen=True)
class Protector:
    """The service's cipher and blind index, created in the app's lifespan."""

    cipher: FieldCipher
    index: BlindIndex

    @classmethod
    def from_settings(cls, *, field_keys: Mapping[str, str], active_kid: str | None,
                      blind_index_key: str) -> Protector:
        """Build from the service's settings."""
        return cls(FieldCipher.from_secrets(field_keys, active_kid), BlindIndex.from_secret(blind_index_key))

    def seal(self, table: str, row_id: uuid.UUID, values: Mapping[str, str | None]) -> dict[str, bytes | None]:
        """`{column: plaintext}` → `{column_enc: ciphertext}` for one row."""
        return {f"{column}_enc": self.cipher.encrypt(value, table=table, column=column, row_id=row_id)
                for column, value in values.items()}

    def open(self, table: str, row: Mapping[Any, Any], *columns: str) -> dict[str, str | None]:
        """`{column: plaintext}` of the `<column>_enc` values of one row (which must carry `id`)."""
        return {column: self.cipher.decrypt(_bytes(row[f"{column}_enc"]), table=table, column=column,
                                            row_id=row["id"])
                for column in columns}

    def name_tokens(self, names: Mapping[str, str | None]) -> list[str]:
        """Keyed tokens of every name form, for search and duplicate detection."""
        return self.index.name_tokens(*(names.get(f) for f in NAME_FIELDS))

    def query_tokens(self, query: str) -> list[str]:
        """Keyed tokens of a search query."""
        return self.index.query_tokens(query)

    def key_tokens(self, names: Mapping[str, str | None]) -> list[str]:
        """The phonetic-key tokens among `name_tokens(names)` (the rare ones duplicate search selects by)."""
        return self.index.key_tokens(*(names.get(f) for f in NAME_FIELDS))

    def query_key_tokens(self, query: str) -> list[str]:
        """The phonetic-key tokens among `query_tokens(query)`."""
        return self.index.key_tokens(query)

    def score(self, query_tokens: list[str], stored: list[str]) -> float:
        """How well stored tokens match a query (0..1)."""
        return BlindIndex.score(query_tokens, stored)

    def cnie_index(self, cnie: str | None) -> bytes | None:
        """The keyed hash of a CNIE number (exact lookup without storing it)."""
        return self.index.exact(cnie, purpose=CNIE_PURPOSE) if cnie else None


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None
