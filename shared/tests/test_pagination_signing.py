"""Cursors are opaque and validated; signatures verify only for the right secret, body and time."""

import pytest

from himaya.errors import InvalidInput
from himaya.pagination import build_page, decode_cursor, encode_cursor
from himaya.signing import signed_headers, verify


class TestCursor:
    def test_round_trip(self):
        values = ["2026-01-02T03:04:05+00:00", "6f1c0f0e-0000-4000-8000-000000000000"]
        assert decode_cursor(encode_cursor(values), 2) == values

    @pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", encode_cursor([1, 2, 3])])
    def test_bad_cursor_is_422(self, cursor):
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, 2)

    def test_build_page_cuts_at_limit(self):
        page, cursor = build_page([1, 2, 3], 2, key=lambda r: [r])
        assert page == [1, 2] and decode_cursor(cursor, 1) == [2]
        assert build_page([1, 2], 2, key=lambda r: [r]) == ([1, 2], None)


class TestSigning:
    def test_valid_signature(self):
        h = signed_headers(b"k" * 32, b'{"a":1}', now=1000)
        assert verify(b"k" * 32, b'{"a":1}', h["Himaya-Timestamp"], h["Himaya-Signature"], now=1001)

    def test_other_body_secret_or_stale_time_fails(self):
        h = signed_headers(b"k" * 32, b'{"a":1}', now=1000)
        ts, sig = h["Himaya-Timestamp"], h["Himaya-Signature"]
        assert not verify(b"k" * 32, b'{"a":2}', ts, sig, now=1000)
        assert not verify(b"x" * 32, b'{"a":1}', ts, sig, now=1000)
        assert not verify(b"k" * 32, b'{"a":1}', ts, sig, now=1000 + 301)
        assert not verify(b"k" * 32, b'{"a":1}', None, sig, now=1000)

    def test_any_of_several_signatures_during_rotation(self):
        h = signed_headers(b"new" * 11, b"x", now=5)
        assert verify(b"new" * 11, b"x", "5", "v1=deadbeef " + h["Himaya-Signature"], now=5)
