"""The book's back matter, generated at build time from the chapters (a local Sphinx extension).

In the chapters:

- ``{dfn}`卷积``` marks the place where a term of ``book/terms.yml`` is introduced (an anchor the
  glossary links to); ``{dfn}`text <headword>``` names the term when the text is inflected;
- the ``{erratum} ID`` directive is a correction of the source notes (``:notes:`` the notes'
  statement, ``:code: after|before`` the visible code cell of the same section that shows it);
- the first use of each term on every page links to its glossary entry, and each section's uses of a
  term feed the index.

On the back-matter pages, ``{glossary-table}``, ``{book-index}`` and ``{errata-list}`` render what the
chapters declared. Each chapter is also written as a Jupyter notebook (``scripts/notebooks.py``) into
``_sources/`` and offered in the page's download menu.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole, new_document

sys.path.insert(0, str(Path(__file__).resolve().parent))
from termlist import dfn_text, find_dfn_term, glossary_terms, load_terms  # noqa: E402

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
BACK_MATTER = {"glossary-table", "book-index", "errata-list"}
STORES = ("dlbook_dfn", "dlbook_dfn_sections", "dlbook_uses", "dlbook_errata")

LABELS = {
    "zh": {"erratum": "勘误：笔记写的是“{}”", "notes": "笔记：", "code": "演示的代码：",
           "introduced": "引入于：",
           "none": "（本书未纠正笔记的任何说法。）"},
    "en": {"erratum": 'Erratum: the notes say "{}"', "notes": "The notes: ", "code": "The code that shows it:",
           "introduced": "Introduced in: ",
           "none": "(The book corrects no statement of the notes.)"},
}


def _lang(env) -> str:
    return "zh" if str(env.config.language or "").startswith("zh") else "en"


@functools.cache
def _all_terms():
    return load_terms()


def _terms(env):
    return _all_terms()


def _store(env, name: str) -> dict:
    if not hasattr(env, name):
        setattr(env, name, {})
    return getattr(env, name)


# -- in the chapters -----------------------------------------------------------------------------
class DfnRole(SphinxRole):
    """``{dfn}`term``` — the term is introduced here: emphasised, with the anchor dfn-<headword>."""

    def run(self):
        text = dfn_text(self.text)
        term = find_dfn_term(self.text, _lang(self.env), _terms(self.env))
        if term is None:
            msg = self.inliner.reporter.error(
                f"{{dfn}}`{self.text}`: no entry of book/terms.yml matches {text!r} in this edition's "
                "language; add the term there or name it: {dfn}`text <headword>`", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        anchor = "dfn-" + term.slug.removeprefix("term-")
        found = _store(self.env, "dlbook_dfn").setdefault(self.env.docname, [])
        if any(slug == term.slug for slug, _ in found):
            msg = self.inliner.reporter.error(f"{term.name!r} is introduced twice on this page", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        found.append((term.slug, anchor))
        node = nodes.emphasis(self.rawtext, text, classes=["dfn"], ids=[anchor])
        node["dlbook_term"] = term.slug
        return [node], []


class erratum_node(nodes.Admonition, nodes.Element):
    pass


def _visit_erratum(self, node):
    self.body.append(self.starttag(node, "div", CLASS="admonition warning erratum"))


def _depart_erratum(self, node):
    self.body.append("</div>\n")


class ErratumDirective(SphinxDirective):
    """A correction of the source notes: collected on the errata page."""

    required_arguments = 1
    has_content = True
    option_spec = {"notes": directives.unchanged_required,
                   "code": lambda value: directives.choice(value, ("after", "before"))}

    def run(self):
        ident = self.arguments[0]
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", ident):
            raise self.error(f"erratum id {ident!r}: lowercase ASCII words joined by hyphens")
        if "notes" not in self.options or "code" not in self.options:
            raise self.error(f"erratum {ident}: needs :notes: (the notes' statement) and :code: after|before")
        lang = _lang(self.env)
        node = erratum_node(classes=["erratum"], ids=[f"erratum-{ident}"])
        node["erratum_id"], node["notes"], node["code"] = ident, self.options["notes"], self.options["code"]
        title_text = LABELS[lang]["erratum"].format(self.options["notes"])
        node += nodes.title(title_text, title_text)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def _is_visible_code_cell(node) -> bool:
    return (isinstance(node, nodes.container) and node.get("nb_element") == "cell_code"
            and "hide-input" not in (node.get("cell_metadata") or {}).get("tags", []))


def _cell_source(cell) -> str:
    return next(iter(cell.findall(nodes.literal_block))).astext()


def _collect_errata(app, doctree) -> None:
    env = app.env
    records = []
    for node in doctree.findall(erratum_node):
        section = node.parent
        siblings = list(section.children)
        at = siblings.index(node)
        order = siblings[at + 1:] if node["code"] == "after" else reversed(siblings[:at])
        cell = None
        for sibling in order:
            if isinstance(sibling, nodes.section):
                break
            if _is_visible_code_cell(sibling):
                cell = sibling
                break
        if cell is None:
            logger.warning(f"erratum {node['erratum_id']}: no visible code cell {node['code']} it in its section",
                           location=node)
            continue
        body = [child.deepcopy() for child in node.children if not isinstance(child, nodes.title)]
        for part in body:  # footnotes belong to the chapter's reference list, not to the errata page
            for foot in list(part.findall(lambda n: "foot" in n.tagname)):
                foot.parent.remove(foot)
            for element in part.findall(nodes.Element):  # the anchors stay on the chapter's page
                element["ids"] = []
        records.append({"id": node["erratum_id"], "notes": node["notes"], "code": _cell_source(cell),
                        "anchor": f"erratum-{node['erratum_id']}", "section": _section_title(node),
                        "body": body})
    _store(env, "dlbook_errata")[env.docname] = records


def _section_of(node):
    while node is not None and not isinstance(node, nodes.section):
        node = node.parent
    return node


def _section_title(node) -> str:
    section = _section_of(node)
    return section[0].astext() if section is not None else ""


_SKIP = (nodes.title, nodes.literal, nodes.literal_block, nodes.math, nodes.math_block, nodes.reference,
         nodes.target, nodes.raw, nodes.caption, nodes.footnote, nodes.citation, nodes.comment,
         nodes.substitution_definition, nodes.rubric, addnodes.pending_xref, nodes.field_name)


def _in_prose(text) -> bool:
    node = text.parent
    while node is not None:
        if isinstance(node, _SKIP) or (isinstance(node, nodes.container) and node.get("nb_element")):
            return False
        node = node.parent
    return True


def _link_terms(app, doctree) -> None:
    """Link each term's first use on the page to its glossary entry; record each section's uses."""
    env = app.env
    if any(True for _ in doctree.findall(backmatter_node)):
        return
    lang = _lang(env)
    texts = [t for t in doctree.findall(nodes.Text) if _in_prose(t)]
    whole = "\n".join(texts)
    terms = [t for t in glossary_terms() if t.patterns[lang].search(whole)]
    glossary_doc = env.config.dlbook_glossary_doc
    linked, uses = set(), []
    for text in texts:
        found = []
        for term in terms:
            found += [(m.start(), -(m.end() - m.start()), m.end(), term) for m in term.patterns[lang].finditer(text)]
        kept, end = [], -1
        for start, _, stop, term in sorted(found, key=lambda f: f[:2]):
            if start >= end:
                kept.append((start, stop, term))
                end = stop
        if not kept:
            continue
        section = _section_of(text.parent)
        section_id = section["ids"][0] if section is not None and section["ids"] else ""
        for _, _, term in kept:
            if (term.slug, section_id) not in {(u[0], u[1]) for u in uses}:
                uses.append((term.slug, section_id, _section_title(text.parent)))
        to_link = []
        for start, stop, term in kept:
            if term.slug not in linked:
                linked.add(term.slug)
                to_link.append((start, stop, term))
        if to_link and glossary_doc:
            pieces, position = [], 0
            for start, stop, term in to_link:
                pieces.append(nodes.Text(text[position:start]))
                ref = nodes.reference("", "", internal=True, classes=["term-link"],
                                      refuri=f"{glossary_doc}.html#{term.slug}",
                                      reftitle=f"{term.zh} · {term.name}")
                ref += nodes.Text(text[start:stop])
                pieces.append(ref)
                position = stop
            pieces.append(nodes.Text(text[position:]))
            text.parent.replace(text, [p for p in pieces if not (isinstance(p, nodes.Text) and not p.astext())])
    _store(env, "dlbook_uses")[env.docname] = uses


def _read(app, doctree) -> None:
    sections = {}
    for node in doctree.findall(nodes.emphasis):
        if "dfn" in node.get("classes", []) and node["ids"]:
            sections[node["ids"][0]] = _section_title(node)
    _store(app.env, "dlbook_dfn_sections")[app.env.docname] = sections
    _collect_errata(app, doctree)
    _link_terms(app, doctree)


# -- on the back-matter pages ----------------------------------------------------------------------
class backmatter_node(nodes.General, nodes.Element):
    pass


def _make_directive(kind: str):
    class BackMatter(SphinxDirective):
        def run(self):
            node = backmatter_node()
            node["dlbook_backmatter"] = kind
            return [node]
    return BackMatter


def _doc_order(env) -> list[str]:
    root = env.config.root_doc
    return [root] + list(env.toctree_includes.get(root, []))


def _link(builder, fromdoc: str, todoc: str, anchor: str, text: str):
    uri = builder.get_relative_uri(fromdoc, todoc) + (f"#{anchor}" if anchor else "")
    ref = nodes.reference("", "", internal=True, refuri=uri)
    ref += nodes.Text(text)
    return ref


def _sort_key(term) -> str:
    return term.name.lower()


def _glossary(app, docname: str) -> list:
    env, builder, lang = app.env, app.builder, _lang(app.env)
    introduced = {slug: (doc, anchor) for doc in _doc_order(env)
                  for slug, anchor in _store(env, "dlbook_dfn").get(doc, [])}
    used = {slug for doc in _doc_order(env) for slug, _, _ in _store(env, "dlbook_uses").get(doc, [])}
    result, letter, items = [], None, None
    for term in sorted(glossary_terms(), key=_sort_key):
        if term.slug not in used and term.slug not in introduced:
            continue  # this edition never uses it (the other may; tests/test_backmatter.py checks the list)
        if term.slug not in introduced:
            logger.warning(f"glossary: {term.name!r} ({term.zh}) is used but never introduced with {{dfn}}")
            continue
        if term.name[0].upper() != letter:
            letter = term.name[0].upper()
            result.append(nodes.rubric(letter, letter))
            items = nodes.definition_list(classes=["glossary-list"])
            result.append(items)
        doc, anchor = introduced[term.slug]
        item = nodes.definition_list_item()
        first, second = (term.zh_name, term.name) if lang == "zh" else (term.name, term.zh_name)
        head = nodes.term(ids=[term.slug])
        head += nodes.strong(first, first)
        if second != first:
            head += nodes.Text(f" · {second}")
        body = nodes.paragraph()
        body += nodes.Text(LABELS[lang]["introduced"])
        section = dict(_store(env, "dlbook_dfn_sections").get(doc, {})).get(anchor, "")
        where = env.titles[doc].astext() + (f" › {section}" if section and section != env.titles[doc].astext() else "")
        body += _link(builder, docname, doc, anchor, where)
        item += [head, nodes.definition("", body)]
        items += item
    return result


def _index(app, docname: str) -> list:
    env, builder, lang = app.env, app.builder, _lang(app.env)
    by_term = {}
    for doc in _doc_order(env):
        for slug, section_id, title in _store(env, "dlbook_uses").get(doc, []):
            by_term.setdefault(slug, []).append((doc, section_id, title))
    result = nodes.definition_list(classes=["book-index"])
    for term in sorted(glossary_terms(), key=_sort_key):
        places = by_term.get(term.slug)
        if not places:
            continue
        first, second = (term.zh_name, term.name) if lang == "zh" else (term.name, term.zh_name)
        head = nodes.term(ids=[f"index-{term.slug[5:]}"])
        head += nodes.strong(first, first)
        if second != first:
            head += nodes.Text(f" · {second}")
        body = nodes.bullet_list()
        for doc in dict.fromkeys(doc for doc, _, _ in places):
            line = nodes.paragraph()
            line += _link(builder, docname, doc, "", env.titles[doc].astext())
            sections = [(sid, title) for d, sid, title in places if d == doc and title != env.titles[doc].astext()]
            for number, (sid, title) in enumerate(sections):
                line += nodes.Text(("：" if lang == "zh" else ": ") if number == 0 else ("；" if lang == "zh" else "; "))
                line += _link(builder, docname, doc, sid, title)
            body += nodes.list_item("", line)
        result += nodes.definition_list_item("", head, nodes.definition("", body))
    return [result]


def _errata(app, docname: str) -> list:
    env, builder, lang = app.env, app.builder, _lang(app.env)
    labels, result = LABELS[lang], []
    for doc in _doc_order(env):
        records = _store(env, "dlbook_errata").get(doc, [])
        if not records:
            continue
        title = env.titles[doc].astext()
        result.append(nodes.rubric(title, title))
        for record in records:
            box = nodes.container(classes=["erratum-entry"], ids=[f"errata-{record['id']}"])
            head = nodes.paragraph()
            head += nodes.strong(labels["notes"], labels["notes"])
            quoted = f"“{record['notes']}”" if lang == "zh" else f'"{record["notes"]}"'
            head += nodes.Text(quoted + " — ")
            head += _link(builder, docname, doc, record["anchor"], record["section"])
            box += head
            box += [part.deepcopy() for part in record["body"]]
            box += nodes.paragraph(labels["code"], labels["code"])
            box += nodes.literal_block(record["code"], record["code"], language="python")
            result.append(box)
    if not result:
        result.append(nodes.paragraph(labels["none"], labels["none"]))
    return result


RENDER = {"glossary-table": _glossary, "book-index": _index, "errata-list": _errata}


def _resolve(app, doctree, docname) -> None:
    for node in list(doctree.findall(backmatter_node)):
        content = RENDER[node["dlbook_backmatter"]](app, docname)
        # the copied errata bodies hold cross-references ({numref}, {ref}) resolved for their chapter:
        # resolve them again, from this page
        document = new_document(docname, doctree.settings)
        document.extend(content)
        for xref in document.findall(addnodes.pending_xref):
            xref["refdoc"] = docname
        app.env.apply_post_transforms(document, docname)
        content = list(document.children)
        document.children = []
        node.replace_self(content)
        if any(True for _ in doctree.findall(nodes.math)) or any(True for _ in doctree.findall(nodes.math_block)):
            # the math arrived after reading: tell the math domain, or the page loads no MathJax
            app.env.get_domain("math").data["has_equations"][docname] = True


def _purge(app, env, docname) -> None:
    for name in STORES:
        _store(env, name).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    for name in STORES:
        for doc in docnames:
            if doc in _store(other, name):
                _store(env, name)[doc] = _store(other, name)[doc]


# -- notebooks to take home ------------------------------------------------------------------------
def _notebook(app, pagename, templatename, context, doctree) -> None:
    """Write the chapter as a notebook into _sources/ and offer it in the download menu."""
    if doctree is None or pagename not in app.env.found_docs or not pagename[:2].isdigit():
        return
    if int(pagename[:2]) > 10:  # the back matter is generated from the chapters: nothing to run
        return
    if any(True for _ in doctree.findall(backmatter_node)) or not app.config.dlbook_notebooks:
        return
    scripts = app.config.dlbook_scripts_dir or str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    import nbformat
    from notebooks import chapter_notebook

    source = Path(app.env.doc2path(pagename))
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        nbformat.write(chapter_notebook(source), str(target))
    except Exception as error:  # a warning fails the build (-W) and names the page
        logger.warning(f"{pagename}: cannot write its notebook: {type(error).__name__}: {error}")
        return
    context["ipynb_source"] = f"{pagename}.ipynb"


def _static(app) -> None:
    app.config.html_static_path.append(str(Path(__file__).resolve().parent / "static"))


def setup(app):
    app.connect("builder-inited", _static)
    app.add_css_file("backmatter.css")
    app.add_config_value("dlbook_glossary_doc", "", "env")
    app.add_config_value("dlbook_notebooks", True, "env")
    app.add_config_value("dlbook_scripts_dir", "", "env")
    app.add_role("dfn", DfnRole(), override=True)
    app.add_node(erratum_node, html=(_visit_erratum, _depart_erratum))
    app.add_directive("erratum", ErratumDirective)
    app.add_node(backmatter_node)
    for kind in BACK_MATTER:
        app.add_directive(kind, _make_directive(kind))
    app.connect("doctree-read", _read)
    app.connect("doctree-resolved", _resolve)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-page-context", _notebook, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
