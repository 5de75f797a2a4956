"""Tests for data_platform.contract.schedules (AWS cron / rate / at schedule expressions).

Expected values come from the shared conformance vectors (AWS docs, AWS-recorded
validation outcomes, library test vectors) and from the calendar / tz database worked out
by hand in the comments - never from the implementation under test.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from data_platform.contract.schedules import (
    InvalidScheduleExpression,
    describe,
    next_fire_times,
    validate_expression,
)

CONFORMANCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
CONFORMANCE_FILE = CONFORMANCE_DIR / "aws_schedule_expressions.json"


def _load_cases() -> list:
    if not CONFORMANCE_FILE.is_file():
        # collected as a failing test below instead of being skipped
        return []
    return json.loads(CONFORMANCE_FILE.read_text())


CASES = _load_cases()


def test_conformance_file_present():
    assert CONFORMANCE_FILE.is_file(), (
        f"conformance vectors missing: expected {CONFORMANCE_FILE} (shared/conformance next to the repository checkout)"
    )
    assert len(CASES) >= 43, f"expected at least 43 cases in {CONFORMANCE_FILE}, found {len(CASES)}"


def _utc(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def _z(dts) -> list[str]:
    return [d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for d in dts]


def _is_valid(expr: str, service: str) -> bool:
    try:
        validate_expression(expr, service)
    except InvalidScheduleExpression:
        return False
    return True


def _services(case) -> list[str]:
    return ["scheduler", "events-rule"] if case["service"] == "both" else [case["service"]]


VALIDITY_PARAMS = [
    pytest.param(case, service, id=f"{i:02d}-{service}-{case['expr']}")
    for i, case in enumerate(CASES)
    for service in _services(case)
]
NEXT_PARAMS = [pytest.param(case, id=f"{i:02d}-{case['expr']}") for i, case in enumerate(CASES) if case["next"]]


@pytest.mark.parametrize("case,service", VALIDITY_PARAMS)
def test_conformance_validity(case, service):
    ok = _is_valid(case["expr"], service)
    if case["valid"] is None:
        return  # sources disagree: either answer is accepted
    assert ok is case["valid"], f"{case['expr']!r} on {service}: expected valid={case['valid']} ({case['reason']})"


@pytest.mark.parametrize("case", NEXT_PARAMS)
def test_conformance_next(case):
    if case["valid"] is None and not _is_valid(case["expr"], "scheduler"):
        pytest.fail(f"{case['expr']} rejected although next[] is given; accept it and follow the vectors")
    got = next_fire_times(case["expr"], _utc(case["start"]), len(case["next"]))
    assert _z(got) == case["next"]
    assert all(d.tzinfo is not None and d.utcoffset() == timedelta(0) for d in got)


# ---------------------------------------------------------------------------------------
# validity beyond the conformance file
# ---------------------------------------------------------------------------------------

VALID_BOTH = [
    "cron(0 10 * * ? *)",
    "cron(0/30 20-23 ? * MON-FRI *)",
    "cron(0 9-5 ? * MON-FRI *)",  # reversed (wrap-around) hour range, listed valid by validators
    "cron(0 18 ? * L *)",
    "cron(0 18 ? * SATL *)",
    "cron(15 10 ? * FRIL 2019-2022)",
    "cron(0 18 L * ? *)",
    "cron(0 18 31W * ? *)",
    "cron(30 7 ? * MON#1 *)",
    "cron(30 0 1 JAN-APR,JUL-OCT/2,DEC ? *)",
    "cron(0,5 07/12 ? * 1,5,7 2020-2021,2028-2199)",
    "cron(15/50 10 * * ? *)",
    "cron(15 12 ? * sun,mon *)",
    "cron(1/5 8-17 ? * Mon-Fri *)",
    "cron(0 1-7/2,11-23/2,10 * * ? *)",
    "cron(10 10 15 jan,Jul,DEC ? *)",
    "cron(0 0 1 1 ? 1970)",
    "cron(0 0 1 1 ? 2199)",
    "rate(1 hour)",
    "rate(1 day)",
    "rate(3 days)",
    "rate(2 hours)",
]

INVALID_BOTH = [
    "cron(0 18 32W * ? *)",
    "cron(0 18 W * ? *)",
    "cron(10 10 31 04,09,13 ? *)",
    "cron(0,5 07/12 ? * 1 2000-2200)",
    "cron(15/30 10 * * ? 2400)",
    "cron(0 0 1 1 ? 1969)",
    "cron(0 9 ? * ? *)",  # both day fields '?'
    "cron(0 1-7/2,11-23/2, * * ? *)",  # trailing comma = empty element
    "cron(0,,5 * * * ? *)",
    "cron(0/0 * * * ? *)",  # zero increment
    "cron(0 */24 * * ? *)",  # hour increment beyond 23
    "cron(65/15 10 * * ? *)",
    "cron(5/155 10 * * ? *)",
    "cron(0 0 ? * 3#1,6#3 *)",  # only one '#' term allowed
    "cron(0 0 ? * 2#0 *)",
    "cron(0 0 ? * 0 *)",  # day-of-week is 1-7
    "cron(0 0 0 * ? *)",  # day-of-month is 1-31
    "cron(0 0 1 0 ? *)",  # month is 1-12
    "cron(0 0 1 JANUARY ? *)",
    "cron(0 0 ? * MONDAY *)",
    "cron(0 0 1 * MON *)",  # neither day field is '?'
    "cron(0 0 L-3W * ? *)",
    "cron(0  2 * * ? *)",  # two spaces
    "cron( 0 2 * * ? *)",
    "cron(0 2 * * ? * )",
    "cron(0 2 * * ? * *)",  # seven fields
    "cron()",
    "cron(0 2 * * ? *",
    "cron(0 2 * * ? *) ",
    "rate(10 years)",
    "rate()",
    "rate(10 minutess)",
    "rate(-10 minutes)",
    "rate( 10 minutes )",
    "rate(10  minutes)",
    "rate(1.5 hours)",
    "rate(1 days)",
    "rate(2 day)",
    "every(5 minutes)",
    "",
]


@pytest.mark.parametrize("expr", VALID_BOTH)
@pytest.mark.parametrize("service", ["scheduler", "events-rule"])
def test_valid_expressions(expr, service):
    validate_expression(expr, service)


@pytest.mark.parametrize("expr", INVALID_BOTH)
@pytest.mark.parametrize("service", ["scheduler", "events-rule"])
def test_invalid_expressions(expr, service):
    with pytest.raises(InvalidScheduleExpression):
        validate_expression(expr, service)


def test_minute_increment_below_60_is_valid():
    # */24 is a legal minutes increment (0,24,48); only >59 is rejected (AWS rejected */60)
    validate_expression("cron(*/24 * * * ? *)")
    with pytest.raises(InvalidScheduleExpression):
        validate_expression("cron(*/60 * * * ? *)")


def test_invalid_expression_is_value_error():
    with pytest.raises(ValueError):
        validate_expression("cron(0 1 * * * *)")


def test_unknown_service_rejected():
    with pytest.raises(ValueError):
        validate_expression("rate(5 minutes)", "lambda")


@pytest.mark.parametrize(
    "expr,fragment",
    [
        ("cron(71 8 1 * ? *)", "minutes"),
        ("cron(0 65 * * ? *)", "hours"),
        ("cron(0 0 32 * ? *)", "day-of-month"),
        ("cron(0 18 3L * ? *)", "day-of-month"),
        ("cron(0 0 1 13 ? *)", "month"),
        ("cron(0 0 ? * 8 *)", "day-of-week"),
        ("cron(0 9 ? * 2#6 *)", "day-of-week"),
        ("cron(0 0 1 1 ? 2200)", "year"),
        ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 18 ? * MON-FRI)", "6 fields"),
        ("cron(*/60 * * * ? *)", "minutes"),
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "plural"),
        ("rate(0 hours)", "positive"),
        ("rate(10 seconds)", "unit"),
    ],
)
def test_error_message_names_bad_part(expr, fragment):
    with pytest.raises(InvalidScheduleExpression) as ei:
        validate_expression(expr)
    msg = str(ei.value)
    assert fragment in msg
    assert msg.startswith(expr)  # says which expression


def test_error_message_example_from_brief():
    with pytest.raises(InvalidScheduleExpression, match=r"^cron\(0 2 \* \* \* \*\): exactly one of"):
        validate_expression("cron(0 2 * * * *)")


# ---------------------------------------------------------------------------------------
# at(...)
# ---------------------------------------------------------------------------------------


def test_at_only_for_scheduler():
    validate_expression("at(2022-12-31T23:59:59)", "scheduler")
    with pytest.raises(InvalidScheduleExpression, match="at"):
        validate_expression("at(2022-12-31T23:59:59)", "events-rule")


@pytest.mark.parametrize(
    "expr",
    [
        "at(2021-12-31T23:59:59Z)",  # AWS-recorded invalid: no zone suffix allowed
        "at(2021-12-31)",  # AWS-recorded invalid
        "at(2023-02-29T00:00:00)",  # not a calendar date
        "at(2023-01-01T24:00:00)",
        "at(2023-01-01 00:00:00)",
        "at(2023-01-01T00:00)",
    ],
)
def test_at_invalid(expr):
    with pytest.raises(InvalidScheduleExpression):
        validate_expression(expr, "scheduler")


def test_at_fires_once_in_zone():
    after = datetime(2024, 1, 1, tzinfo=UTC)
    # 2024-06-01 12:00 in Berlin is CEST (UTC+2) -> 10:00Z
    assert _z(next_fire_times("at(2024-06-01T12:00:00)", after, 5, "Europe/Berlin")) == ["2024-06-01T10:00:00Z"]
    assert _z(next_fire_times("at(2024-06-01T12:00:00)", after, 5)) == ["2024-06-01T12:00:00Z"]


def test_at_in_the_past_or_equal_returns_empty():
    at = "at(2024-06-01T12:00:00)"
    assert next_fire_times(at, datetime(2024, 6, 1, 12, tzinfo=UTC), 1) == []
    assert next_fire_times(at, datetime(2025, 1, 1, tzinfo=UTC), 1) == []
    assert len(next_fire_times(at, datetime(2024, 6, 1, 11, 59, 59, tzinfo=UTC), 1)) == 1


# ---------------------------------------------------------------------------------------
# rate(...)
# ---------------------------------------------------------------------------------------


def test_rate_counts_from_after():
    after = datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert _z(next_fire_times("rate(5 minutes)", after, 3)) == [
        "2024-01-01T00:05:30Z",
        "2024-01-01T00:10:30Z",
        "2024-01-01T00:15:30Z",
    ]
    assert _z(next_fire_times("rate(1 hour)", after, 2)) == ["2024-01-01T01:00:30Z", "2024-01-01T02:00:30Z"]
    assert _z(next_fire_times("rate(2 hours)", after, 2)) == ["2024-01-01T02:00:30Z", "2024-01-01T04:00:30Z"]


def test_rate_days_are_24_hours_across_dst():
    # AWS: a rate in days is a 24-hour duration, evaluated 24h after the last invocation,
    # even when DST makes the local day 23 hours (Berlin, 2024-03-31).
    after = datetime(2024, 3, 30, 10, 0, tzinfo=UTC)
    got = next_fire_times("rate(1 day)", after, 2, "Europe/Berlin")
    assert _z(got) == ["2024-03-31T10:00:00Z", "2024-04-01T10:00:00Z"]
    assert _z(next_fire_times("rate(3 days)", after, 1)) == ["2024-04-02T10:00:00Z"]


# ---------------------------------------------------------------------------------------
# cron semantics
# ---------------------------------------------------------------------------------------


def _nft(expr, start, n, tz="UTC"):
    return _z(next_fire_times(expr, _utc(start), n, tz))


def test_strictly_after():
    assert _nft("cron(0 2 * * ? *)", "2024-01-01T02:00:00Z", 1) == ["2024-01-02T02:00:00Z"]
    assert _nft("cron(0 2 * * ? *)", "2024-01-01T01:59:59Z", 1) == ["2024-01-01T02:00:00Z"]
    assert _nft("cron(* * * * ? *)", "2024-01-01T00:00:00.5+00:00", 2) == [
        "2024-01-01T00:01:00Z",
        "2024-01-01T00:02:00Z",
    ]


def test_after_in_other_offset_is_accepted():
    after = datetime(2024, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=2)))  # = 01:00Z
    assert _z(next_fire_times("cron(0 2 * * ? *)", after, 1)) == ["2024-01-01T02:00:00Z"]


def test_naive_after_rejected():
    with pytest.raises(ValueError):
        next_fire_times("cron(0 2 * * ? *)", datetime(2024, 1, 1), 1)


def test_invalid_expression_rejected_by_next_fire_times():
    with pytest.raises(InvalidScheduleExpression):
        next_fire_times("cron(0 2 * * * *)", datetime(2024, 1, 1, tzinfo=UTC), 1)


def test_count_zero():
    assert next_fire_times("cron(0 2 * * ? *)", datetime(2024, 1, 1, tzinfo=UTC), 0) == []


def test_steps_start_at_base():
    # AWS docs: 1/10 in minutes = 1, 11, 21, ...
    assert _nft("cron(1/10 * * * ? *)", "2024-01-01T00:00:00Z", 3) == [
        "2024-01-01T00:01:00Z",
        "2024-01-01T00:11:00Z",
        "2024-01-01T00:21:00Z",
    ]
    # 07/12 in hours = 07, 19
    assert _nft("cron(0 07/12 ? * * *)", "2024-01-01T00:00:00Z", 3) == [
        "2024-01-01T07:00:00Z",
        "2024-01-01T19:00:00Z",
        "2024-01-02T07:00:00Z",
    ]


def test_library_vectors_aws_croniter():
    # siddarth-patil/aws-croniter tests/test_occurrence.py (library-stated)
    assert _nft("cron(23,24,25 17,18 25 MAR/4 ? 2020,2021,2023,2028)", "2020-05-09T22:30:57Z", 7) == [
        "2020-07-25T17:23:00Z",
        "2020-07-25T17:24:00Z",
        "2020-07-25T17:25:00Z",
        "2020-07-25T18:23:00Z",
        "2020-07-25T18:24:00Z",
        "2020-07-25T18:25:00Z",
        "2020-11-25T17:23:00Z",
    ]
    assert _nft("cron(0-29/5 22 09 05 ? 2020,2021,2022)", "2020-05-09T22:30:57Z", 7) == [
        "2021-05-09T22:00:00Z",
        "2021-05-09T22:05:00Z",
        "2021-05-09T22:10:00Z",
        "2021-05-09T22:15:00Z",
        "2021-05-09T22:20:00Z",
        "2021-05-09T22:25:00Z",
        "2022-05-09T22:00:00Z",
    ]
    assert _nft("cron(30 9 3W * ? *)", "2020-07-31T22:30:57Z", 3) == [
        "2020-08-03T09:30:00Z",
        "2020-09-03T09:30:00Z",
        "2020-10-02T09:30:00Z",
    ]
    assert _nft("cron(0/23 * * * ? *)", "2021-08-07T08:30:57Z", 4) == [
        "2021-08-07T08:46:00Z",
        "2021-08-07T09:00:00Z",
        "2021-08-07T09:23:00Z",
        "2021-08-07T09:46:00Z",
    ]


# --- W / LW / L / # ---------------------------------------------------------------------


def test_w_saturday_first_moves_forward_to_monday():
    # 2022-01-01 is a Saturday: the nearest weekday inside January is Monday the 3rd
    # (Friday Dec 31 would cross the month boundary). Feb 1 and Mar 1 2022 are Tuesdays.
    assert _nft("cron(0 9 1W * ? *)", "2021-12-15T00:00:00Z", 3) == [
        "2022-01-03T09:00:00Z",
        "2022-02-01T09:00:00Z",
        "2022-03-01T09:00:00Z",
    ]


def test_w_sunday_first_and_weekend_mid_month():
    # 2023-10-01 is a Sunday -> Monday 2nd
    assert _nft("cron(0 0 1W * ? 2023)", "2023-09-15T00:00:00Z", 1) == ["2023-10-02T00:00:00Z"]
    # 2023-07-15 is a Saturday -> Friday 14th; 2023-10-15 is a Sunday -> Monday 16th
    assert _nft("cron(0 0 15W 7 ? 2023)", "2023-01-01T00:00:00Z", 1) == ["2023-07-14T00:00:00Z"]
    assert _nft("cron(0 0 15W 10 ? 2023)", "2023-01-01T00:00:00Z", 1) == ["2023-10-16T00:00:00Z"]


def test_w_sunday_31st_moves_back_to_friday():
    # 2023-12-31 is a Sunday -> Friday 29th (Monday Jan 1 would cross the month);
    # 2024-01-31 is a Wednesday; February has no 31st (skipped); 2024-03-31 Sunday -> Fri 29th.
    assert _nft("cron(0 0 31W * ? *)", "2023-11-15T00:00:00Z", 3) == [
        "2023-12-29T00:00:00Z",
        "2024-01-31T00:00:00Z",
        "2024-03-29T00:00:00Z",
    ]


def test_lw_last_weekday():
    # 2023-09-30 Saturday -> Fri 29th; 2023-10-31 Tuesday; 2023-11-30 Thursday; 2023-12-31 Sunday -> Fri 29th
    assert _nft("cron(0 18 LW * ? *)", "2023-09-01T00:00:00Z", 4) == [
        "2023-09-29T18:00:00Z",
        "2023-10-31T18:00:00Z",
        "2023-11-30T18:00:00Z",
        "2023-12-29T18:00:00Z",
    ]


def test_l_last_day_of_month_leap_years():
    assert _nft("cron(0 0 L 2 ? *)", "2023-01-01T00:00:00Z", 3) == [
        "2023-02-28T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "2025-02-28T00:00:00Z",
    ]


def test_dow_l_alone_is_saturday():
    # Quartz/AWS: 'L' alone in day-of-week = 7 = SAT. 2024-01-06 is the first Saturday.
    assert _nft("cron(0 0 ? * L *)", "2024-01-01T00:00:00Z", 3) == [
        "2024-01-06T00:00:00Z",
        "2024-01-13T00:00:00Z",
        "2024-01-20T00:00:00Z",
    ]


def test_last_friday():
    # last Fridays: 2024-01-26, 2024-02-23, 2024-03-29
    expected = ["2024-01-26T10:15:00Z", "2024-02-23T10:15:00Z", "2024-03-29T10:15:00Z"]
    assert _nft("cron(15 10 ? * 6L *)", "2024-01-01T00:00:00Z", 3) == expected
    assert _nft("cron(15 10 ? * FRIL *)", "2024-01-01T00:00:00Z", 3) == expected
    assert _nft("cron(15 10 ? * fril *)", "2024-01-01T00:00:00Z", 3) == expected


def test_hash_nth_weekday():
    # 2024-01-01 is a Monday: 3rd Monday = Jan 15; Feb 2024 Mondays 5,12,19 -> 19th
    assert _nft("cron(0 12 ? * MON#3 *)", "2024-01-01T00:00:00Z", 2) == [
        "2024-01-15T12:00:00Z",
        "2024-02-19T12:00:00Z",
    ]
    assert _nft("cron(0 12 ? * 2#1 *)", "2024-01-01T12:00:00Z", 2) == [
        "2024-02-05T12:00:00Z",
        "2024-03-04T12:00:00Z",
    ]


def test_hash_fifth_weekday_skips_months_without_one():
    # Fifth Friday: Jan 2024 (5,12,19,26) no; Feb 2024 (2..23) no; Mar 29 yes; Apr no; May 31 yes;
    # Jun (7..28) no; Jul (5..26) no; Aug 30 yes.
    assert _nft("cron(0 12 ? * 6#5 *)", "2024-01-01T00:00:00Z", 3) == [
        "2024-03-29T12:00:00Z",
        "2024-05-31T12:00:00Z",
        "2024-08-30T12:00:00Z",
    ]


# --- ranges -------------------------------------------------------------------------------


def test_wraparound_hour_range():
    assert _nft("cron(0 22-2 * * ? *)", "2024-01-01T00:30:00Z", 5) == [
        "2024-01-01T01:00:00Z",
        "2024-01-01T02:00:00Z",
        "2024-01-01T22:00:00Z",
        "2024-01-01T23:00:00Z",
        "2024-01-02T00:00:00Z",
    ]


def test_wraparound_dow_range():
    # FRI-MON = FRI,SAT,SUN,MON; 2024-01-02 is a Tuesday
    assert _nft("cron(0 8 ? * FRI-MON *)", "2024-01-02T00:00:00Z", 4) == [
        "2024-01-05T08:00:00Z",
        "2024-01-06T08:00:00Z",
        "2024-01-07T08:00:00Z",
        "2024-01-08T08:00:00Z",
    ]


def test_wraparound_month_range():
    assert _nft("cron(0 0 1 NOV-FEB ? *)", "2024-03-15T00:00:00Z", 5) == [
        "2024-11-01T00:00:00Z",
        "2024-12-01T00:00:00Z",
        "2025-01-01T00:00:00Z",
        "2025-02-01T00:00:00Z",
        "2025-11-01T00:00:00Z",
    ]


def test_year_range_and_end_of_schedule():
    assert _nft("cron(0 0 1 1 ? 2025-2026)", "2024-06-01T00:00:00Z", 5) == [
        "2025-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    ]


# --- efficiency ---------------------------------------------------------------------------


def test_feb_29_is_fast_and_skips_2100():
    t0 = time.perf_counter()
    assert _nft("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", 3) == [
        "2028-02-29T00:00:00Z",
        "2032-02-29T00:00:00Z",
        "2036-02-29T00:00:00Z",
    ]
    # 2100 is not a leap year (divisible by 100, not by 400)
    assert _nft("cron(0 0 29 2 ? *)", "2096-03-01T00:00:00Z", 1) == ["2104-02-29T00:00:00Z"]
    assert time.perf_counter() - t0 < 2.0


def test_far_year_and_never_matching_are_fast():
    t0 = time.perf_counter()
    assert _nft("cron(0 0 1 1 ? 2199)", "2024-01-01T00:00:00Z", 3) == ["2199-01-01T00:00:00Z"]
    assert _nft("cron(0 0 30 2 ? *)", "2024-01-01T00:00:00Z", 3) == []  # Feb 30 never exists
    assert _nft("cron(* * * * ? 2020)", "2024-01-01T00:00:00Z", 3) == []
    assert time.perf_counter() - t0 < 2.0


# --- time zones and DST ---------------------------------------------------------------------


def test_fixed_offset_zone():
    # Asia/Kolkata is UTC+05:30 all year
    assert _nft("cron(0 9 * * ? *)", "2024-01-01T00:00:00Z", 1, "Asia/Kolkata") == ["2024-01-01T03:30:00Z"]


def test_berlin_daily_0200_across_spring_forward():
    # 2024-03-31: 02:00 CET jumps to 03:00 CEST, so 02:00 does not exist that day and AWS
    # Scheduler skips the invocation. Mar 30 02:00 CET = 01:00Z; Apr 1 02:00 CEST = 00:00Z.
    assert _nft("cron(0 2 * * ? *)", "2024-03-29T12:00:00Z", 3, "Europe/Berlin") == [
        "2024-03-30T01:00:00Z",
        "2024-04-01T00:00:00Z",
        "2024-04-02T00:00:00Z",
    ]


def test_berlin_daily_0200_across_fall_back():
    # 2024-10-27: 03:00 CEST goes back to 02:00 CET; 02:00 happens twice but runs only once,
    # at its first occurrence (02:00 CEST = 00:00Z). Oct 28 02:00 CET = 01:00Z.
    assert _nft("cron(0 2 * * ? *)", "2024-10-25T12:00:00Z", 3, "Europe/Berlin") == [
        "2024-10-26T00:00:00Z",
        "2024-10-27T00:00:00Z",
        "2024-10-28T01:00:00Z",
    ]


def test_berlin_half_hourly_across_spring_forward():
    # after = 00:45Z = 01:45 CET; 02:00/02:30 local do not exist; 03:00 CEST = 01:00Z
    assert _nft("cron(0/30 * * * ? *)", "2024-03-31T00:45:00Z", 3, "Europe/Berlin") == [
        "2024-03-31T01:00:00Z",
        "2024-03-31T01:30:00Z",
        "2024-03-31T02:00:00Z",
    ]


def test_berlin_half_hourly_across_fall_back_runs_repeated_hour_once():
    # after = 23:45Z = 01:45 CEST. 02:00/02:30 CEST = 00:00Z/00:30Z fire; the repeated
    # 02:00/02:30 CET (01:00Z/01:30Z) do not; 03:00 CET = 02:00Z.
    assert _nft("cron(0/30 * * * ? *)", "2024-10-26T23:45:00Z", 3, "Europe/Berlin") == [
        "2024-10-27T00:00:00Z",
        "2024-10-27T00:30:00Z",
        "2024-10-27T02:00:00Z",
    ]
    # starting inside the repeated hour (01:10Z = 02:10 CET): next is 03:00 CET
    assert _nft("cron(0/30 * * * ? *)", "2024-10-27T01:10:00Z", 1, "Europe/Berlin") == ["2024-10-27T02:00:00Z"]


def test_new_york_dst():
    # 2024-03-10: 02:00 EST -> 03:00 EDT, 02:30 does not exist -> skipped.
    # Mar 9 02:30 EST = 07:30Z; Mar 11 02:30 EDT = 06:30Z.
    assert _nft("cron(30 2 * * ? *)", "2024-03-08T12:00:00Z", 2, "America/New_York") == [
        "2024-03-09T07:30:00Z",
        "2024-03-11T06:30:00Z",
    ]
    # 2024-11-03: 02:00 EDT -> 01:00 EST; 01:30 once at 01:30 EDT = 05:30Z; Nov 4 01:30 EST = 06:30Z
    assert _nft("cron(30 1 * * ? *)", "2024-11-02T12:00:00Z", 2, "America/New_York") == [
        "2024-11-03T05:30:00Z",
        "2024-11-04T06:30:00Z",
    ]


def test_at_in_dst_gap_moves_forward():
    # 02:30 on 2024-03-31 does not exist in Berlin; a one-time schedule still fires, one
    # gap-length later (03:30 CEST = 01:30Z).
    after = datetime(2024, 1, 1, tzinfo=UTC)
    assert _z(next_fire_times("at(2024-03-31T02:30:00)", after, 1, "Europe/Berlin")) == ["2024-03-31T01:30:00Z"]


def test_unknown_zone():
    with pytest.raises(ValueError):
        next_fire_times("cron(0 2 * * ? *)", datetime(2024, 1, 1, tzinfo=UTC), 1, "Mars/Olympus")


# --- describe ---------------------------------------------------------------------------------


def test_describe():
    assert describe("rate(5 minutes)") == "every 5 minutes"
    assert describe("rate(1 day)") == "every 1 day"
    assert "02:00" in describe("cron(0 2 * * ? *)")
    assert "last" in describe("cron(0 18 LW * ? *)")
    with pytest.raises(InvalidScheduleExpression):
        describe("cron(0 2 * * * *)")
