"""AWS schedule expressions (EventBridge rules and EventBridge Scheduler) in pure Python.

Supported forms
---------------
* ``cron(minutes hours day-of-month month day-of-week year)`` - six fields, AWS/Quartz
  flavour (see AWS "Cron expressions reference"):

  ============  ===============  ===============
  field         values           wildcards
  ============  ===============  ===============
  minutes       0-59             , - * /
  hours         0-23             , - * /
  day-of-month  1-31             , - * ? / L W
  month         1-12 or JAN-DEC  , - * /
  day-of-week   1-7 or SUN-SAT   , - * ? L #
  year          1970-2199        , - * /
  ============  ===============  ===============

  Exactly one of day-of-month / day-of-week must be ``?``.  ``L`` (last day of month),
  ``L-n`` (n days before the last day), ``nW`` (weekday nearest day n, never crossing the
  month boundary; months without day n are skipped), ``LW`` (last weekday of the month);
  in day-of-week ``L`` alone is SAT (7), ``nL``/``FRIL`` is the last such weekday of the
  month, ``n#k``/``MON#k`` the k-th (1-5) such weekday; only one ``#`` term is allowed.
  Names are case-insensitive.  Reversed ranges wrap around (``FRI-MON``, ``22-2``,
  ``NOV-FEB``) like Quartz, except in the year field.  Increments follow Quartz limits:
  a step must be >= 1 and at most 59 (minutes), 23 (hours), 31 (day-of-month), 12 (month);
  ``/`` is not allowed in day-of-week (not listed by AWS).
* ``rate(value unit)`` - value a positive integer, unit ``minute|hour|day`` when the value
  is 1, ``minutes|hours|days`` otherwise.
* ``at(yyyy-mm-ddThh:mm:ss)`` - one-time schedule, EventBridge Scheduler only (no zone
  suffix; the zone is the schedule time zone).

No whitespace is tolerated around the expression or inside the parentheses, and fields
are separated by exactly one space (AWS rejects ``" rate(10 minutes)"`` and
``"rate( 10 minutes )"``).

Time zones / daylight saving time (cron and at)
-----------------------------------------------
Cron expressions are evaluated on the wall clock of the IANA zone given as ``timezone``
(EventBridge Scheduler ``ScheduleExpressionTimezone``).  EventBridge Scheduler documents
(AWS knowledge center "eventbridge-scheduler-adjust-dst" / Scheduler user guide, DST
section): *"When the time shifts forward in Spring, your schedule invocation gets skipped
if the cron expression falls on a non-existent date and time. When the time shifts back
in the Fall, your schedule runs only once and doesn't repeat its invocation."*  Hence:

* a local time inside a spring-forward gap is **skipped** (no shifted fire);
* a local time inside a fall-back overlap fires **once**, at its first occurrence
  (``fold=0``, i.e. the earlier UTC instant, still on daylight time); the repeated wall
  time is not fired again.

For ``at(...)`` (a single instant the user asked for) a nonexistent local time is moved
forward by the gap length (zoneinfo ``fold=0`` semantics, e.g. 02:30 on the Berlin
spring-forward day -> 03:30 CEST) instead of being dropped; an ambiguous one uses the
first occurrence.

Rate anchor
-----------
AWS gives users no anchor for rate schedules: they start when the schedule is created
(or at StartDate) and then repeat every interval, where ``days`` means 24 elapsed hours
regardless of DST.  The local runtime treats ``after`` as that anchor (the creation or
last-fire instant): fire times are ``after + k * interval`` for k = 1, 2, ... (exact
elapsed time, independent of the time zone, seconds preserved).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "InvalidScheduleExpression",
    "validate_expression",
    "next_fire_times",
    "describe",
]

SERVICES = ("scheduler", "events-rule")


class InvalidScheduleExpression(ValueError):
    """The schedule expression is not valid for the requested service."""


# ---------------------------------------------------------------------------------------
# field metadata
# ---------------------------------------------------------------------------------------

_MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_DOW_NAMES = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_DOW_LABEL = {v: k for k, v in _DOW_NAMES.items()}
_MONTH_LABEL = {v: k for k, v in _MONTH_NAMES.items()}


@dataclass(frozen=True)
class _FieldInfo:
    name: str
    lo: int
    hi: int
    names: dict | None
    max_digits: int
    max_step: int | None  # None: '/' not allowed; 0: no upper bound
    wrap: bool
    allowed: str  # for messages


_MINUTES = _FieldInfo("minutes", 0, 59, None, 2, 59, True, "0-59 and , - * /")
_HOURS = _FieldInfo("hours", 0, 23, None, 2, 23, True, "0-23 and , - * /")
_DOM = _FieldInfo("day-of-month", 1, 31, None, 2, 31, True, "1-31 and , - * ? / L W")
_MONTH = _FieldInfo("month", 1, 12, _MONTH_NAMES, 2, 12, True, "1-12 or JAN-DEC and , - * /")
_DOW = _FieldInfo(
    "day-of-week", 1, 7, _DOW_NAMES, 2, None, True, "1-7 or SUN-SAT and , - * ? L # (L, nL and n#k used alone)"
)
_YEAR = _FieldInfo("year", 1970, 2199, None, 4, 0, False, "1970-2199 and , - * /")

_DIGITS = re.compile(r"[0-9]+")


def _err(expr: str, msg: str) -> InvalidScheduleExpression:
    return InvalidScheduleExpression(f"{expr}: {msg}")


def _value(expr: str, info: _FieldInfo, tok: str) -> int:
    if info.names is not None and tok.upper() in info.names:
        return info.names[tok.upper()]
    if not tok:
        raise _err(expr, f"{info.name} has an empty value; allowed: {info.allowed}")
    if not _DIGITS.fullmatch(tok):
        raise _err(expr, f"{info.name} value '{tok}' is not valid; allowed: {info.allowed}")
    if len(tok) > info.max_digits:
        raise _err(expr, f"{info.name} value '{tok}' has too many digits; allowed: {info.allowed}")
    v = int(tok)
    if not info.lo <= v <= info.hi:
        raise _err(expr, f"{info.name} value {tok} is out of range {info.lo}-{info.hi}")
    return v


def _expand(info: _FieldInfo, start: int, end: int, step: int) -> list[int]:
    if start <= end:
        return list(range(start, end + 1, step))
    # wrap-around range (Quartz): e.g. 22-2 in hours -> 22,23,0,1,2
    span = info.hi - info.lo + 1
    out = []
    for v in range(start, end + span + 1, step):
        out.append(info.lo + (v - info.lo) % span)
    return out


def _parse_common(expr: str, info: _FieldInfo, text: str) -> frozenset[int]:
    """Parse a field made of values, ranges, steps, lists and '*'."""
    if text == "*":
        return frozenset(range(info.lo, info.hi + 1))
    if text == "":
        raise _err(expr, f"{info.name} field is empty; allowed: {info.allowed}")
    values: set[int] = set()
    for item in text.split(","):
        if item == "":
            raise _err(expr, f"{info.name} has an empty list element in '{text}'; allowed: {info.allowed}")
        step = 1
        base = item
        if "/" in item:
            if info.max_step is None:
                raise _err(expr, f"{info.name} does not allow '/' increments ('{item}'); allowed: {info.allowed}")
            base, _, step_tok = item.partition("/")
            if not _DIGITS.fullmatch(step_tok):
                raise _err(expr, f"{info.name} increment '{step_tok}' in '{item}' must be a positive integer")
            step = int(step_tok)
            if step < 1:
                raise _err(expr, f"{info.name} increment in '{item}' must be at least 1")
            if info.max_step and step > info.max_step:
                raise _err(expr, f"{info.name} increment {step} in '{item}' is too large (maximum {info.max_step})")
        if base == "*":
            if "/" not in item:
                raise _err(expr, f"{info.name}: '*' cannot be combined with other values in '{text}'")
            start, end = info.lo, info.hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(expr, info, a), _value(expr, info, b)
            if start > end and not info.wrap:
                raise _err(expr, f"{info.name} range '{base}' is reversed (start must not exceed end)")
        else:
            start = _value(expr, info, base)
            end = info.hi if "/" in item else start
        values.update(_expand(info, start, end, step))
    return frozenset(values)


# ---------------------------------------------------------------------------------------
# day fields
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DaySpec:
    """kind: any | set | last | last_offset | weekday_near | last_weekday (day-of-month)
    or any | set | last_dow | nth_dow | last_offset (day-of-week)."""

    kind: str
    values: frozenset = frozenset()
    n: int = 0  # day number / offset / weekday
    k: int = 0  # '#' instance


_DOM_W = re.compile(r"([0-9]{1,2})W")
_L_OFFSET = re.compile(r"L-([0-9]{1,2})")


def _parse_dom(expr: str, text: str) -> _DaySpec:
    if text == "?":
        return _DaySpec("any")
    if text == "L":
        return _DaySpec("last")
    if text == "LW":
        return _DaySpec("last_weekday")
    offset = _last_offset(expr, text, "day-of-month", 30)
    if offset is not None:
        return offset
    m = _DOM_W.fullmatch(text)
    if m:
        n = _value(expr, _DOM, m.group(1))
        return _DaySpec("weekday_near", n=n)
    if "?" in text:
        raise _err(expr, "day-of-month: '?' must be used alone")
    if "L" in text or "W" in text:
        raise _err(
            expr,
            f"day-of-month value '{text}' is not valid: L, L-n, LW and nW must be used alone "
            f"(nL is a day-of-week form); allowed: {_DOM.allowed}",
        )
    return _DaySpec("set", _parse_common(expr, _DOM, text))


def _last_offset(expr: str, text: str, field: str, most: int) -> _DaySpec | None:
    """`L-n`: n days before the last day, 1 <= n <= most; None when `text` is not that form."""
    m = _L_OFFSET.fullmatch(text)
    if not m:
        return None
    n = int(m.group(1))
    if not 1 <= n <= most:
        raise _err(expr, f"{field} offset in '{text}' must be 1-{most}")
    return _DaySpec("last_offset", n=n)


def _dow_value(expr: str, tok: str) -> int:
    return _value(expr, _DOW, tok)


def _parse_dow(expr: str, text: str) -> _DaySpec:
    if text == "?":
        return _DaySpec("any")
    if text == "L":
        return _DaySpec("set", frozenset({7}))  # 'L' alone = last day of the week = SAT
    if "#" in text:
        if "," in text or "-" in text or "/" in text or text.count("#") != 1:
            raise _err(expr, f"day-of-week '{text}': only one '#' term (like 2#1 or MON#3) is allowed")
        d, _, k = text.partition("#")
        dv = _dow_value(expr, d)
        if not re.fullmatch(r"[1-5]", k):
            raise _err(expr, f"day-of-week '{text}': the instance after '#' must be 1-5")
        return _DaySpec("nth_dow", n=dv, k=int(k))
    offset = _last_offset(expr, text, "day-of-week", 7)
    if offset is not None:
        return offset
    if text.endswith("L") and len(text) > 1:
        return _DaySpec("last_dow", n=_dow_value(expr, text[:-1]))
    if "?" in text:
        raise _err(expr, "day-of-week: '?' must be used alone")
    return _DaySpec("set", _parse_common(expr, _DOW, text))


def _aws_dow(d: date) -> int:
    """AWS day-of-week number: 1=SUN .. 7=SAT."""
    return (d.weekday() + 1) % 7 + 1


def _is_weekday(y: int, m: int, d: int) -> bool:
    return calendar.weekday(y, m, d) < 5


def _days_in_month(spec_dom: _DaySpec, spec_dow: _DaySpec, y: int, m: int) -> list[int]:
    last = calendar.monthrange(y, m)[1]
    if spec_dom.kind != "any":
        s = spec_dom
        if s.kind == "set":
            return sorted(v for v in s.values if v <= last)
        if s.kind == "last":
            return [last]
        if s.kind == "last_offset":
            d = last - s.n
            return [d] if d >= 1 else []
        if s.kind == "last_weekday":
            d = last
            while not _is_weekday(y, m, d):
                d -= 1
            return [d]
        if s.kind == "weekday_near":
            n = s.n
            if n > last:
                return []  # the month has no such day: skipped
            # Quartz / AWS 'W': nearest weekday, never crossing the month boundary
            for off in (0, 1, -1, 2, -2):
                d = n + off
                if 1 <= d <= last and _is_weekday(y, m, d):
                    return [d]
            return []  # unreachable
        raise AssertionError(s.kind)
    s = spec_dow
    first_dow = _aws_dow(date(y, m, 1))
    if s.kind == "set":
        return [d for d in range(1, last + 1) if ((first_dow - 1 + d - 1) % 7) + 1 in s.values]
    if s.kind == "nth_dow":
        first = 1 + (s.n - first_dow) % 7
        d = first + 7 * (s.k - 1)
        return [d] if d <= last else []
    if s.kind == "last_dow":
        last_dow = ((first_dow - 1 + last - 1) % 7) + 1
        return [last - (last_dow - s.n) % 7]
    if s.kind == "last_offset":
        # 'L-n' in day-of-week is accepted by common validators but undocumented by AWS;
        # evaluated like the day-of-month form (n days before the last day of the month).
        d = last - s.n
        return [d] if d >= 1 else []
    raise AssertionError(s.kind)


# ---------------------------------------------------------------------------------------
# parsed expressions
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cron:
    minutes: tuple
    hours: tuple
    dom: _DaySpec
    months: tuple
    dow: _DaySpec
    years: tuple


@dataclass(frozen=True)
class _Rate:
    value: int
    unit: str  # minute | hour | day

    @property
    def interval(self) -> timedelta:
        return {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[
            self.unit
        ] * self.value


@dataclass(frozen=True)
class _At:
    when: datetime  # naive local wall time


_OUTER = re.compile(r"(cron|rate|at)\((.*)\)", re.DOTALL)
_RATE = re.compile(r"([^ ]+) ([^ ]+)")
_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")
_RATE_UNITS = {
    "minute": ("minute", True),
    "minutes": ("minute", False),
    "hour": ("hour", True),
    "hours": ("hour", False),
    "day": ("day", True),
    "days": ("day", False),
}


def _parse_cron(expr: str, body: str) -> _Cron:
    if body == "" or body.strip() == "":
        raise _err(expr, "cron expression is empty; six fields are required")
    if body != body.strip():
        raise _err(expr, "no whitespace is allowed after 'cron(' or before ')'")
    if re.search(r"\s", body.replace(" ", "")) or "  " in body:
        raise _err(expr, "cron fields must be separated by exactly one space")
    fields = body.split(" ")
    if len(fields) != 6:
        raise _err(
            expr,
            f"cron needs exactly 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}",
        )
    f_min, f_hour, f_dom, f_mon, f_dow, f_year = fields
    # names and L/W/# letters are case-insensitive (Quartz upper-cases the expression)
    f_dom, f_dow = f_dom.upper(), f_dow.upper()
    if (f_dom == "?") == (f_dow == "?"):
        raise _err(expr, "exactly one of day-of-month and day-of-week must be '?'")
    minutes = _parse_common(expr, _MINUTES, f_min)
    hours = _parse_common(expr, _HOURS, f_hour)
    dom = _parse_dom(expr, f_dom)
    months = _parse_common(expr, _MONTH, f_mon)
    dow = _parse_dow(expr, f_dow)
    years = _parse_common(expr, _YEAR, f_year)
    return _Cron(tuple(sorted(minutes)), tuple(sorted(hours)), dom, tuple(sorted(months)), dow, tuple(sorted(years)))


def _parse_rate(expr: str, body: str) -> _Rate:
    m = _RATE.fullmatch(body)
    if not m:
        raise _err(expr, "rate must be 'rate(value unit)' with one space and no other whitespace")
    value_tok, unit_tok = m.groups()
    if not _DIGITS.fullmatch(value_tok):
        raise _err(expr, f"rate value '{value_tok}' must be a positive integer")
    value = int(value_tok)
    if value < 1:
        raise _err(expr, f"rate value must be a positive integer, got {value_tok}")
    if unit_tok not in _RATE_UNITS:
        raise _err(expr, f"rate unit '{unit_tok}' is not valid; allowed: minute(s), hour(s), day(s)")
    unit, singular = _RATE_UNITS[unit_tok]
    if singular and value != 1:
        raise _err(expr, f"rate unit must be plural '{unit}s' when the value is {value}")
    if not singular and value == 1:
        raise _err(expr, f"rate unit must be singular '{unit}' when the value is 1")
    return _Rate(value, unit)


def _parse_at(expr: str, body: str) -> _At:
    m = _AT.fullmatch(body)
    if not m:
        raise _err(expr, "at must be 'at(yyyy-mm-ddThh:mm:ss)' (no zone suffix, no fractions)")
    try:
        year, month, day, hour, minute, second = (int(g) for g in m.groups())
        when = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise _err(expr, f"at date/time is not a real calendar instant: {exc}") from None
    return _At(when)


def _parse(expr: str, service: str = "scheduler"):
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {SERVICES}")
    if not isinstance(expr, str):
        raise InvalidScheduleExpression(f"{expr!r}: schedule expression must be a string")
    m = _OUTER.fullmatch(expr)
    if not m:
        raise _err(
            expr,
            "expression must be exactly cron(...), rate(...)"
            + (" or at(...)" if service == "scheduler" else "")
            + " with no surrounding whitespace",
        )
    kind, body = m.groups()
    if kind == "cron":
        return _parse_cron(expr, body)
    if kind == "rate":
        return _parse_rate(expr, body)
    if service != "scheduler":
        raise _err(expr, "at(...) one-time schedules are only supported by EventBridge Scheduler, not rules")
    return _parse_at(expr, body)


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------


def validate_expression(expr: str, service: str = "scheduler") -> None:
    """Raise InvalidScheduleExpression when ``expr`` is not valid for ``service``.

    ``service`` is ``"scheduler"`` (EventBridge Scheduler: cron/rate/at) or
    ``"events-rule"`` (EventBridge rules: cron/rate).
    """
    _parse(expr, service)


def _zone(name: str):
    if name in ("UTC", "Etc/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


def _iter_local(c: _Cron, start: datetime) -> Iterator[datetime]:
    """Naive local datetimes matching ``c`` that are >= ``start`` (minute precision), in order.

    Walks year -> month -> day -> hour -> minute, so sparse schedules (Feb 29, a far year)
    cost at most one step per month.
    """
    for y in c.years:
        if y < start.year:
            continue
        same_y = y == start.year
        for mo in c.months:
            if same_y and mo < start.month:
                continue
            same_m = same_y and mo == start.month
            for d in _days_in_month(c.dom, c.dow, y, mo):
                if same_m and d < start.day:
                    continue
                same_d = same_m and d == start.day
                for h in c.hours:
                    if same_d and h < start.hour:
                        continue
                    same_h = same_d and h == start.hour
                    for mi in c.minutes:
                        if same_h and mi < start.minute:
                            continue
                        yield datetime(y, mo, d, h, mi)


def _local_to_utc(naive: datetime, zone) -> tuple[datetime, bool]:
    """(UTC instant for the first occurrence of ``naive``, whether the wall time exists)."""
    aware = naive.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    exists = utc.astimezone(zone).replace(tzinfo=None) == naive
    return utc, exists


def next_fire_times(expr: str, after: datetime, count: int, timezone: str = "UTC") -> list[datetime]:
    """The next ``count`` fire instants strictly after ``after``, as aware UTC datetimes.

    ``expr`` may be any form accepted by EventBridge Scheduler.  Cron and at are evaluated
    on the wall clock of ``timezone``; see the module docstring for DST and rate anchors.
    """
    if not isinstance(after, datetime):
        raise TypeError("after must be a datetime")
    if after.tzinfo is None or after.tzinfo.utcoffset(after) is None:
        raise ValueError("after must be timezone-aware (naive datetimes are ambiguous)")
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError("count must be an int")
    parsed = _parse(expr, "scheduler")
    zone = _zone(timezone)
    after_utc = after.astimezone(UTC)
    if count <= 0:
        return []

    if isinstance(parsed, _Rate):
        step = parsed.interval
        return [after_utc + step * k for k in range(1, count + 1)]

    if isinstance(parsed, _At):
        # gap -> moved forward by the gap length; overlap -> first occurrence (fold=0)
        fire = parsed.when.replace(tzinfo=zone, fold=0).astimezone(UTC)
        return [fire] if fire > after_utc else []

    # cron: first candidate is the first whole local minute after `after`
    local = after_utc.astimezone(zone).replace(tzinfo=None)
    start = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    out: list[datetime] = []
    for naive in _iter_local(parsed, start):
        utc, exists = _local_to_utc(naive, zone)
        if not exists:
            continue  # spring-forward gap: EventBridge Scheduler skips the invocation
        if utc <= after_utc:
            # only possible for the repeated wall hour after a fall-back transition: that
            # wall time already fired on its first occurrence, AWS does not repeat it
            continue
        out.append(utc)
        if len(out) >= count:
            break
    return out


# ---------------------------------------------------------------------------------------
# describe
# ---------------------------------------------------------------------------------------


def _fmt_set(values, full: range, label=None) -> str:
    vals = sorted(values)
    if vals == list(full):
        return "every"
    lab = label or (lambda v: str(v))
    return ",".join(lab(v) for v in vals)


def describe(expr: str) -> str:
    """A short readable form, e.g. ``"at 02:00 every day (UTC unless a zone is given)"``."""
    p = _parse(expr, "scheduler")
    if isinstance(p, _Rate):
        return f"every {p.value} {p.unit}{'s' if p.value != 1 else ''}"
    if isinstance(p, _At):
        return f"once at {p.when.isoformat()}"
    if len(p.minutes) == 1 and len(p.hours) == 1:
        when = f"at {p.hours[0]:02d}:{p.minutes[0]:02d}"
    else:
        when = f"minute {_fmt_set(p.minutes, range(0, 60))} of hour {_fmt_set(p.hours, range(0, 24))}"
    if p.dom.kind == "any":
        s = p.dow
        if s.kind == "set":
            days = "every day" if len(s.values) == 7 else "on " + ",".join(_DOW_LABEL[v] for v in sorted(s.values))
        elif s.kind == "nth_dow":
            days = f"on {_DOW_LABEL[s.n]} #{s.k} of the month"
        elif s.kind == "last_dow":
            days = f"on the last {_DOW_LABEL[s.n]} of the month"
        else:
            days = f"{s.n} days before the last day of the month"
    else:
        s = p.dom
        if s.kind == "set":
            days = "every day" if len(s.values) == 31 else "on day " + _fmt_set(s.values, range(1, 32))
        elif s.kind == "last":
            days = "on the last day of the month"
        elif s.kind == "last_offset":
            days = f"{s.n} days before the last day of the month"
        elif s.kind == "last_weekday":
            days = "on the last weekday of the month"
        else:
            days = f"on the weekday nearest day {s.n}"
    months = "" if len(p.months) == 12 else " in " + ",".join(_MONTH_LABEL[m] for m in p.months)
    years = "" if len(p.years) == 230 else " in " + _fmt_set(p.years, range(1970, 2200))
    return f"{when} {days}{months}{years}"
