"""Words click translates that its source does not mark where they are written (it passes them
to ``_`` as variables): ``scripts/i18n`` extracts this file with click's own messages into
``src/torchenv/locale/click.pot``. Not imported by anything."""

from __future__ import annotations

from gettext import gettext as _

WORDS = (
    _("required"),  # click.core.Option.get_help_extra: "[required]"
)
