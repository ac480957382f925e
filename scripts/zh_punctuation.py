"""Give the Chinese prose of a page full-width punctuation, in place.

    python scripts/zh_punctuation.py book/zh/01_basics.md [...]

Only prose changes: code cells and other code fences, math, inline code, roles, HTML and link
targets keep their ASCII. ``tests/test_terms.py`` checks the result; this script only saves typing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CJK = r"\u3400-\u9fff"
_PROTECTED = re.compile(r"\$\$.*?\$\$|(?<!\\)\$[^$\n]+\$|(\{[\w:-]+\})?`[^`\n]*`|<[^>\n]+>|\]\([^)\s]*\)"
                        r"|https?://\S+")
_OPENING_FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})(\S*)")
_PROSE_FENCES = ("{note}", "{warning}", "{tip}", "{important}", "{admonition}", "{dropdown}",
                 "{glue:figure}", "{figure}", "{hint}", "{seealso}", "{attention}", "{caution}")


def fix_line(line: str) -> str:
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _PROTECTED.sub(keep, line)
    text = re.sub(r'"([^"\n]*)"', r"“\1”", text)
    text = re.sub(rf"\(([^()\n]*[{CJK}][^()\n]*)\)", r"（\1）", text)
    text = re.sub(rf"(?<=[{CJK}]) ?\(([^()\n]*)\)", r"（\1）", text)
    text = re.sub(rf"\(([^()\n]*)\) ?(?=[{CJK}])", r"（\1）", text)
    for ascii_mark, wide in ((",", "，"), (";", "；"), (":", "："), ("?", "？"), ("!", "！")):
        text = re.sub(rf"(?<=[{CJK}”）]){re.escape(ascii_mark)} ?", wide, text)
        text = re.sub(rf"{re.escape(ascii_mark)} ?(?=[{CJK}“（])", wide, text)
    text = re.sub(rf"(?<=[{CJK}”）])\.(?=\s|$)", "。", text)
    # full-width marks carry their own spacing
    text = re.sub(r"(?<=\S) +(?=[（），。：；！？])|(?<=[（），。：；！？]) +(?=\S)", "", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)


def fix_page(text: str) -> str:
    out, fence = [], None
    front = re.match(r"^---\n.*?\n---\n", text, flags=re.S)
    head, body = (front.group(0), text[front.end():]) if front else ("", text)
    for line in body.split("\n"):
        opening = _OPENING_FENCE.match(line)
        if fence is None and opening:
            fence = (opening.group(1), opening.group(2) in _PROSE_FENCES)
            out.append(line)
            continue
        if fence is not None:
            if line.strip() == fence[0]:
                fence = None
            elif fence[1] and not line.startswith(":"):
                line = fix_line(line)
            out.append(line)
            continue
        out.append(fix_line(line))
    return head + "\n".join(out)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        page = Path(name)
        text = page.read_text(encoding="utf-8")
        fixed = fix_page(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
            print(f"{page}: fixed")
