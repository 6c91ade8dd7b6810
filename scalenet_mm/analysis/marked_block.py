"""A generated table kept inside a Markdown page, between two marker lines (``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``), so a tool can replace it without touching the prose around it."""
import re


def markers(name: str) -> tuple[str, str]:
    """The begin and end lines of block ``name``."""
    return f'<!-- {name}:begin -->', f'<!-- {name}:end -->'


def check_marked_block(page: str, name: str) -> None:
    """``page`` must exist and hold each marker of block ``name`` once (check it before any long work)."""
    begin, end = markers(name)
    with open(page) as handle:
        text = handle.read()
    if text.count(begin) != 1 or text.count(end) != 1:
        raise ValueError(f'--update-page {page} must hold the lines {begin} and {end} once each')


def replace_marked_block(page: str, name: str, content: str) -> None:
    """Put ``content`` between the markers of block ``name`` in ``page`` (checked by :func:`check_marked_block`)."""
    check_marked_block(page, name)
    begin, end = markers(name)
    with open(page) as handle:
        text = handle.read()
    text = re.sub(re.escape(begin) + '.*?' + re.escape(end), lambda _: f'{begin}\n{content}\n{end}', text, flags=re.S)
    with open(page, 'w') as handle:
        handle.write(text)
