"""argparse's own words ("usage: ", "options", its errors), from our catalog.

argparse looks its messages up through the ``_`` and ``ngettext`` names bound in its module; ``use()``
rebinds them to ``holysheep_tui.i18n`` so ``--help`` and usage errors speak the interface's language.
The messages below are argparse's msgids exactly (Python 3.11), listed so Babel extracts them.
"""

from __future__ import annotations

import argparse

from holysheep_tui import i18n
from holysheep_tui.i18n import N_

__all__ = ["MESSAGES", "expected_arguments", "use"]

MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("unexpected option string: %s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("can't open '%(filename)s': %(error)s"),
    N_('argument "-" with mode %r'),
)
"""What a person meets from argparse: its help headings and its usage errors (not the errors a
programmer meets while building a parser, which never reach a user)."""


def expected_arguments(n: int) -> str:
    """argparse's one plural message a person meets (an option of ``nargs=2`` given one value); written
    out here so Babel extracts it."""
    return i18n.ngettext("expected %s argument", "expected %s arguments", n)


def use() -> None:
    """Make argparse speak the language ``i18n`` speaks now (call it after ``i18n.use``)."""
    argparse._ = i18n._  # type: ignore[attr-defined]
    argparse.ngettext = i18n.ngettext  # type: ignore[attr-defined]
