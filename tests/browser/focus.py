"""The focus style a keyboard user sees, read from the browser."""

from __future__ import annotations

# The portal's focus style (static/css/portal.css): a 3px yellow outline in a 5px black ring.
FOCUS_OUTLINE = ("solid", "3px", "rgb(255, 221, 0)")
FOCUS_RING = "rgb(11, 12, 12) 0px 0px 0px 5px"


def focus_by_keyboard(page, control) -> dict:
    """Tab onto the control, as a keyboard user would, and return its computed focus style."""
    control.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert control.evaluate("el => el === document.activeElement && el.matches(':focus-visible')")
    # Read once Bootstrap's transitions (.15s on the box shadow) have finished.
    return control.evaluate(
        """async el => {
             await Promise.all(el.getAnimations().map(a => a.finished));
             const s = getComputedStyle(el);
             return {outline: [s.outlineStyle, s.outlineWidth, s.outlineColor],
                     shadow: s.boxShadow}; }"""
    )


def assert_portal_focus(style: dict, name: str) -> None:
    assert tuple(style["outline"]) == FOCUS_OUTLINE, name
    assert style["shadow"] == FOCUS_RING, name
