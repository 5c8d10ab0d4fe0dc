"""The form renderer: Django's own form and widget templates rendered by Jinja2.

Widgets are the templates a page renders most: each text box, radio button, select option and error
list is one. Django ships every one of its form templates for Jinja2 as well as for its own engine,
with the same markup; through Jinja2 a page of the filing flow's questions takes 2.0-2.7 ms of
Python instead of 2.6-4.7 ms (bench/README.md, "Form widgets through Jinja2"). A template Django
ships for its own engine only, such as the admin's widgets, is rendered by that engine as before.

The Jinja2 engine is the one of ``TEMPLATES`` (``config/jinja2.py``), which also draws the
customers' pages: one environment, with Django's form templates among its folders. Neither engine
reads the project's ``templates/``, as with Django's default renderer: to change a widget's
markup, give the form field a widget with its own ``template_name`` in a Jinja2 template under an
app's ``jinja2/`` folder.
"""

from __future__ import annotations

from django.forms.renderers import BaseRenderer, DjangoTemplates
from django.template import TemplateDoesNotExist, engines
from django.template.backends.jinja2 import Jinja2


class FormRenderer(BaseRenderer):
    def __init__(self) -> None:
        self.jinja2: Jinja2 = engines["jinja2"]
        self.django = DjangoTemplates()
        # Names Jinja2 has no template for (the admin's widgets): asked of the filesystem once.
        self.django_only: set[str] = set()

    def get_template(self, template_name: str):
        if template_name not in self.django_only:
            try:
                return self.jinja2.get_template(template_name)
            except TemplateDoesNotExist:
                self.django_only.add(template_name)
        return self.django.get_template(template_name)
