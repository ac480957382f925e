"""A Sphinx extension that drops repeated ``<script>`` entries from each page.

Sphinx 7.4 (the version Jupyter Book 1.x pins) adds some inline scripts twice, so the browser
reports "Identifier 'THEBE_JS_URL' has already been declared" on every page; Sphinx 8 fixed it
(sphinx-doc/sphinx#13402). Keeping the first of each identical entry removes the error.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    files = context.get("script_files")
    if not files:
        return
    seen, unique = set(), []
    for js in files:
        attributes = tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))
        key = (getattr(js, "filename", js) or "", attributes)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
