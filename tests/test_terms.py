"""One term per concept and each edition in its own language.

``book/terms.yml`` lists the book's terms. A Chinese variant of a term (汇聚 for pooling) is flagged
wherever it appears in the zh prose; a variant that is itself another term's word (步长 is "step size",
not "stride") is flagged only in a section whose English twin names this term and not the other one.
Chinese prose uses full-width punctuation; English prose has no Chinese words outside quotations.
Quotations (“…” in Chinese, "…" or “…” in English) are exempt: they may quote the notes.
"""

import re
from pathlib import Path

import pytest
import yaml

import pages

TERMS = yaml.safe_load((pages.BOOK / "terms.yml").read_text(encoding="utf-8"))
NAMES = sorted(p.name for p in pages.chapter_pages("zh"))
CJK = r"\u3400-\u9fff"
_QUOTED_ZH = re.compile(r"“[^”\n]*”")
_QUOTED_EN = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”")


def _mentions(pattern: str, text: str) -> bool:
    return re.search(rf"(?<![\w-])(?:{pattern})(?![\w-])", text, re.I) is not None


def term_problems(zh_sections: list[str], en_sections: list[str], terms=TERMS) -> list[str]:
    """Variants of a term in the prose, section by section (zh and en sections aligned)."""
    canonical = {term["zh"]: term for term in terms}
    problems = []
    for number, (zh, en) in enumerate(zip(zh_sections, en_sections)):
        zh, en_open = _QUOTED_ZH.sub(" ", zh), _QUOTED_EN.sub(" ", en)
        for term in terms:
            for variant in term.get("zh_variants", []):
                if not re.search(variant, zh):  # a variant may be a pattern: (?<!正则化)强度
                    continue
                other = canonical.get(variant)
                if other is None:
                    problems.append(f"section {number}: {variant} for {term['en']!r}; the book says {term['zh']}")
                elif _mentions(term["en"], en) and not _mentions(other["en"], en):
                    problems.append(f"section {number}: {variant} where the English says {term['en']!r}; "
                                    f"the book says {term['zh']}")
            for variant in term.get("en_variants", []):
                if _mentions(re.escape(variant), en_open):
                    problems.append(f"section {number}: {variant!r}; the book says {term['en']!r}")
    return problems


def punctuation_problems(zh_sections: list[str]) -> list[str]:
    """ASCII punctuation in Chinese sentences: next to a Chinese character, or quoting."""
    problems = []
    patterns = {
        "ASCII ,;:?! next to Chinese": rf"[{CJK}][,;:?!]|[,;:?!] ?[{CJK}]",
        "ASCII full stop after Chinese": rf"[{CJK}]\.(?!\w)",
        "ASCII parentheses in a Chinese sentence": rf"[{CJK}] ?\(|\) ?[{CJK}]|\([^()\n]*[{CJK}][^()\n]*\)",
        "straight double quotes": r"\"",
    }
    for number, text in enumerate(zh_sections):
        for line in text.splitlines():
            for what, pattern in patterns.items():
                match = re.search(pattern, line)
                if match:
                    problems.append(f"section {number}: {what}: …{line[max(0, match.start() - 12):match.end() + 12]}…")
    return problems


def untranslated_problems(en_sections: list[str]) -> list[str]:
    """Chinese characters in the English prose outside quotations."""
    problems = []
    for number, text in enumerate(en_sections):
        for match in re.finditer(rf"[{CJK}]+", _QUOTED_EN.sub(" ", text)):
            problems.append(f"section {number}: untranslated {match.group()!r}")
    return problems


def _sections(name: str, lang: str) -> list[str]:
    return pages.prose_sections(pages.BOOK / lang / name)


def test_the_term_list_is_well_formed():
    import sys

    sys.path.insert(0, str(pages.BOOK / "_ext"))
    from termlist import parse

    seen = set()
    for term in TERMS:
        parse(term)  # known keys, en and zh, a headword for every pattern
        re.compile(term["en"])
        assert term["zh"] not in seen, f"{term['zh']} is the word for two terms"
        seen.add(term["zh"])
        assert term["zh"] not in term.get("zh_variants", []), term


@pytest.mark.parametrize("name", NAMES)
def test_one_word_per_concept(name):
    problems = term_problems(_sections(name, "zh"), _sections(name, "en"))
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_chinese_prose_uses_full_width_punctuation(name):
    problems = punctuation_problems(_sections(name, "zh"))
    assert not problems, f"zh/{name}:\n" + "\n".join(problems[:40])


@pytest.mark.parametrize("name", NAMES)
def test_english_prose_is_english(name):
    problems = untranslated_problems(_sections(name, "en"))
    assert not problems, f"en/{name}:\n" + "\n".join(problems)


def test_the_checks_flag_an_inconsistent_term():
    zh = ["", "卷积核每次移动的步长为 2，随后做汇聚。"]
    en = ["", "The kernel moves with a stride of 2, then pooling follows."]
    assert term_problems(zh, en) == [
        "section 1: 步长 where the English says 'strides?'; the book says 步幅",
        "section 1: 汇聚 for 'pooling'; the book says 池化"]
    # 步长 for a step size is right, and a quotation of the notes is exempt
    assert term_problems(["", "有限差分的步长 h 取 1e-6。笔记称之为“汇聚”。"],
                         ["", "The finite-difference step h is 1e-6, with a stride... no: a step size."]) == []
    assert term_problems(["", ""], ["", "As the source notes say"]) == [
        "section 1: 'source notes'; the book says 'the notes'"]


def test_the_checks_flag_ascii_punctuation_and_untranslated_chinese():
    found = punctuation_problems(["卷积(convolution)是线性的,对吧"])
    assert [problem.split(":")[1].strip() for problem in found] == [
        "ASCII ,;", "ASCII parentheses in a Chinese sentence"]
    assert punctuation_problems(["卷积（convolution）是线性的，步幅 2。f(x) = Wx + b。"]) == []
    assert untranslated_problems(["Section 三 of the notes", 'the notes\' "雅可比矩阵的扩展" (extension)']) == [
        "section 0: untranslated '三'"]
