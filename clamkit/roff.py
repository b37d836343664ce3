"""Roff text shared by the man page generators (clamd.conf(5) and the commands' pages)."""


def escape(text: str) -> str:
    """``text`` as roff prints it literally: backslashes and hyphens escaped, and a
    leading ``.`` or ``'`` kept from being read as a request."""
    escaped = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped
