"""Name normalisation for search across Arabic and Latin spellings (pure functions, no keys).

The pipeline is: `transliterate_arabic` turns Arabic script into Latin letters; `normalise` gives
lowercase ASCII words; `words` splits a name into the words worth indexing (articles dropped, `abd`
compounds joined); `phonetic_key` reduces a word to a consonant skeleton under which Moroccan French,
English and Arabic spellings of one name meet (Mohamed, Mohammed, Mhamed, محمد → `mhmd`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Arabic letters → Latin. Long vowels and ع become vowels (dropped mid-word by the phonetic key, as
# Latin spellings write them inconsistently); و and ي become w and y, consonants only at a word's start.
_ARABIC_LETTERS = {
    "ا": "a", "أ": "a", "إ": "i", "آ": "a", "ٱ": "a", "ء": "", "ئ": "", "ؤ": "",
    "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dh",
    "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "t", "ظ": "z",
    "ع": "a", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "ل": "l", "م": "m", "ن": "n",
    "ه": "h", "و": "w", "ي": "y", "ى": "a", "ة": "a",
    # Persian, Urdu and Maghrebi letters.
    "پ": "p", "چ": "ch", "ژ": "j", "گ": "g", "ڭ": "g", "ک": "k", "ی": "y", "ې": "y", "ے": "y",
    "ۀ": "a", "ە": "a", "ڤ": "v", "ڨ": "g", "ٹ": "t", "ڈ": "d", "ڑ": "r", "ں": "n", "ھ": "h",
    # Punctuation that would otherwise survive.
    "،": " ", "؛": " ", "؟": " ",
    "\u0640": "",  # tatweel
    "\u0670": "a",  # superscript alef
}
for _cp in range(0x064B, 0x0660):  # tanwin, harakat, shadda, sukun and other combining marks
    _ARABIC_LETTERS[chr(_cp)] = ""
for _cp in (0x06D6, 0x06D7, 0x06D8, 0x06D9, 0x06DA, 0x06DB, 0x06DC, 0x06DF, 0x06E0, 0x06E1, 0x06E2,
            0x06E3, 0x06E4, 0x06E7, 0x06E8, 0x06EA, 0x06EB, 0x06EC, 0x06ED):
    _ARABIC_LETTERS[chr(_cp)] = ""
for _i in range(10):  # Arabic-Indic and Persian digits
    _ARABIC_LETTERS[chr(0x0660 + _i)] = str(_i)
    _ARABIC_LETTERS[chr(0x06F0 + _i)] = str(_i)
_ARABIC_TABLE = str.maketrans(_ARABIC_LETTERS)
_ARABIC_RANGE = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
# Moroccan spelling writes a prothetic alif before an initial m-cluster (امحمد M'hamed, امبارك M'barek).
_PROTHETIC_ALIF = re.compile(r"(?<![\u0600-\u06FF])ام(?=[حب][\u0600-\u06FF]{2})")
# A final ة after a long ā is pronounced t (حياة Hayat, نجاة Najat); after a consonant it is silent.
_TA_MARBUTA_AFTER_ALIF = re.compile(r"ا[ةۀ](?=[^\u0600-\u06FF]|$)")

_NON_WORD = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"['’‘`ʼʻ´]")
# Articles written as their own word (El Amrani, al-Fassi, Ould, ...): dropped from the indexed words.
_ARTICLES = frozenset({"el", "al", "l", "ul", "le", "la", "a"})
# First words of `abd ...` compounds (Abd El Kader, عبد الله): joined with the next word.
_ABD_FORMS = frozenset({"abd", "abdel", "abdal", "abdul", "abdoul", "abdelle"})
# Particles of family names joined to the next word, as they are often written joined (Ben Ali, Benali,
# بن علي; Ait Ali, Aitali, آيت علي).
_PARTICLES = {"ben": "ben", "bin": "ben", "bn": "ben", "ait": "ait", "ayt": "ait"}
# A leading article attached to a word: al-/el- or an assimilated sun letter (Ennaciri, Essaidi).
_ATTACHED_ARTICLE = re.compile(r"^(?:al|el)(?=[a-z]{3})|^[ae]([tdrzsnl])(?=\1[a-z]{2})")
# `abd` followed by an article inside one word (Abdellah, Abdelkader, Abdulrahman).
_ABD_ARTICLE = re.compile(r"^abd(?:oul|ul|el|al|il|l)(?=[a-z]{2})")

# Folded in this order (longest first): French, English and Arabic-transliteration digraphs, then the
# letters that Moroccan spellings use interchangeably (q/g/k/c, v/f, p/b).
_FOLDS = (
    ("sch", "S"), ("ch", "S"), ("sh", "S"), ("kh", "k"), ("gh", "G"), ("dj", "j"), ("dh", "d"), ("th", "t"),
    ("ph", "f"), ("ck", "k"), ("qu", "k"), ("ou", "u"), ("ce", "se"), ("ci", "si"), ("cy", "sy"), ("c", "k"),
    ("q", "k"), ("g", "k"), ("x", "ks"), ("v", "f"), ("p", "b"),
)
_VOWELS = frozenset("aeiouyw")
_DROP_VOWELS = str.maketrans("", "", "aeiouyw")
_DOUBLES = re.compile(r"(.)\1+")


def transliterate_arabic(text: str) -> str:
    """Arabic script → Latin letters (consonant skeleton, long vowels as a/w/y); other text unchanged."""
    if not _ARABIC_RANGE.search(text):
        return text
    # Presentation forms (ﻣﺤﻤﺪ) fold to the base letters first.
    text = unicodedata.normalize("NFKC", text)
    text = _TA_MARBUTA_AFTER_ALIF.sub("ات", text)
    text = _PROTHETIC_ALIF.sub("م", text)
    return text.translate(_ARABIC_TABLE)


@lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Lowercase ASCII words: Arabic transliterated, accents stripped, punctuation out, single spaces."""
    if text.isascii():
        return " ".join(_NON_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split())
    text = transliterate_arabic(text)
    text = _APOSTROPHES.sub("", text)  # M'hamed → mhamed
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_text = ascii_text.replace("ß", "ss").replace("æ", "ae").replace("œ", "oe").replace("ø", "o")
    return " ".join(_NON_WORD.sub(" ", ascii_text).split())


def words(text: str) -> list[str]:
    """The words of a name worth indexing: standalone articles dropped; `abd`, ben and ait joined to the next word."""
    raw = normalise(text).split()
    out: list[str] = []
    i = 0
    while i < len(raw):
        word = raw[i]
        i += 1
        if word in _ABD_FORMS and i < len(raw):
            while i < len(raw) - 1 and raw[i] in _ARTICLES:
                i += 1
            out.append("abd" + raw[i])
            i += 1
        elif word in _PARTICLES and i < len(raw) and raw[i] not in _ARTICLES:
            out.append(_PARTICLES[word] + raw[i])
            i += 1
        elif word not in _ARTICLES or len(raw) == 1:
            out.append(word)
    return out


def strip_article(word: str) -> str:
    """The word without a leading attached article (alamrani → amrani, ennaciri → naciri)."""
    return _ATTACHED_ARTICLE.sub("", word, count=1)


def word_keys(word: str) -> tuple[str, ...]:
    """The phonetic keys of one normalised word: as written and, with an attached article, without it.

    Latin script cannot tell an article (Elamrani, العمراني) from a name's own letters (Elias), so both
    forms are keyed and scoring decides.
    """
    key = skeleton(word)
    stripped = strip_article(word)
    if stripped == word or word.startswith("abd"):
        return (key,)
    other = skeleton(stripped)
    return (key,) if other == key else (key, other)


@lru_cache(maxsize=65536)
def phonetic_key(word: str) -> str:
    """A key under which Moroccan, French, English and Arabic spellings of one word meet.

    A consonant skeleton: digraphs folded (ch/sh, kh, gh, dj, th, ph, ou), q/g/k/c, v/f and p/b
    merged, doubled letters collapsed, vowels (and w/y after the first letter) dropped, a vowel-initial
    word marked `A`, a final h dropped. Any text is accepted: it is normalised and its spaces removed.
    """
    return skeleton(normalise(word).replace(" ", ""))


def skeleton(word: str) -> str:
    """The phonetic key of one already normalised word (lowercase ASCII letters, no spaces)."""
    if not word:
        return ""
    if word.startswith("abd"):
        word = _ABD_ARTICLE.sub("abd", word, count=1)
    if word.startswith("ou") and len(word) > 2 and word[2] in "aeiy":
        word = "w" + word[2:]  # Ouafae, Ouiam: initial ou before a vowel is w
    for digraph, folded in _FOLDS:
        if digraph in word:
            word = word.replace(digraph, folded)
    word = _DOUBLES.sub(r"\1", word)
    first, rest = word[0], word[1:]
    vowel_initial = first in "aeiou" or (first == "y" and rest != "" and rest[0] not in _VOWELS)
    key = ("A" if vowel_initial else first) + rest.translate(_DROP_VOWELS)
    key = _DOUBLES.sub(r"\1", key)
    if len(key) > 1 and key[-1] == "h":
        key = key[:-1]
    return key
