"""The book's term list (book/terms.yml) as objects: headwords, anchors and the patterns that find a
term in each edition's prose. Shared by the Sphinx extension (book/_ext/backmatter.py) and the tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

TERMS_FILE = Path(__file__).resolve().parents[1] / "terms.yml"
KEYS = {"en", "zh", "name", "zh_name", "zh_match", "zh_variants", "en_variants", "glossary"}
_PLAIN = re.compile(r"[\w .'/-]+")  # a regular expression that is just a word or phrase
_ACRONYM = re.compile(r"[A-Z][A-Za-z0-9-]*[A-Z0-9](s\?)?")  # BPTT, ReLU, GANs?


@dataclass(frozen=True)
class Term:
    en: str  # regular expression, case-insensitive, matched as whole words
    zh: str
    name: str  # the English headword
    zh_name: str
    zh_match: str | None
    glossary: bool

    @property
    def slug(self) -> str:
        """The glossary anchor: term-<headword in lower case, hyphenated>."""
        return "term-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    @property
    def acronyms(self) -> list[str]:
        """Alternatives of the English pattern that are acronyms (LSTM, ReLU, GANs?): Chinese prose
        writes them as they are."""
        return [alt for alt in self.en.split("|")
                if _ACRONYM.fullmatch(alt) and sum(c.isupper() for c in alt) >= 2]

    @staticmethod
    def _wrapping(pattern: str) -> str:
        """A space in a pattern (outside [...]) matches any whitespace, since prose wraps inside terms;
        inside a look-behind, which needs a fixed width, one whitespace character."""
        out, depth, groups = [], 0, []
        for i, char in enumerate(pattern):
            escaped = i > 0 and pattern[i - 1] == "\\"
            if char == "[" and not escaped:
                depth += 1
            elif char == "]" and not escaped and depth:
                depth -= 1
            elif char == "(" and not escaped and not depth:
                groups.append(pattern.startswith(("(?<!", "(?<="), i))
            elif char == ")" and not escaped and not depth and groups:
                groups.pop()
            if char == " " and not depth:
                out.append(r"\s" if any(groups) else r"\s+")
            else:
                out.append(char)
        return "".join(out)

    @cached_property
    def patterns(self) -> dict[str, re.Pattern]:
        """The term in English prose (its regex, case-insensitive, whole words) and in Chinese prose
        (its zh word or zh_match, and its acronyms, case-sensitive)."""
        zh = [self._wrapping(self.zh_match or re.escape(self.zh).replace("\\ ", " "))]
        zh += [rf"(?<![A-Za-z0-9])(?:{alt})(?![A-Za-z0-9])" for alt in self.acronyms]
        return {"en": re.compile(rf"(?<![\w-])(?:{self._wrapping(self.en)})(?![\w-])", re.I),
                "zh": re.compile("|".join(zh))}

    def headword(self, lang: str) -> str:
        return self.zh_name if lang == "zh" else self.name


def parse(entry: dict) -> Term:
    unknown = set(entry) - KEYS
    if unknown or not {"en", "zh"} <= set(entry):
        raise ValueError(f"terms.yml: entry {entry} needs en and zh and may have only {sorted(KEYS)}; "
                         f"unknown: {sorted(unknown)}")
    name = entry.get("name")
    if name is None:
        if not _PLAIN.fullmatch(entry["en"]):
            raise ValueError(f"terms.yml: {entry['en']!r} is a pattern: give the entry a name "
                             "(the English headword)")
        name = entry["en"]
    return Term(en=entry["en"], zh=entry["zh"], name=name, zh_name=entry.get("zh_name", entry["zh"]),
                zh_match=entry.get("zh_match"), glossary=entry.get("glossary", True))


def load_terms(path: Path = TERMS_FILE) -> list[Term]:
    """Every entry of the term list, in file order."""
    return [parse(entry) for entry in yaml.safe_load(Path(path).read_text(encoding="utf-8"))]


def glossary_terms(path: Path = TERMS_FILE) -> list[Term]:
    """The entries the glossary lists (not those marked ``glossary: false``)."""
    return [term for term in load_terms(path) if term.glossary]


def find_dfn_term(text: str, lang: str, terms: list[Term]) -> Term | None:
    """The term a ``{dfn}`` role names: ``text <headword>`` names it explicitly; otherwise the one
    whose pattern matches the whole text (the longest zh word if several do)."""
    explicit = re.fullmatch(r"(.*?)\s*<([^<>]+)>", text, re.S)
    if explicit:
        return next((t for t in terms if t.name == explicit.group(2) or t.zh == explicit.group(2)), None)
    matching = [t for t in terms if t.patterns[lang].fullmatch(text)]
    return max(matching, key=lambda t: len(t.zh if lang == "zh" else t.name), default=None)


def dfn_text(text: str) -> str:
    """What a ``{dfn}`` role shows: its text without an explicit ``<headword>``."""
    explicit = re.fullmatch(r"(.*?)\s*<([^<>]+)>", text, re.S)
    return explicit.group(1) if explicit else text


# -- the prose of a MyST page, where terms are looked for -------------------------------------------
_PROSE_FENCES = {"{note}", "{warning}", "{tip}", "{important}", "{admonition}", "{dropdown}", "{erratum}",
                 "{glue:figure}", "{figure}", "{hint}", "{seealso}", "{attention}", "{caution}"}
_OPENING = re.compile(r"^(`{3,}|~{3,}|:{3,})(\S*)")


def prose_lines(markdown: str) -> list[tuple[int, str, list[bool]]]:
    """(line number, line, which characters are prose) for each line of running text: not code cells,
    literal blocks, headings, directive options, math, inline code, roles, HTML, links or targets.
    The text of a ``{dfn}`…``` role counts as prose (its backticks do not)."""
    lines = markdown.split("\n")
    result, fence, in_math, start = [], None, False, 0
    if lines and lines[0] == "---":  # front matter
        start = lines.index("---", 1) + 1
    for number in range(start, len(lines)):
        line = lines[number]
        opening = _OPENING.match(line)
        if fence is None and opening:
            fence = (opening.group(1), opening.group(2) in _PROSE_FENCES)
            continue
        if fence is not None:
            if line.strip() == fence[0]:
                fence = None
                continue
            if not fence[1] or line.startswith(":"):
                continue
        if in_math:
            in_math = "$$" not in line
            continue
        if line.strip().startswith("$$"):
            in_math = line.count("$$") == 1
            continue
        if line.startswith("#"):
            continue
        mask = [True] * len(line)
        for match in re.finditer(r"\{dfn\}`([^`]*)`", line):  # the role's markup, not its text
            for i in range(match.start(), match.start(1)):
                mask[i] = False
            mask[match.end() - 1] = False
        for match in re.finditer(r"\$\$.*?\$\$|(?<!\\)\$[^$\n]+\$|(?<!\{dfn\})(?:\{[\w:-]+\})?`[^`]*`|<[^>\n]+>"
                                 r"|\]\([^)\s]*\)|\[[^\]\n]*\]\((?=[^)\s]*\))|\(\w[\w-]*\)=", line):
            if match.group().startswith("{dfn}") or line[max(0, match.start() - 5):match.start()] == "{dfn}":
                continue
            for i in range(match.start(), match.end()):
                mask[i] = False
        result.append((number, line, mask))
    return result


def term_uses(lang: str, markdown: str, terms: list[Term]) -> dict[str, list[tuple[int, int, int]]]:
    """For each term (by slug): (line number, start column, end offset in the page's prose) of its
    uses; a use may wrap onto the next line. A match that lies inside a longer term's match (卷积
    inside 卷积核) is not a use of the shorter term."""
    lines = prose_lines(markdown)
    text = "\n".join(line for _, line, _ in lines)
    mask = [ok for _, _, line_mask in lines for ok in line_mask + [True]]
    starts, offset = [], 0
    for number, line, _ in lines:
        starts.append((offset, number))
        offset += len(line) + 1
    spans = [(m.start(), m.end(), term) for term in terms for m in term.patterns[lang].finditer(text)
             if all(mask[m.start():m.end()])]
    found = {term.slug: [] for term in terms}
    import bisect
    keys = [s for s, _ in starts]
    for start, end, term in spans:
        if any(s <= start and end <= e and e - s > end - start for s, e, _ in spans):
            continue
        index = bisect.bisect_right(keys, start) - 1
        line_start, number = starts[index]
        found[term.slug].append((number, start - line_start, end - line_start))
    for uses in found.values():
        uses.sort()
    return found
