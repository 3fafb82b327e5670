"""himaya.records: typed records from rows."""

import dataclasses

import pytest

from himaya.records import from_row


def test_records_are_built_from_the_columns_they_name() -> None:
    @dataclasses.dataclass(frozen=True)
    class Team:
        id: int
        name: str
        members: tuple[str, ...] = ()

    assert from_row(Team, {"id": 1, "name": "Rabat", "secret": "x"}) == Team(1, "Rabat")
    with pytest.raises(TypeError):
        from_row(Team, {"id": 1})
