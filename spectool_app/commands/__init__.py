"""One module per command group; each exposes ``add_parser(commands)`` (found automatically).

This package also holds what every command shares: :class:`UsageError` and :func:`comma_list`.
"""

from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """Something the user typed is not valid; the message names the valid choices."""


def comma_list(text: str, valid, what: str) -> tuple[str, ...]:
    """The comma-separated items of ``text``, in order; each must be one of ``valid`` (``what`` names them).

    Raises:
        UsageError: ``unknown <what>(s) [...]; valid <what>s: ...`` for items not in ``valid`` or an empty list.
    """
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [item for item in items if item not in valid]
    if unknown or not items:
        raise UsageError(f"unknown {what}(s) {unknown or [text]}; valid {what}s: {', '.join(valid)}")
    return items
