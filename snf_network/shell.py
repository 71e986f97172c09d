"""Shell words without a shell: the one tokenizer for our config file and Ganeti's Xen NIC files.

Both files are written for ``source`` by bash; we read them instead, so that
nothing in them can ever run. Quotes and backslashes mean what they mean to
bash, ``#`` starts a comment, and anything that would make bash run or expand
something is an error, unless the caller expands ``$`` itself.
"""

from __future__ import annotations

from snf_network.errors import InputError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

    # (text, index of the "$") -> (value, index after the expansion)
    Expand = Callable[[str, int], tuple[str, int]]

_SYNTAX = frozenset(";&|<>(){}")


def words(text: str, where: str, expand: Expand | None = None,
          error: type[InputError] = InputError) -> list[str]:
    """The words of ``text`` as bash would split them, quotes removed."""
    found: list[str] = []
    current: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t":
            if in_word:
                found.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        if char == "#" and not in_word:
            break
        in_word = True
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise error(f"{where}: unterminated single quote")
            current.append(text[i + 1 : end])
            i = end + 1
        elif char == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`':
                    current.append(text[i + 1])
                    i += 2
                elif text[i] in "$`":
                    value, i = _expansion(text, i, where, expand, error)
                    current.append(value)
                else:
                    # Any other backslash stays, as in bash: "a\ b" is a, \, space, b.
                    current.append(text[i])
                    i += 1
            if i >= n:
                raise error(f"{where}: unterminated double quote")
            i += 1
        elif char == "\\":
            if i + 1 < n:
                current.append(text[i + 1])
            i += 2
        elif char in "$`":
            value, i = _expansion(text, i, where, expand, error)
            current.append(value)
        elif char in _SYNTAX:
            raise error(f"{where}: shell syntax ({char}) is not allowed")
        else:
            current.append(char)
            i += 1
    if in_word:
        found.append("".join(current))
    return found


def _expansion(text: str, i: int, where: str, expand: Expand | None,
               error: type[InputError]) -> tuple[str, int]:
    if text[i] == "`" or expand is None:
        raise error(f"{where}: shell expansion ({text[i]}) is not allowed")
    return expand(text, i)
