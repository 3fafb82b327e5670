"""Name normalisation and name-token matching across Arabic and Latin spellings.

The thresholds are the ones docs/privacy.md documents: variants of one name score at least MATCH,
unrelated names below UNRELATED.
"""

from __future__ import annotations

import itertools

import pytest

from himaya.crypto import SAME_NAME_SCORE, UNRELATED_SCORE, BlindIndex
from himaya.names import normalise, phonetic_key, transliterate_arabic, words

MATCH = SAME_NAME_SCORE
UNRELATED = UNRELATED_SCORE

VARIANTS = {
    "mohamed": ["Mohamed", "Mohammed", "Muhammad", "Mhamed", "Mohamad", "محمد", "M'hamed", "مُحَمَّد", "امحمد"],
    "fatima": ["Fatima", "Fatema", "Fatimah", "فاطمة", "Fatma"],
    "youssef": ["Youssef", "Yousef", "Youssouf", "يوسف", "Yusuf"],
    "khadija": ["Khadija", "Khadidja", "Khedija", "خديجة"],
    "aicha": ["Aicha", "Aisha", "Aïcha", "عائشة"],
    "abdellah": ["Abdellah", "Abdallah", "Abdullah", "عبد الله", "عبدالله", "Abd Allah"],
    "amrani": ["El Amrani", "Elamrani", "El-Amrani", "العمراني", "Amrani"],
    "abdelkader": ["Abdelkader", "Abd El Kader", "Abd al-Qadir", "عبد القادر"],
    "abderrahmane": ["Abderrahmane", "Abdel Rahman", "Abdurrahman", "عبد الرحمن"],
    "najat": ["Najat", "Nejat", "نجاة"],
    "marouane": ["Marouane", "Marwan", "مروان"],
    "oussama": ["Oussama", "Ousama", "أسامة", "اسامة"],
    "mustapha": ["Mustapha", "Moustafa", "Mustafa", "مصطفى"],
    "ismail": ["Ismail", "Ismaïl", "إسماعيل", "اسماعيل"],
    "benali": ["Ben Ali", "Benali", "بن علي", "Ben-Ali"],
    "aitali": ["Ait Ali", "Aït Ali", "Aitali", "آيت علي"],
    "mbarek": ["Mbarek", "M'barek", "امبارك", "مبارك"],
    "zakaria": ["Zakaria", "Zakariya", "Zakarya", "زكرياء", "زكريا"],
}

MISSPELLINGS = [("Mohamed", "Mohmed"), ("Fatima", "Fatma"), ("Mohamed", "Mohamd"), ("Khadija", "Kadija"),
                ("Youssef", "Yousf"), ("Zineb", "Zaineb"), ("Abdelkader", "Abdelkadr")]

# One consonant wrong: the phonetic key differs, the bigrams keep the pair in the "possible" band.
CONSONANT_TYPOS = [("Mohamed", "Mohanmed"), ("Fatima", "Fatina"), ("Youssef", "Youssed"), ("Khadija", "Khadidya")]

UNRELATED_PAIRS = [("Mohamed", "Karim"), ("Fatima", "Zineb"), ("Youssef", "Hassan"), ("Khadija", "Salma"),
                   ("Aicha", "Nour"), ("Abdellah", "Rachid"), ("El Amrani", "Bennani"), ("محمد", "كريم"),
                   ("فاطمة", "زينب"), ("Youssef", "حسن")]


@pytest.fixture(scope="module")
def index() -> BlindIndex:
    return BlindIndex.from_secret("names-test-secret-0123456789")


def similarity(index: BlindIndex, query: str, stored: str) -> float:
    return BlindIndex.score(index.query_tokens(query), index.name_tokens(stored))


class TestTransliteration:
    def test_letters_and_marks(self) -> None:
        assert transliterate_arabic("مُحَمَّد") == "mhmd"  # harakat and shadda dropped
        assert transliterate_arabic("محـــمد") == "mhmd"  # tatweel dropped
        assert transliterate_arabic("فاطمة") == "fatma"  # silent ta marbuta
        assert transliterate_arabic("نجاة") == "njat"  # ta marbuta after alif is t
        assert transliterate_arabic("مصطفى") == "mstfa"  # alif maqsura
        assert transliterate_arabic("أإآ") == "aia"  # hamza carriers
        assert transliterate_arabic("عائشة") == "aasha"  # ain and hamza on ya
        assert transliterate_arabic("كتابًا") == "ktaba"  # tanwin
        assert transliterate_arabic("امحمد") == "mhmd"  # Moroccan prothetic alif
        assert transliterate_arabic("احمد") == "ahmd"  # but a bare alif is kept elsewhere

    def test_persian_urdu_and_maghrebi_letters(self) -> None:
        assert transliterate_arabic("پچژگک") == "pchjgk"
        assert transliterate_arabic("ی") == transliterate_arabic("ي")
        assert transliterate_arabic("ڤ") == "v"
        assert transliterate_arabic("ڭ") == "g"

    def test_digits(self) -> None:
        assert transliterate_arabic("٠١٢٣٤٥٦٧٨٩") == "0123456789"
        assert transliterate_arabic("۰۱۲۳۴۵۶۷۸۹") == "0123456789"

    def test_presentation_forms_fold_to_letters(self) -> None:
        assert transliterate_arabic("\ufee3\ufea4\ufee4\ufeaa") == "mhmd"

    def test_latin_text_is_unchanged(self) -> None:
        assert transliterate_arabic("Mohamed") == "Mohamed"


class TestNormalise:
    def test_accents_case_and_punctuation(self) -> None:
        assert normalise("  Aïcha  EL-Amrani ") == "aicha el amrani"
        assert normalise("M'hamed") == "mhamed"
        assert normalise("Zoé, Hélène.") == "zoe helene"

    def test_mixed_scripts(self) -> None:
        assert normalise("Mohamed محمد") == "mohamed mhmd"

    def test_empty(self) -> None:
        assert normalise(" - ") == ""
        assert words("") == []


class TestWords:
    def test_standalone_articles_are_dropped(self) -> None:
        assert words("El Amrani") == ["amrani"]
        assert words("al-Fassi") == ["fassi"]

    def test_abd_compounds_are_one_word(self) -> None:
        assert words("عبد الله") == ["abdallh"]
        assert words("Abd El Kader Benali") == ["abdkader", "benali"]

    def test_family_name_particles_are_joined(self) -> None:
        assert words("Ben Ali") == ["benali"]
        assert words("بن علي") == ["benaly"]
        assert words("Aït Ali") == ["aitali"]

    def test_a_lone_article_is_kept(self) -> None:
        assert words("El") == ["el"]


class TestPhoneticKey:
    @pytest.mark.parametrize("group", sorted(VARIANTS))
    def test_variants_share_a_key_or_score_high(self, index: BlindIndex, group: str) -> None:
        for a, b in itertools.permutations(VARIANTS[group], 2):
            same_key = [phonetic_key(w) for w in words(a)] == [phonetic_key(w) for w in words(b)]
            assert same_key or similarity(index, a, b) >= MATCH, (a, b, similarity(index, a, b))

    def test_required_groups_share_one_key(self) -> None:
        for group in ("mohamed", "fatima", "youssef", "khadija", "aicha", "abdellah"):
            keys = {tuple(phonetic_key(w) for w in words(v)) for v in VARIANTS[group]}
            assert len(keys) == 1, (group, keys)

    def test_unrelated_names_have_other_keys(self) -> None:
        for a, b in UNRELATED_PAIRS:
            assert [phonetic_key(w) for w in words(a)] != [phonetic_key(w) for w in words(b)]

    def test_empty_word(self) -> None:
        assert phonetic_key("") == ""
        assert phonetic_key("-") == ""


class TestNameScores:
    @pytest.mark.parametrize("group", sorted(VARIANTS))
    def test_every_variant_finds_every_other(self, index: BlindIndex, group: str) -> None:
        for a, b in itertools.permutations(VARIANTS[group], 2):
            assert similarity(index, a, b) >= MATCH, (a, b)

    @pytest.mark.parametrize(("right", "wrong"), MISSPELLINGS)
    def test_small_misspellings_still_match(self, index: BlindIndex, right: str, wrong: str) -> None:
        assert similarity(index, wrong, right) >= MATCH

    @pytest.mark.parametrize(("right", "wrong"), CONSONANT_TYPOS)
    def test_a_wrong_consonant_stays_above_unrelated(self, index: BlindIndex, right: str, wrong: str) -> None:
        assert UNRELATED <= similarity(index, wrong, right) < 1.0

    @pytest.mark.parametrize(("a", "b"), UNRELATED_PAIRS)
    def test_unrelated_names_score_low(self, index: BlindIndex, a: str, b: str) -> None:
        assert similarity(index, a, b) < UNRELATED

    def test_full_name_across_scripts(self, index: BlindIndex) -> None:
        assert similarity(index, "محمد العمراني", "Mohamed El Amrani") >= MATCH

    def test_first_name_finds_a_child_recorded_with_several_names(self, index: BlindIndex) -> None:
        assert similarity(index, "Mohamed", "Mohamed Amine Benali") >= MATCH
        assert similarity(index, "Karim", "Mohamed Amine Benali") < UNRELATED

    def test_child_recorded_in_both_scripts_is_found_by_either(self, index: BlindIndex) -> None:
        stored = index.name_tokens("محمد", "Mohamed", "العمراني", "El Amrani")
        assert BlindIndex.score(index.query_tokens("Mohammed Elamrani"), stored) >= MATCH
        assert BlindIndex.score(index.query_tokens("Karim Bennani"), stored) < UNRELATED


class TestKeyTokens:
    def test_key_tokens_are_the_word_keys_among_the_name_tokens(self, index: BlindIndex) -> None:
        keys = index.key_tokens("Mohamed", "El Amrani")
        assert set(keys) < set(index.name_tokens("Mohamed", "El Amrani"))
        assert len(keys) == 2  # one phonetic key per word; the bigrams are left out

    def test_an_attached_article_gives_both_keys(self, index: BlindIndex) -> None:
        assert len(index.key_tokens("Elamrani")) == 2
        assert set(index.key_tokens("Amrani")) < set(index.key_tokens("Elamrani"))

    @pytest.mark.parametrize("group", sorted(VARIANTS))
    def test_spelling_variants_share_their_key(self, index: BlindIndex, group: str) -> None:
        for a, b in itertools.permutations(VARIANTS[group], 2):
            assert set(index.key_tokens(a)) & set(index.key_tokens(b)), (a, b)

    def test_a_wrong_consonant_changes_the_key(self, index: BlindIndex) -> None:
        right, wrong = CONSONANT_TYPOS[0]
        assert not set(index.key_tokens(right)) & set(index.key_tokens(wrong))
