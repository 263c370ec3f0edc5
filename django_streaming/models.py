"""No tables: ``LiveAnswer`` only gives the admin's page of live answers (``admin.py``) its
place in the admin and its permissions."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["LiveAnswer"]


class LiveAnswer(models.Model):
    """The answers running now, as the stream store lists them: a model without a table
    (``managed = False``), for the admin's index entry and the app's own permissions."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_live_answers", _("Can see the live answers")),
            ("stop_live_answers", _("Can stop live answers")),
        ]
        verbose_name = _("live answer")
        verbose_name_plural = _("live answers")
