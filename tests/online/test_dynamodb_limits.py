"""DynamoDB's size rules as sqlfeat computes them, checked without a server.

Against DynamoDB's documented rules (UTF-8 bytes for strings and names, raw length for binaries,
1 byte per two significant digits plus 1 for numbers), against the exact bytes botocore sends,
and at the boundaries: a partition key of exactly 2,048 bytes and an item of exactly 400 KB are
accepted, one byte more is rejected, and multi-byte characters count as their bytes.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Context, Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sqlfeat.compiler.plan import EVENT_TS
from sqlfeat.errors import OnlineStoreError
from sqlfeat.online.base import OnlineView
from sqlfeat.online.dynamodb import DynamoDBOnlineStore
from sqlfeat.online.dynamodb_items import batch_items, within_limits
from sqlfeat.online.dynamodb_limits import (
    ITEM_BYTES,
    KEY_BYTES,
    WRITE_ITEMS,
    item_bytes,
    number_bytes,
    put_request_bound,
    put_request_bytes,
    utf8_bytes,
    write_envelope_bytes,
    write_requests,
)
from sqlfeat.types import String

# Any Unicode scalar value: a lone surrogate cannot be UTF-8, so no Arrow string holds one.
CHARS = st.characters(exclude_categories=("Cs",))
TEXT = st.text(CHARS, max_size=40)
NAMES = st.text(CHARS, min_size=1, max_size=12)
NUMBERS = st.integers(-(2**63), 2**63 - 1).map(str)
VALUES = st.one_of(
    TEXT.map(lambda text: {"S": text}), st.binary(max_size=40).map(lambda raw: {"B": raw}), NUMBERS.map(lambda n: {"N": n})
)
ITEMS = st.dictionaries(NAMES, VALUES, min_size=1, max_size=6)
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def significant_digits(text: str) -> int:
    """The oracle: Decimal's own reading of a number, leading and trailing zeros trimmed."""
    value = Decimal(text)
    # normalize() rounds to its context's precision: give it room for any digit count.
    return 0 if value == 0 else len(value.normalize(Context(prec=1_000)).as_tuple().digits)


def documented_size(item: dict) -> int:
    """DynamoDB's documented item size, written out from its rules."""
    total = 0
    for name, value in item.items():
        (tag, content), = value.items()
        total += len(name.encode("utf-8"))
        if tag == "S":
            total += len(content.encode("utf-8"))
        elif tag == "B":
            total += len(content)
        else:
            total += math.ceil(significant_digits(content) / 2) + 1
    return total


@given(TEXT)
def test_strings_count_their_utf8_bytes(text):
    assert utf8_bytes(text) == len(text.encode("utf-8"))


def test_documented_examples():
    assert [utf8_bytes(c) for c in ("a", "ü", "€", "😀")] == [1, 2, 3, 4]
    assert number_bytes("1704067200000000") == 5, "8 significant digits (trailing zeros trimmed): 4 + 1"
    assert number_bytes("123") == 3 and number_bytes("-0.00120") == 2 and number_bytes("0") == 1
    assert item_bytes({":key": {"S": "p:v:42"}, ":ts": {"N": "17"}, "by": {"B": b"\x00\xff"}, "s": {"S": "ü"}}) == (
        4 + 6 + 3 + 2 + 2 + 2 + 1 + 2
    )


@given(st.one_of(NUMBERS, st.decimals(allow_nan=False, allow_infinity=False).map(str)))
def test_numbers_take_a_byte_per_two_significant_digits_plus_one(text):
    assume(significant_digits(text) <= 38)  # DynamoDB's precision
    assert number_bytes(text) == math.ceil(significant_digits(text) / 2) + 1


@given(ITEMS)
def test_item_size_follows_the_documented_rules(item):
    assert item_bytes(item) == documented_size(item)


@pytest.fixture(scope="module")
def botocore_body():
    """The JSON body botocore would send for a BatchWriteItem: the ground truth for request sizes."""
    import botocore.session
    from botocore.serialize import create_serializer

    model = botocore.session.get_session().get_service_model("dynamodb")
    operation = model.operation_model("BatchWriteItem")
    serializer = create_serializer(model.metadata["protocol"])

    def body(table: str, items: list[dict]) -> bytes:
        request = {"RequestItems": {table: [{"PutRequest": {"Item": item}} for item in items]}}
        return serializer.serialize_to_request(request, operation)["body"]

    return body


@SLOW
@given(st.lists(ITEMS, min_size=1, max_size=5), st.from_regex(r"[A-Za-z0-9_.-]{3,40}", fullmatch=True))
def test_request_size_is_the_bytes_botocore_sends(botocore_body, items, table):
    expected = len(botocore_body(table, items))
    assert write_envelope_bytes(table, len(items)) + sum(map(put_request_bytes, items)) == expected


@given(ITEMS)
def test_request_bound_holds_for_any_text(item):
    # The bound counts numbers at their text length, as dynamodb_items.batch_items does.
    stored = sum(utf8_bytes(n) + (len(v["N"]) if "N" in v else documented_size({"": v})) for n, v in item.items())
    assert put_request_bytes(item) <= put_request_bound(stored, len(item))


@SLOW
@given(
    st.lists(st.dictionaries(NAMES, VALUES, min_size=1, max_size=3), min_size=1, max_size=80),
    st.integers(0, 3_000), st.booleans(),
)  # fmt: skip
def test_write_requests_stay_within_count_and_bytes(botocore_body, items, spare, with_bound):
    table = "sqlfeat_online"
    limit = write_envelope_bytes(table, 1) + max(map(put_request_bytes, items)) + spare
    bound = max(map(put_request_bytes, items)) if with_bound else None
    chunks = list(write_requests(items, table, bound, max_bytes=limit))
    assert [item for chunk in chunks for item in chunk] == items, "every item once, in order"
    for chunk in chunks:
        assert 1 <= len(chunk) <= WRITE_ITEMS
        assert len(botocore_body(table, chunk)) <= limit


# -- the store's check, at the boundaries --------------------------------------------------------
VIEW = OnlineView("proj", "limits", ("shop",), (String,), ("blob",), (String,))
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)  # 1704067200000000 us: a 5-byte number
FIXED = len(":key") + len(":ts") + 5 + len("blob")


def padded(char: str, size: int) -> str:
    """Text of exactly ``size`` UTF-8 bytes: ``char`` as often as it fits, then ASCII."""
    count = size // len(char.encode("utf-8"))
    text = char * count
    return text + "a" * (size - utf8_bytes(text))


def check(shop: str, blob: str):
    batch = pa.record_batch({
        "shop": pa.array([shop, "ok"]), EVENT_TS: pa.array([WHEN, WHEN], pa.timestamp("us", tz="UTC")),
        "blob": pa.array([blob, "small"]),
    })  # fmt: skip
    items, bound = batch_items(VIEW, batch)
    kept, rejected, _ = within_limits(VIEW, batch, items, bound)
    assert [item[":key"]["S"] for item in kept][-1] == "proj:limits:ok", "the other entity is kept"
    return len(kept) == 2, rejected


@given(CHARS, st.sampled_from([KEY_BYTES - 1, KEY_BYTES, KEY_BYTES + 1, KEY_BYTES + 3]))
def test_partition_key_of_2048_bytes_is_accepted_and_2049_rejected(char, size):
    prefix = len(VIEW.prefix)
    shop = padded(char, size - prefix)
    accepted, rejected = check(shop, "x")
    assert accepted is (size <= KEY_BYTES)
    if not accepted:
        (rejection,) = rejected
        assert (rejection.view, rejection.key, rejection.size, rejection.maximum) == ("limits", {"shop": shop}, size, KEY_BYTES)
        assert rejection.limit == "DynamoDB partition key" and "shorten the entity key" in rejection.fix


@SLOW
@given(CHARS, st.sampled_from([ITEM_BYTES - 1, ITEM_BYTES, ITEM_BYTES + 1, ITEM_BYTES + 4]))
def test_item_of_400_kb_is_accepted_and_one_byte_more_rejected(char, size):
    shop = "s1"
    blob = padded(char, size - FIXED - len(VIEW.prefix + shop))
    accepted, rejected = check(shop, blob)
    assert accepted is (size <= ITEM_BYTES)
    if not accepted:
        (rejection,) = rejected
        assert (rejection.key, rejection.size, rejection.maximum, rejection.limit) == (
            {"shop": shop}, size, ITEM_BYTES, "DynamoDB item"
        )  # fmt: skip
        assert f"feature 'blob' alone takes {len('blob') + utf8_bytes(blob):,} bytes" in rejection.fix


# -- unprocessed items and keys: progress is not throttling ---------------------------------------
@pytest.fixture
def fake_store(monkeypatch):
    """A store whose requests get answers from ``answer(kind, pending)``, with no sleeping."""
    import sqlfeat.online.dynamodb as dynamodb

    monkeypatch.setattr(dynamodb, "_backoff", lambda attempt: None)
    store = DynamoDBOnlineStore("us-east-1", "t")
    store._errors = (RuntimeError,)
    store.sent = []

    def serve(answer):
        def call(operation, size, action, expected=(), **kwargs):
            store.sent.append(size)
            return answer(kwargs["RequestItems"]["t"])

        monkeypatch.setattr(store, "_call", call)

    store.serve = serve
    return store


def test_unprocessed_items_are_resent_while_each_round_writes_some(fake_store):
    from sqlfeat.online.dynamodb import MAX_ATTEMPTS

    items = [{":key": {"S": f"k{i}"}} for i in range(20)]
    fake_store.serve(lambda pending: {"UnprocessedItems": {"t": pending[1:]}} if len(pending) > 1 else {})
    fake_store._batch_write(items, "writing")  # one item a round: 20 rounds, more than MAX_ATTEMPTS
    assert fake_store.sent == list(range(20, 0, -1))

    fake_store.sent.clear()
    fake_store.serve(lambda pending: {"UnprocessedItems": {"t": pending}})  # nothing written: throttled
    with pytest.raises(OnlineStoreError, match=f"3 items unprocessed after {MAX_ATTEMPTS} attempts"):
        fake_store._batch_write(items[:3], "writing")
    assert len(fake_store.sent) == MAX_ATTEMPTS


def test_unprocessed_keys_are_asked_again_while_each_round_returns_some(fake_store):
    from sqlfeat.online.dynamodb import MAX_ATTEMPTS

    def partial(request):  # like a 16 MB response: the first key answered, the others left
        first, *rest = request["Keys"]
        reply = {"Responses": {"t": [{":key": first[":key"], ":ts": {"N": "1"}}]}}
        return {**reply, "UnprocessedKeys": {"t": {**request, "Keys": rest}}} if rest else reply

    keys = [f"k{i}" for i in range(30)]
    fake_store.serve(partial)
    assert sorted(fake_store._batch_get(keys, ["#k"], {}, "reading")) == sorted(keys)
    assert fake_store.sent == list(range(30, 0, -1))

    fake_store.sent.clear()
    fake_store.serve(lambda request: {"UnprocessedKeys": {"t": request}})
    with pytest.raises(OnlineStoreError, match=f"left keys unprocessed after {MAX_ATTEMPTS} attempts"):
        fake_store._batch_get(keys[:5], ["#k"], {}, "reading")
    assert len(fake_store.sent) == MAX_ATTEMPTS
