"""DynamoDB's size limits, computed by sqlfeat before a request is sent (never learned from errors).

DynamoDB counts sizes in binary units (1 KB = 1,024 bytes, 1 MB = 1,024 KB):

- a partition key value is at most 2,048 bytes of UTF-8;
- an item is at most 400 KB, counted as the sum over its attributes of the UTF-8 length of the
  name plus the size of the value: a string its UTF-8 length, a binary its raw length, a number
  about 1 byte per two significant digits (leading and trailing zeros trimmed) plus 1;
- a ``BatchWriteItem`` request carries at most 25 puts;
- a ``BatchGetItem`` request asks for at most 100 keys and its response holds at most 16 MB
  (DynamoDB returns the rest as ``UnprocessedKeys``, which the store asks for again).

Pure functions of items in DynamoDB's JSON shape (``{"S": ...}``, ``{"N": ...}``, ``{"B": ...}``);
no boto3. ``sqlfeat/online/dynamodb.py`` uses them; the online tests check them against the
documented rules.
"""

from __future__ import annotations

from collections.abc import Sequence

KEY_BYTES = 2048
ITEM_BYTES = 400 * 1024
WRITE_ITEMS = 25
READ_KEYS = 100

# Text of a number as sqlfeat writes one (an int64 of microseconds): at most 20 characters.
NUMBER_TEXT = 20


def utf8_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def number_bytes(text: str) -> int:
    """A number's stored size: 1 byte per two significant digits, plus 1 (DynamoDB's rule)."""
    mantissa = text.lstrip("+-").lower().partition("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_bytes(value: dict) -> int:
    (tag, content), = value.items()
    if tag == "S":
        return utf8_bytes(content)
    if tag == "B":
        return len(content)
    if tag == "N":
        return number_bytes(content)
    raise ValueError(f"attribute type {tag!r} is not one sqlfeat writes (S, N, B)")


def item_bytes(item: dict[str, dict]) -> int:
    """The size DynamoDB counts against its 400 KB item limit."""
    return sum(utf8_bytes(name) + value_bytes(value) for name, value in item.items())


def largest_attribute(item: dict[str, dict], skip: Sequence[str] = ()) -> tuple[str, int]:
    """The attribute (not in ``skip``) that takes the most bytes, to say what to shrink."""
    sizes = [(utf8_bytes(name) + value_bytes(value), name) for name, value in item.items() if name not in skip]
    size, name = max(sizes, default=(0, ""))
    return name, size
