"""The one error type of model export, shared by the export pipeline and the code generator.

It lives apart from both so that `core.export` (which runs the generator) and
`core.python_code` (which raises while generating) need not import each other.
"""

from __future__ import annotations


class ExportError(ValueError):
    """An export could not be written or did not verify; the message says which and where.

    Attributes:
        target_exists: the output exists and replacing it was not allowed (the CLI words
            the remedy as --force, Python callers as overwrite=True).
    """

    target_exists = False
