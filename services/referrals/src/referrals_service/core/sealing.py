"""Sealing of free texts for the repositories (and only them): a value of a sealed column is stored as a
FieldCipher blob in `<column>_enc`, bound to table, column and row id (decision 0052)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from himaya.crypto import FieldCipher
from referrals_service.core.tables import SEALED_COLUMNS


def seal(cipher: FieldCipher, table: sa.Table, row_id: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with each free text of `table` replaced by its blob in `<column>_enc`, bound to the row."""
    sealed = dict(values)
    for column in SEALED_COLUMNS[table.name]:
        if column in sealed:
            sealed[f"{column}_enc"] = cipher.encrypt(sealed.pop(column), table=table.name, column=column,
                                                     row_id=str(row_id))
    return sealed


def open_row(cipher: FieldCipher, table: sa.Table, row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as a dict whose `<column>_enc` blobs are replaced by their plaintext under `column`."""
    opened = dict(row)
    for column in SEALED_COLUMNS[table.name]:
        opened[column] = cipher.decrypt(opened.pop(f"{column}_enc"), table=table.name, column=column,
                                        row_id=str(row["id"]))
    return opened
