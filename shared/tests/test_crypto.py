"""Field encryption (AES-256-GCM bound to table, column, row; key rotation) and the blind index."""

from __future__ import annotations

import uuid

import pytest

from himaya.crypto import (
    BLIND_INDEX_INFO,
    FIELD_KEY_INFO,
    BlindIndex,
    DecryptionError,
    FieldCipher,
    derive_key,
)

K1 = "k1-secret-0123456789abcdefghijklmnop"
K2 = "k2-secret-zyxwvutsrqponmlkjihgfedcba"
ROW = uuid.UUID("3f1c7c1e-6f0e-4a5b-9a59-2b6f3f0d9e11")
WHERE = {"table": "children", "column": "first_name_ar", "row_id": ROW}


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher.from_secrets({"k1": K1})


class TestRoundTrip:
    def test_value_comes_back_for_the_same_table_column_and_row(self, cipher: FieldCipher) -> None:
        blob = cipher.encrypt("فاطمة الزهراء", **WHERE)
        assert blob is not None
        assert cipher.decrypt(blob, **WHERE) == "فاطمة الزهراء"

    def test_none_stays_none(self, cipher: FieldCipher) -> None:
        assert cipher.encrypt(None, **WHERE) is None
        assert cipher.decrypt(None, **WHERE) is None

    def test_empty_string_round_trips(self, cipher: FieldCipher) -> None:
        assert cipher.decrypt(cipher.encrypt("", **WHERE), **WHERE) == ""

    def test_row_id_as_text_in_any_case_is_the_same_row(self, cipher: FieldCipher) -> None:
        blob = cipher.encrypt("Mohamed", table="children", column="first_name", row_id=ROW)
        upper = str(ROW).upper()
        assert cipher.decrypt(blob, table="children", column="first_name", row_id=upper) == "Mohamed"

    def test_ciphertext_does_not_contain_the_plaintext(self, cipher: FieldCipher) -> None:
        value = "AB123456 Mohamed El Amrani"
        blob = cipher.encrypt(value, **WHERE)
        assert blob is not None
        assert value.encode() not in blob
        assert b"Mohamed" not in blob and b"AB123456" not in blob

    def test_two_encryptions_of_one_value_differ(self, cipher: FieldCipher) -> None:
        assert cipher.encrypt("Mohamed", **WHERE) != cipher.encrypt("Mohamed", **WHERE)

    def test_blob_names_its_key(self, cipher: FieldCipher) -> None:
        blob = cipher.encrypt("x", **WHERE)
        assert blob is not None
        assert blob[0] == 1 and blob[1] == 2 and blob[2:4] == b"k1"
        assert cipher.key_id(blob) == "k1"


class TestBinding:
    @pytest.mark.parametrize("moved", [
        {"table": "adults", "column": "first_name_ar", "row_id": ROW},
        {"table": "children", "column": "last_name_ar", "row_id": ROW},
        {"table": "children", "column": "first_name_ar", "row_id": uuid.UUID(int=ROW.int + 1)},
    ], ids=["other-table", "other-column", "other-row"])
    def test_blob_moved_elsewhere_fails(self, cipher: FieldCipher, moved: dict[str, object]) -> None:
        blob = cipher.encrypt("Khadija", **WHERE)
        with pytest.raises(DecryptionError):
            cipher.decrypt(blob, **moved)  # type: ignore[arg-type]

    def test_separator_cannot_be_smuggled_into_names(self, cipher: FieldCipher) -> None:
        with pytest.raises(ValueError):
            cipher.encrypt("x", table="children\x00first", column="name", row_id=ROW)


class TestTampering:
    def test_flipped_ciphertext_byte_fails(self, cipher: FieldCipher) -> None:
        blob = bytearray(cipher.encrypt("Youssef", **WHERE) or b"")
        blob[-20] ^= 0x01
        with pytest.raises(DecryptionError):
            cipher.decrypt(bytes(blob), **WHERE)

    def test_flipped_tag_byte_fails(self, cipher: FieldCipher) -> None:
        blob = bytearray(cipher.encrypt("Youssef", **WHERE) or b"")
        blob[-1] ^= 0x80
        with pytest.raises(DecryptionError):
            cipher.decrypt(bytes(blob), **WHERE)

    def test_relabelled_key_id_fails(self) -> None:
        both = FieldCipher.from_secrets({"k1": K1, "k2": K1})  # same key material, other id
        blob = both.encrypt("Youssef", **WHERE)
        assert blob is not None and both.key_id(blob) == "k2"
        relabelled = blob[:2] + b"k1" + blob[4:]
        with pytest.raises(DecryptionError):
            both.decrypt(relabelled, **WHERE)

    @pytest.mark.parametrize("junk", [b"", b"\x01", b"\x02\x02k1" + bytes(40), b"\x01\x02k1short"])
    def test_malformed_blob_fails_cleanly(self, cipher: FieldCipher, junk: bytes) -> None:
        with pytest.raises(DecryptionError):
            cipher.decrypt(junk, **WHERE)

    def test_wrong_key_fails(self, cipher: FieldCipher) -> None:
        other = FieldCipher.from_secrets({"k1": K2})
        with pytest.raises(DecryptionError):
            other.decrypt(cipher.encrypt("Aicha", **WHERE), **WHERE)

    def test_unknown_key_id_fails(self, cipher: FieldCipher) -> None:
        other = FieldCipher.from_secrets({"k9": K1})
        with pytest.raises(DecryptionError, match="unknown key id"):
            other.decrypt(cipher.encrypt("Aicha", **WHERE), **WHERE)


class TestRotation:
    def test_old_blobs_stay_readable_and_reencrypt_to_the_new_key(self, cipher: FieldCipher) -> None:
        old = cipher.encrypt("Mhamed", **WHERE)
        rotated = FieldCipher.from_secrets({"k1": K1, "k2": K2})
        assert rotated.active_kid == "k2"
        assert rotated.decrypt(old, **WHERE) == "Mhamed"
        assert rotated.needs_rotation(old)
        new = rotated.reencrypt(old, **WHERE)
        assert new is not None and rotated.key_id(new) == "k2"
        assert not rotated.needs_rotation(new)
        assert rotated.decrypt(new, **WHERE) == "Mhamed"
        # Once k1 is retired, the re-encrypted blob still reads and the old one does not.
        retired = FieldCipher.from_secrets({"k2": K2})
        assert retired.decrypt(new, **WHERE) == "Mhamed"
        with pytest.raises(DecryptionError):
            retired.decrypt(old, **WHERE)

    def test_reencrypt_leaves_a_blob_under_the_active_key_unchanged(self, cipher: FieldCipher) -> None:
        blob = cipher.encrypt("Mhamed", **WHERE)
        assert cipher.reencrypt(blob, **WHERE) is blob
        assert cipher.reencrypt(None, **WHERE) is None
        assert not cipher.needs_rotation(None)

    def test_explicit_active_key_wins_over_order(self) -> None:
        rotated = FieldCipher.from_secrets({"k1": K1, "k2": K2}, active_kid="k1")
        blob = rotated.encrypt("x", **WHERE)
        assert blob is not None and rotated.key_id(blob) == "k1"


class TestConfiguration:
    def test_active_key_must_exist(self) -> None:
        with pytest.raises(ValueError):
            FieldCipher.from_secrets({"k1": K1}, active_kid="k2")

    def test_keys_must_be_32_bytes(self) -> None:
        with pytest.raises(ValueError):
            FieldCipher({"k1": b"short"}, "k1")

    def test_short_secret_is_refused(self) -> None:
        with pytest.raises(ValueError):
            FieldCipher.from_secrets({"k1": "tooshort"})
        with pytest.raises(ValueError):
            BlindIndex.from_secret("tooshort")

    def test_field_and_blind_index_keys_are_separated(self) -> None:
        # The same secret used for both must not give the same key material.
        assert derive_key(K1, FIELD_KEY_INFO) != derive_key(K1, BLIND_INDEX_INFO)
        field_only = FieldCipher({"k1": derive_key(K1, FIELD_KEY_INFO)}, "k1")
        assert field_only.decrypt(FieldCipher.from_secrets({"k1": K1}).encrypt("x", **WHERE), **WHERE) == "x"
        as_index_key = FieldCipher({"k1": derive_key(K1, BLIND_INDEX_INFO)}, "k1")
        with pytest.raises(DecryptionError):
            as_index_key.decrypt(field_only.encrypt("x", **WHERE), **WHERE)


class TestExact:
    def test_stable_and_normalised(self) -> None:
        index = BlindIndex.from_secret(K1)
        value = index.exact("AB123456", purpose="cnie")
        assert len(value) == 32
        assert index.exact(" ab-123 456 ", purpose="cnie") == value
        assert BlindIndex.from_secret(K1).exact("AB123456", purpose="cnie") == value

    def test_another_key_gives_another_value(self) -> None:
        assert (BlindIndex.from_secret(K1).exact("AB123456", purpose="cnie")
                != BlindIndex.from_secret(K2).exact("AB123456", purpose="cnie"))

    def test_purpose_separates_values(self) -> None:
        index = BlindIndex.from_secret(K1)
        assert index.exact("123", purpose="cnie") != index.exact("123", purpose="birth_act")

    def test_other_values_differ(self) -> None:
        index = BlindIndex.from_secret(K1)
        assert index.exact("AB123456", purpose="cnie") != index.exact("AB123457", purpose="cnie")


class TestNameTokens:
    def test_tokens_are_keyed_short_hex_and_never_the_plaintext(self) -> None:
        index = BlindIndex.from_secret(K1)
        tokens = index.name_tokens("Mohamed", "محمد", "El Amrani")
        assert tokens == sorted(set(tokens))
        assert all(len(t) == 16 and int(t, 16) >= 0 for t in tokens)
        joined = " ".join(tokens).lower()
        for fragment in ("moh", "mhmd", "amrani", "mrn", "محمد"):
            assert fragment not in joined

    def test_another_key_gives_other_tokens(self) -> None:
        a = BlindIndex.from_secret(K1).name_tokens("Fatima")
        b = BlindIndex.from_secret(K2).name_tokens("Fatima")
        assert not set(a) & set(b)

    def test_tokens_differ_from_exact_values(self) -> None:
        index = BlindIndex.from_secret(K1)
        exact = index.exact("mhmd", purpose="name").hex()
        assert all(not exact.startswith(t) for t in index.name_tokens("Mohamed"))

    def test_missing_names_are_skipped(self) -> None:
        index = BlindIndex.from_secret(K1)
        assert index.name_tokens(None, "", "Zineb") == index.name_tokens("Zineb")
        assert index.name_tokens(None) == []

    def test_query_tokens_match_stored_tokens_of_the_same_name(self) -> None:
        index = BlindIndex.from_secret(K1)
        assert index.query_tokens("Mohamed") == index.name_tokens("Mohamed")
        assert BlindIndex.score(index.query_tokens("Mohamed"), index.name_tokens("Mohamed")) == 1.0

    def test_score_of_nothing_is_zero(self) -> None:
        assert BlindIndex.score([], ["a"]) == 0.0
        assert BlindIndex.score(["a"], []) == 0.0
