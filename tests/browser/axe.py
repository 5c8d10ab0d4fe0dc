"""axe-core (from the npm package, never a CDN) run inside a page by Playwright.

The browser context must be made with ``bypass_csp=True`` so the script can be injected whatever
the page's Content Security Policy says (the ``page`` fixture does this).
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]


def serious_violations(page) -> list[dict]:
    """The serious and critical WCAG 2.2 AA violations on the page as it is now."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: `make test` installs axe-core with npm ci")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def violations_of(page, *rules: str) -> list[dict]:
    """The page's violations of the named axe-core rules, whatever their impact or tags."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'rule', values: rules}})", list(rules)
    )
    return [
        {"id": v["id"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
