"""Griffe extension: reads keras_dbn's Keras-style ``Example:`` sections as Google-style ones.

The package writes examples the way Keras does, a title line and then unindented
doctest lines::

    Example:

    >>> x = 1

Griffe's Google parser expects the section body indented under its title; unindented,
``>>>`` lines would render as nested Markdown quotes. This indents the lines after a
final ``Example:`` / ``Examples:`` title (the blank line after it removed), so they
render as an Examples section.
"""

import re

import griffe

_TITLE = re.compile(r"^(Examples?):[ \t]*$", re.MULTILINE)


def indent_examples(text):
    """Indents the body of a final ``Example:`` section that is not indented."""
    titles = list(_TITLE.finditer(text))
    if not titles:
        return text
    title = titles[-1]
    body = text[title.end() :].strip("\n").split("\n")
    if not body[0].startswith(">>>"):
        return text
    indented = "\n".join("    " + line if line.strip() else line for line in body)
    return f"{text[: title.start()]}Examples:\n{indented}"


class KerasStyleExamples(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = indent_examples(obj.docstring.value)
