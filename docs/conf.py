"""Sphinx configuration: ``make docs`` builds this site with warnings as errors."""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# autodoc imports the package, and the package's views import Django's models.
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django_streaming",
    ],
    DATABASES={},
)
django.setup()

import django_streaming  # noqa: E402 - after django.setup()

project = "django-streaming"
author = "django-streaming developers"
copyright = "django-streaming developers"
release = django_streaming.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "snippets", "screenshot.py"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"undoc-members": False}

html_theme = "furo"
html_title = f"django-streaming {release}"
