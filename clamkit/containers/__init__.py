"""Container formats: archives, compressions, encodings and documents.

Each format is one module exposing one ``ContainerFormat`` object (see
``base``); ``FORMATS`` lists them in the order the scanner tries them.
"""

from clamkit.containers.base import ContainerFormat

FORMATS: tuple[ContainerFormat, ...] = ()
