"""DynamoDB's size limits, computed by sqlfeat before a request is sent (never learned from errors).

DynamoDB counts sizes in binary units (1 KB = 1,024 bytes, 1 MB = 1,024 KB):

- a partition key value is at most 2,048 bytes of UTF-8;
- an item is at most 400 KB, counted as the sum over its attributes of the UTF-8 length of the
  name plus the size of the value: a string its UTF-8 length, a binary its raw length, a number
  about 1 byte per two significant digits (leading and trailing zeros trimmed) plus 1;
- a ``BatchWriteItem`` request carries at most 25 puts and 16 MB **as sent**: the JSON body,
  where botocore base64-encodes binaries and escapes every non-ASCII character as ``\\uXXXX``,
  so an item can take up to 6 times its stored size on the wire and 25 legal items can exceed
  16 MB. Requests are therefore cut by bytes as well as by count;
- a ``BatchGetItem`` request asks for at most 100 keys and its response holds at most 16 MB
  (DynamoDB returns the rest as ``UnprocessedKeys``, which the store asks for again).

Pure functions of items in DynamoDB's JSON shape (``{"S": ...}``, ``{"N": ...}``, ``{"B": ...}``);
no boto3. ``sqlfeat/online/dynamodb.py`` uses them; the online tests check them against the
documented rules and against the bytes botocore actually sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

KEY_BYTES = 2048
ITEM_BYTES = 400 * 1024
REQUEST_BYTES = 16 * 1024 * 1024
WRITE_ITEMS = 25
READ_KEYS = 100

# JSON text botocore puts around values, names and items (``json.dumps`` default separators):
# '{"S": ' + value + '}', '"name": ', ', ' between attributes, '{"PutRequest": {"Item": ' + ... + '}}'.
_VALUE_WRAP = len('{"S": }')
_NAME_WRAP = len(": ")
_SEPARATOR = len(", ")
_PUT_WRAP = len('{"PutRequest": {"Item": }}')
# Any attribute's share of the JSON body beyond 6x its stored bytes (quotes, tags, separators).
_ATTRIBUTE_OVERHEAD = 16
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


def _json_bytes(value: dict) -> int:
    (tag, content), = value.items()
    if tag == "B":
        return 2 + 4 * ((len(content) + 2) // 3)  # base64 in quotes: never escaped
    return len(json.dumps(content))


def put_request_bytes(item: dict[str, dict]) -> int:
    """Bytes one ``{"PutRequest": {"Item": item}}`` takes in the JSON body botocore sends."""
    dumps = json.dumps
    attributes = sum(len(dumps(name)) + _NAME_WRAP + _VALUE_WRAP + _json_bytes(value) for name, value in item.items())
    return _PUT_WRAP + 2 + attributes + _SEPARATOR * max(len(item) - 1, 0)


def write_envelope_bytes(table: str, puts: int) -> int:
    """The JSON body of a ``BatchWriteItem`` of ``puts`` items, minus the items themselves."""
    return len(json.dumps({"RequestItems": {table: []}})) + _SEPARATOR * max(puts - 1, 0)


def put_request_bound(stored_bound: int, attributes: int) -> int:
    """An upper bound on ``put_request_bytes`` of an item of at most ``stored_bound`` bytes.

    ``stored_bound`` must count each number at its text length (``NUMBER_TEXT``), not its stored
    size. Escaping multiplies a UTF-8 byte by at most 6 (a control character as ``\\u001f``; a
    3-byte character as ``\\uXXXX``; a 4-byte one as two of them), base64 a binary byte by 4/3.
    """
    return 6 * stored_bound + _ATTRIBUTE_OVERHEAD * attributes + _PUT_WRAP + 2 + _SEPARATOR


def write_requests(
    items: list[dict], table: str, bound: int | None = None, max_bytes: int = REQUEST_BYTES
) -> Iterator[list[dict]]:
    """``items`` cut into ``BatchWriteItem`` requests of at most 25 puts and ``max_bytes`` as sent.

    ``bound``: an upper bound on every item's ``put_request_bytes`` (``put_request_bound``); when
    25 such items fit in one request, the items are not measured one by one.
    """
    if bound is not None and write_envelope_bytes(table, WRITE_ITEMS) + WRITE_ITEMS * bound <= max_bytes:
        for start in range(0, len(items), WRITE_ITEMS):
            yield items[start : start + WRITE_ITEMS]
        return
    chunk: list[dict] = []
    used = 0
    for item in items:
        size = put_request_bytes(item)
        full = len(chunk) == WRITE_ITEMS or write_envelope_bytes(table, len(chunk) + 1) + used + size > max_bytes
        if chunk and full:
            yield chunk
            chunk, used = [], 0
        chunk.append(item)
        used += size
    if chunk:
        yield chunk
