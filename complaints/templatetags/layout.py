"""``{% layout %}``: a Django template drawn in the site's layout, which is a Jinja2 template.

The layout (``complaints/jinja2/base.html``) is written once, in Jinja2, for the customers' pages,
which Jinja2 draws (``config/jinja2.py``). The staff pages stay in Django's engine, which
crispy-forms needs; ``templates/base.html`` hands their blocks to the same layout::

    {% load layout %}{% layout "base.html" %}
      {% part "title" %}{% block title %}Complaints{% endblock %}{% endpart %}
      {% part "content" %}{% block content %}{% endblock %}{% endpart %}
    {% endlayout %}

Each ``part`` is rendered by Django's engine, as any block, then passed to the layout as markup in
``parts``; the layout also sees the whole context of the page (``company``, ``user``, ``messages``
...) and, with a request, ``request`` and ``csrf_input``.
"""

from __future__ import annotations

from django import template
from django.template import engines
from django.template.backends.utils import csrf_input_lazy
from django.template.base import NodeList, Parser, Token
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


class PartNode(template.Node):
    def __init__(self, name: str, nodelist: NodeList) -> None:
        self.name = name
        self.nodelist = nodelist  # blocks inside are found by {% extends %} through this name

    def render(self, context: template.Context) -> str:
        return self.nodelist.render(context)


class LayoutNode(template.Node):
    def __init__(self, layout: str, nodelist: NodeList) -> None:
        self.layout = layout
        self.nodelist = nodelist

    def render(self, context: template.Context) -> SafeString:
        parts = {
            node.name: mark_safe(node.render(context))  # noqa: S308 - Django's engine escaped it
            for node in self.nodelist
            if isinstance(node, PartNode)
        }
        values = context.flatten()
        request = getattr(context, "request", None)
        if request is not None:
            values["request"] = request
            values["csrf_input"] = csrf_input_lazy(request)
        layout = engines["jinja2"].env.get_template(self.layout)
        return mark_safe(layout.render({**values, "parts": parts}))  # noqa: S308 - Jinja2 escapes


def _named_block(parser: Parser, token: Token) -> tuple[str, NodeList]:
    """``{% tag "name" %} ... {% endtag %}``: the name and what lies between."""
    tag, *bits = token.split_contents()
    if len(bits) != 1:
        raise template.TemplateSyntaxError(f'{{% {tag} "name" %}} takes the {tag}\'s name')
    nodelist = parser.parse((f"end{tag}",))
    parser.delete_first_token()
    return bits[0].strip("\"'"), nodelist


@register.tag("layout")
def do_layout(parser: Parser, token: Token) -> LayoutNode:
    return LayoutNode(*_named_block(parser, token))


@register.tag("part")
def do_part(parser: Parser, token: Token) -> PartNode:
    return PartNode(*_named_block(parser, token))
