"""The EventBridge pattern engine against recorded AWS / event-ruler behaviour, and the
S3 "Object Created" helpers built on it."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from data_platform.contract.events import (
    InvalidEventPattern,
    describe_mismatch,
    matches,
    s3_object_created_event,
    s3_object_created_pattern,
    validate_pattern,
)

CONFORMANCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
PATTERNS_FILE = CONFORMANCE_DIR / "eventbridge_patterns.json"
MISSING = f"conformance vectors not found at {PATTERNS_FILE}; check out shared/ beside the repo"


def _cases() -> list:
    if not PATTERNS_FILE.is_file():
        # A missing file must fail the run, not quietly shrink it.
        return [pytest.param(None, id="conformance-file-missing")]
    cases = json.loads(PATTERNS_FILE.read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_conformance(case):
    if case is None:
        pytest.fail(MISSING)
    pattern = case["pattern"]
    if case.get("pattern_is_raw_json_text"):
        assert isinstance(pattern, str)
    if case.get("invalid"):
        with pytest.raises(InvalidEventPattern) as caught:
            matches(pattern, case.get("event") or {})
        if case.get("error"):
            # AWS appends "\n at [Source: ...]" to the reason; the first line is what we emulate.
            assert str(caught.value) == case["error"]
            assert caught.value.reason == case["error"].split("Reason: ", 1)[1]
        with pytest.raises(InvalidEventPattern):
            validate_pattern(pattern)
    else:
        validate_pattern(pattern)
        assert matches(pattern, case["event"]) is case["match"]


def test_conformance_file_has_all_cases():
    assert PATTERNS_FILE.is_file(), MISSING
    cases = json.loads(PATTERNS_FILE.read_text(encoding="utf-8"))
    assert len(cases) >= 116
    assert all(("match" in c) != bool(c.get("invalid")) for c in cases)


# --------------------------------------------------------------------------- engine details


def test_invalid_event_pattern_is_a_value_error_with_reason():
    with pytest.raises(ValueError) as caught:
        validate_pattern({"a": [{"prefix": "x", "suffix": "y"}]})
    assert caught.value.reason == "Only one key allowed in match expression"
    assert str(caught.value) == "Event pattern is not valid. Reason: Only one key allowed in match expression"


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("[1, 2]", "Filter is not an object"),
        ({"a": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"wildcard": "a**"}]}, "Consecutive wildcard characters at pos 2"),
        ({"a": [{"numeric": ["<=", 5, "<", 6]}]}, "Too many elements in numeric expression"),
        ({"a": [{"numeric": [">=", 5, "<", 5]}]}, "Bottom must be less than top"),
        ({"a": [{"numeric": [">", 6e11]}]}, "Value must be between -5.0E11 and 5.0E11, inclusive"),
        ({"a": [{"anything-but": {"regex": "x"}}]}, "Unsupported anything-but pattern: regex"),
        (
            {"a": [{"anything-but": {"prefix": {"equals-ignore-case": "x"}}}]},
            "Value of anything-but must be an array or single string/number value.",
        ),
        ({"a": [{"prefix": {"foo": "x"}}]}, "Unsupported prefix pattern: foo"),
        ({"a": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required"),
        ({"a": [[1]]}, "Match value must be String, number, true, false, or null"),
        ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": [{"a": ["x"]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        (
            {"$or": [{"a": ["x"]}, {"prefix": ["y"]}]},
            "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        ({"detail": {}}, "Empty objects are not allowed"),
    ],
)
def test_rejections(pattern, reason):
    with pytest.raises(InvalidEventPattern) as caught:
        validate_pattern(pattern)
    assert caught.value.reason == reason


def test_raw_json_with_duplicate_keys_uses_the_last_value_list():
    raw = '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    assert matches(raw, {"detail": {"location": "eu-central-1"}})
    assert not matches(raw, {"detail": {"location": "us-east"}})


def test_raw_json_that_does_not_parse_is_invalid():
    with pytest.raises(InvalidEventPattern):
        validate_pattern('{"source": [')


def test_booleans_are_not_numbers():
    assert not matches({"a": [1]}, {"a": True})
    assert not matches({"a": [True]}, {"a": 1})
    assert not matches({"a": [{"numeric": [">", 0]}]}, {"a": True})


def test_cidr_uses_the_network_not_the_written_address():
    pattern = {"ip": [{"cidr": "10.0.0.77/24"}]}
    assert matches(pattern, {"ip": "10.0.0.1"})
    assert not matches(pattern, {"ip": "10.0.1.1"})
    assert matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8:ffff::1"})


def test_exists_false_inside_array_is_checked_against_the_chosen_element():
    pattern = {"a": {"c": [2], "d": [{"exists": False}]}}
    assert matches(pattern, {"a": [{"c": 2}, {"c": 3, "d": 1}]})
    assert not matches(pattern, {"a": [{"c": 2, "d": 1}]})


def test_or_combines_with_fields_outside_it():
    pattern = {"source": ["s"], "$or": [{"a": ["1"]}, {"b": ["2"]}]}
    assert matches(pattern, {"source": "s", "b": "2"})
    assert not matches(pattern, {"source": "t", "b": "2"})
    assert not matches(pattern, {"source": "s", "a": "2"})


# --------------------------------------------------------------------------- S3 helpers

BUCKET = "lake-landing"


def _event(key: str, bucket: str = BUCKET) -> dict:
    return s3_object_created_event(bucket, key, 42)


def test_prefix_and_suffix_become_a_wildcard():
    pattern = s3_object_created_pattern(BUCKET, prefix="sales/", suffix=".csv")
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": [{"wildcard": "sales/*.csv"}]}},
    }
    assert matches(pattern, _event("sales/2024/a.csv"))
    assert matches(pattern, _event("sales/.csv"))
    assert not matches(pattern, _event("sales/a.json"))
    assert not matches(pattern, _event("other/a.csv"))
    assert not matches(pattern, _event("Sales/2024/a.csv"))
    assert not matches(pattern, _event("sales/2024/a.csv", bucket="another-bucket"))


def test_single_sided_and_unfiltered_patterns():
    assert s3_object_created_pattern(BUCKET, prefix="raw/")["detail"]["object"] == {"key": [{"prefix": "raw/"}]}
    assert s3_object_created_pattern(BUCKET, suffix=".json")["detail"]["object"] == {"key": [{"suffix": ".json"}]}
    unfiltered = s3_object_created_pattern(BUCKET)
    assert "object" not in unfiltered["detail"]
    assert matches(unfiltered, _event("anything/at/all.bin"))
    assert not matches(unfiltered, _event("anything", bucket="x"))


def test_non_s3_events_do_not_match():
    event = _event("sales/a.csv")
    event["source"] = "custom.app"
    assert not matches(s3_object_created_pattern(BUCKET, prefix="sales/"), event)


@pytest.mark.parametrize(
    "prefix, suffix, hit, miss",
    [
        ("in*box/", ".csv", "in*box/a.csv", "inXbox/a.csv"),
        ("back\\slash/", "*.csv", "back\\slash/a*.csv", "back\\slash/a.csv"),
        ("my folder/", " final.csv", "my folder/x final.csv", "my+folder/x final.csv"),
        ("c++/", "+1.csv", "c++/a+1.csv", "c%2B%2B/a+1.csv"),
        ("données/", ".csv", "données/été.csv", "donnees/ete.csv"),
        ("日本/", "📈.csv", "日本/売上📈.csv", "日本/売上.csv"),
    ],
)
def test_special_characters_in_keys_are_literal(prefix, suffix, hit, miss):
    pattern = s3_object_created_pattern(BUCKET, prefix=prefix, suffix=suffix)
    validate_pattern(pattern)
    assert matches(pattern, _event(hit))
    assert not matches(pattern, _event(miss))


def test_event_shape():
    when = datetime(2024, 3, 1, 14, 5, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    event = s3_object_created_event(
        BUCKET,
        "sales/q1 report+final é.csv",
        1024,
        region="eu-west-1",
        account="111122223333",
        time=when,
        event_id="evt-1",
        version_id="v1",
    )
    assert event["version"] == "0"
    assert event["id"] == "evt-1"
    assert event["detail-type"] == "Object Created"
    assert event["source"] == "aws.s3"
    assert event["account"] == "111122223333"
    assert event["time"] == "2024-03-01T12:05:09Z"
    assert event["region"] == "eu-west-1"
    assert event["resources"] == [f"arn:aws:s3:::{BUCKET}"]
    detail = event["detail"]
    assert detail["version"] == "0"
    assert detail["bucket"] == {"name": BUCKET}
    assert detail["object"]["key"] == "sales/q1 report+final é.csv"  # not URL-encoded
    assert detail["object"]["size"] == 1024
    assert detail["object"]["version-id"] == "v1"
    assert {"etag", "sequencer"} <= detail["object"].keys()
    assert detail["reason"] == "PutObject"
    assert {"request-id", "requester", "source-ip-address"} <= detail.keys()
    json.dumps(event)  # must be plain JSON


def test_event_defaults():
    event = s3_object_created_event(BUCKET, "k", 0)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", event["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert event["region"] == "us-east-1"
    assert event["account"] == "123456789012"
    assert "version-id" not in event["detail"]["object"]
    assert s3_object_created_event(BUCKET, "k", 0)["id"] != event["id"]
    assert s3_object_created_event(BUCKET, "k", 0, time="2021-11-12T00:00:00Z")["time"] == "2021-11-12T00:00:00Z"


def test_describe_mismatch_messages():
    both = s3_object_created_pattern(BUCKET, prefix="sales/", suffix=".csv")
    assert describe_mismatch(both, _event("sales/2024/a.csv")) is None
    assert describe_mismatch(both, _event("sales/x.txt")) == (
        'detail.object.key "sales/x.txt" does not match wildcard "sales/*.csv"'
    )
    assert describe_mismatch(s3_object_created_pattern(BUCKET, suffix=".csv"), _event("sales/x.txt")) == (
        'detail.object.key "sales/x.txt" does not end with ".csv"'
    )
    assert describe_mismatch(s3_object_created_pattern(BUCKET, prefix="sales/"), _event("hr/x.csv")) == (
        'detail.object.key "hr/x.csv" does not start with "sales/"'
    )
    assert describe_mismatch(both, _event("sales/a.csv", bucket="other")) == (
        f'detail.bucket.name "other" is not "{BUCKET}"'
    )
    assert describe_mismatch({"detail": {"state": ["running"]}}, {"detail": {}}) == "detail.state is missing"


def test_describe_mismatch_rejects_invalid_patterns():
    with pytest.raises(InvalidEventPattern):
        describe_mismatch({"a": []}, {"a": 1})
