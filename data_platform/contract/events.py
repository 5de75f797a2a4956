"""A pure-Python EventBridge event-pattern engine, plus S3 "Object Created" helpers.

The semantics follow AWS "Content filtering in Amazon EventBridge event patterns" and
the reference engine EventBridge is built on (aws/event-ruler): validation mirrors
event-ruler's JsonRuleCompiler so rejection reasons read exactly like AWS's
InvalidEventPatternException, and matching mirrors its array-consistent finder.

A pattern compiles to *branches* (one per ``$or`` alternative): each branch maps a
dotted field path to the matchers allowed for it. An event is flattened into leaf
fields, each remembering which element of which array it came from, so that one
branch can only be satisfied by fields taken from the same array elements.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "InvalidEventPattern",
    "describe_mismatch",
    "matches",
    "s3_object_created_event",
    "s3_object_created_pattern",
    "validate_pattern",
]

_REASON_PREFIX = "Event pattern is not valid. Reason: "


class InvalidEventPattern(ValueError):
    """A pattern EventBridge would refuse; ``reason`` is AWS's reason text."""

    def __init__(self, reason: str):
        super().__init__(_REASON_PREFIX + reason)
        self.reason = reason


# --------------------------------------------------------------------------- numbers

# event-ruler compares numbers as fixed-point values with 6 decimals in +/-5e11;
# anything else can only ever be matched textually.
_NUMBER_LIMIT = Decimal("5E11")
_RANGE_ERROR = "Value must be between -5.0E11 and 5.0E11, inclusive"
_DECIMALS_ERROR = "Only values upto 6 decimals are supported"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_decimal(value: Any) -> Decimal | None:
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    # repr() of a float is the shortest text that round-trips, i.e. what the JSON said.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _number_problem(value: Any) -> str | None:
    number = _to_decimal(value)
    if number is None:
        return _RANGE_ERROR
    exponent = number.normalize().as_tuple().exponent  # an int: the number is finite
    if isinstance(exponent, int) and exponent < -6:
        return _DECIMALS_ERROR
    if abs(number) > _NUMBER_LIMIT:
        return _RANGE_ERROR
    return None


def _comparable(value: Any) -> Decimal | None:
    """The value as event-ruler's comparable number, or None if it has no such form."""
    return _to_decimal(value) if _number_problem(value) is None else None


def _pattern_number(value: Any) -> Decimal:
    problem, number = _number_problem(value), _to_decimal(value)
    if problem or number is None:  # number is None only with a problem
        raise InvalidEventPattern(problem or _RANGE_ERROR)
    return number


def _same_number(pattern: Any, value: Any) -> bool:
    if not _is_number(value):
        return False
    left, right = _comparable(pattern), _comparable(value)
    if left is not None and right is not None:
        return left == right
    # Outside the comparable range event-ruler falls back to comparing the JSON text.
    return json.dumps(pattern) == json.dumps(value)


# --------------------------------------------------------------------------- strings

_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse like Java's InetAddress, which event-ruler uses: a dotted quad's octets
    are decimal even with leading zeros (Python's parser refuses those)."""
    if _IPV4.fullmatch(text):
        octets = [int(part) for part in text.split(".")]
        if max(octets) > 255:
            raise ValueError(text)
        return ipaddress.IPv4Address(bytes(octets))
    return ipaddress.IPv6Address(text)


def _ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # The regex gate is event-ruler's: only literal-looking addresses count as IPs.
    if not isinstance(text, str) or not (_IPV4.fullmatch(text) or _IPV6.fullmatch(text)):
        return None
    try:
        return _parse_ip(text)
    except ValueError:
        return None


def _same_string(pattern: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if pattern == value:
        return True
    # event-ruler stores IP literals as address ranges, so "::1" equals "0:0::1".
    left, right = _ip(pattern), _ip(value)
    return left is not None and left == right


def _fold(text: str) -> str:
    return text.lower()


def _wildcard_regex(text: str) -> re.Pattern[str]:
    """Compile a validated wildcard; event-ruler reports positions in UTF-8 bytes of the
    quoted value, so validation walks the bytes of '"' + text + '"'."""
    quoted = ('"' + text + '"').encode("utf-8")
    i = 0
    while i < len(quoted):
        byte = quoted[i : i + 1]
        if byte == b"*" and quoted[i + 1 : i + 2] == b"*":
            raise InvalidEventPattern(f"Consecutive wildcard characters at pos {i}")
        if byte == b"\\":
            if quoted[i + 1 : i + 2] not in (b"*", b"\\"):
                raise InvalidEventPattern(f"Invalid escape character at pos {i}")
            i += 1
        i += 1
    parts, literal, chars = [], [], iter(text)
    for char in chars:
        if char == "\\":
            literal.append(next(chars))
        elif char == "*":
            parts.append(re.escape("".join(literal)))
            literal = []
        else:
            literal.append(char)
    parts.append(re.escape("".join(literal)))
    return re.compile(".*".join(parts), re.DOTALL)


def _cidr_range(text: str) -> tuple[int, int, int]:
    """(version, low, high) of a CIDR block; host bits in the address are ignored."""
    slashed = text.split("/")
    if len(slashed) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    try:
        bits = int(slashed[1])
    except ValueError:
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    address = slashed[0]
    if not (_IPV4.fullmatch(address) or _IPV6.fullmatch(address)):
        raise InvalidEventPattern(f"Nonstandard IP address: {address}")
    try:
        ip = _parse_ip(address)
    except ValueError:
        raise InvalidEventPattern(f"Invalid IP address: {address}") from None
    width = ip.max_prefixlen
    if bits > width - 1:
        raise InvalidEventPattern(f"IPv{ip.version} mask bits must be < {width}")
    host_mask = (1 << (width - bits)) - 1
    low = int(ip) & ~host_mask
    return ip.version, low, low | host_mask


# --------------------------------------------------------------------------- matchers


@dataclass(frozen=True)
class _Matcher:
    """One alternative in a field's value list. ``test`` sees a present leaf value."""

    kind: str
    text: str  # how a mismatch is explained: '<field> <value> <text>'
    test: Callable[[Any], bool]


def _exists(wanted: bool) -> _Matcher:
    if wanted:
        return _Matcher("exists", "does not exist", lambda _value: True)
    return _Matcher("absent", "exists", lambda _value: False)


def _exact(value: Any) -> _Matcher:
    shown = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return _Matcher("exact", f"is not {shown}", lambda v: _same_string(value, v))
    if _is_number(value):
        return _Matcher("exact", f"is not {shown}", lambda v: _same_number(value, v))
    # true/false/null only equal themselves (and True must not equal 1).
    return _Matcher("exact", f"is not {shown}", lambda v: v is value)


def _affix(kind: str, verb: str, text: str, ignore_case: bool, test: Callable[[str, str], bool]) -> _Matcher:
    """A prefix or suffix matcher (`test` is str.startswith or str.endswith)."""
    shown = json.dumps(text, ensure_ascii=False)
    if ignore_case:
        return _Matcher(
            kind,
            f"does not {verb} {shown} (ignoring case)",
            lambda v: isinstance(v, str) and test(_fold(v), _fold(text)),
        )
    return _Matcher(kind, f"does not {verb} {shown}", lambda v: isinstance(v, str) and test(v, text))


def _prefix(text: str, ignore_case: bool = False) -> _Matcher:
    return _affix("prefix", "start with", text, ignore_case, str.startswith)


def _suffix(text: str, ignore_case: bool = False) -> _Matcher:
    return _affix("suffix", "end with", text, ignore_case, str.endswith)


def _equals_ignore_case(text: str) -> _Matcher:
    shown = json.dumps(text, ensure_ascii=False)
    return _Matcher(
        "equals-ignore-case",
        f"does not equal {shown} (ignoring case)",
        lambda v: isinstance(v, str) and _fold(v) == _fold(text),
    )


def _wildcard(text: str) -> _Matcher:
    regex = _wildcard_regex(text)
    shown = json.dumps(text, ensure_ascii=False)
    return _Matcher(
        "wildcard",
        f"does not match wildcard {shown}",
        lambda v: isinstance(v, str) and regex.fullmatch(v) is not None,
    )


def _numeric(low: tuple[Decimal, bool] | None, high: tuple[Decimal, bool] | None, shown: str) -> _Matcher:
    def test(value: Any) -> bool:
        number = _comparable(value)
        if number is None:
            return False
        if low and (number < low[0] or (low[1] and number == low[0])):
            return False
        if high and (number > high[0] or (high[1] and number == high[0])):
            return False
        return True

    return _Matcher("numeric", f"is not numeric {shown}", test)


def _cidr(text: str) -> _Matcher:
    version, low, high = _cidr_range(text)

    def test(value: Any) -> bool:
        ip = _ip(value)
        return ip is not None and ip.version == version and low <= int(ip) <= high

    return _Matcher("cidr", f"is not in CIDR {text}", test)


def _anything_but(kind: str, values: list[Any]) -> _Matcher:
    """Matches any present value (of any type, null included) that is not excluded."""
    if kind == "values" and values and _is_number(values[0]):
        numbers = {_pattern_number(v) for v in values}

        def excluded(v: Any) -> bool:
            return _comparable(v) in numbers
    elif kind == "values":

        def excluded(v: Any) -> bool:
            return isinstance(v, str) and v in values
    elif kind == "prefix":

        def excluded(v: Any) -> bool:
            return isinstance(v, str) and any(v.startswith(p) for p in values)
    elif kind == "suffix":

        def excluded(v: Any) -> bool:
            return isinstance(v, str) and any(v.endswith(s) for s in values)
    elif kind == "equals-ignore-case":
        folded = {_fold(v) for v in values}

        def excluded(v: Any) -> bool:
            return isinstance(v, str) and _fold(v) in folded
    else:  # wildcard
        regexes = [_wildcard_regex(v) for v in values]

        def excluded(v: Any) -> bool:
            return isinstance(v, str) and any(r.fullmatch(v) for r in regexes)

    shown = json.dumps(values, ensure_ascii=False)
    label = "" if kind == "values" else f"{kind} "
    return _Matcher("anything-but", f"is excluded by anything-but {label}{shown}", lambda v: not excluded(v))


# --------------------------------------------------------------------------- validation

# Ruler reserves these as field names inside $or so operators cannot be confused with fields.
_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    }
)

Branch = dict[str, list[_Matcher]]


def _load(pattern: dict | str) -> Any:
    if isinstance(pattern, str):
        try:
            return json.loads(pattern, object_pairs_hook=_merge_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise InvalidEventPattern(f"Filter is not valid JSON: {exc.msg}") from None
    return pattern


def _merge_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """AWS reads a repeated key as "the last one wins" for a field's value list, while
    repeated objects keep contributing their fields (event-ruler parses as a stream)."""
    merged: dict = {}
    for key, value in pairs:
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merge_duplicate_keys([*merged[key].items(), *value.items()])
        else:
            merged.pop(key, None)
            merged[key] = value
    return merged


def _compile(pattern: dict | str) -> list[Branch]:
    pattern = _load(pattern)
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object")
    branches: list[Branch] = []
    _compile_object(pattern, (), branches, in_or=False)
    return branches


def _compile_object(obj: dict, path: tuple[str, ...], branches: list[Branch], in_or: bool) -> None:
    for key, value in obj.items():
        if key == "$or":
            _compile_or(value, path, branches)
            continue
        if in_or and key in _RESERVED_IN_OR:
            raise InvalidEventPattern(f"{key} is Ruler reserved fieldName which cannot be used inside $or.")
        if isinstance(value, dict):
            _compile_object(value, (*path, key), branches, in_or)
        elif isinstance(value, list):
            matchers = _compile_values(value)
            if not branches:
                branches.append({})
            name = ".".join((*path, key))
            for branch in branches:
                branch[name] = matchers
        else:
            raise InvalidEventPattern(f'"{key}" must be an object or an array')
    if not obj:
        raise InvalidEventPattern("Empty objects are not allowed")


def _compile_or(alternatives: Any, path: tuple[str, ...], branches: list[Branch]) -> None:
    if not isinstance(alternatives, list):
        raise InvalidEventPattern("It must be an Array followed with $or.")
    before = [dict(b) for b in branches]
    branches.clear()
    for alternative in alternatives:
        if not isinstance(alternative, dict):
            raise InvalidEventPattern("Only JSON object is allowed in array of $or relationship.")
        forked = [dict(b) for b in before] or [{}]
        _compile_object(alternative, path, forked, in_or=True)
        branches.extend(forked)
    if len(alternatives) < 2:
        raise InvalidEventPattern("There must have at least 2 Objects in $or relationship.")


def _compile_values(values: list) -> list[_Matcher]:
    matchers = []
    for value in values:
        if isinstance(value, dict):
            matchers.append(_compile_expression(value))
        elif isinstance(value, list):
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
        else:
            matchers.append(_exact(value))
    if not matchers:
        raise InvalidEventPattern("Empty arrays are not allowed")
    return matchers


def _only_key(expression: dict, message: str = "Only one key allowed in match expression") -> None:
    if len(expression) > 1:
        raise InvalidEventPattern(message)


def _string_operand(value: Any, message: str) -> str:
    if not isinstance(value, str):
        raise InvalidEventPattern(message)
    return value


def _compile_expression(expression: dict) -> _Matcher:
    if not expression:
        raise InvalidEventPattern("Match expression name not found")
    operator, operand = next(iter(expression.items()))
    if operator in ("prefix", "suffix"):
        if isinstance(operand, dict):
            matcher = _compile_ignore_case_affix(operator, operand)
        else:
            text = _string_operand(operand, f"{operator} match pattern must be a string")
            matcher = _prefix(text) if operator == "prefix" else _suffix(text)
        _only_key(expression)
        return matcher
    if operator == "numeric":
        if not isinstance(operand, list):
            raise InvalidEventPattern("Value of numeric must be an array.")
        matcher = _compile_numeric(operand)
        _only_key(expression, "Too many elements in numeric expression")
        return matcher
    if operator == "anything-but":
        matcher = _compile_anything_but(operand)
        _only_key(expression, "Too many elements in numeric expression")
        return matcher
    if operator == "exists":
        if not isinstance(operand, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.")
        _only_key(expression)
        return _exists(operand)
    simple = {
        # event-ruler words the cidr type error as a prefix one; AWS repeats it verbatim.
        "cidr": ("prefix match pattern must be a string", _cidr),
        "equals-ignore-case": ("equals-ignore-case match pattern must be a string", _equals_ignore_case),
        "wildcard": ("wildcard match pattern must be a string", _wildcard),
        "exactly": ("exact match pattern must be a string", _exact),
    }
    if operator not in simple:
        raise InvalidEventPattern(f"Unrecognized match type {operator}")
    message, build = simple[operator]
    matcher = build(_string_operand(operand, message))
    _only_key(expression)
    return matcher


def _compile_ignore_case_affix(operator: str, operand: dict) -> _Matcher:
    if not operand:
        raise InvalidEventPattern(f"{operator.capitalize()} expression name not found")
    inner, text = next(iter(operand.items()))
    if inner != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {operator} pattern: {inner}")
    text = _string_operand(text, "equals-ignore-case match pattern must be a string")
    _only_key(operand)
    return _prefix(text, ignore_case=True) if operator == "prefix" else _suffix(text, ignore_case=True)


_ANYTHING_BUT_FORMS = ("equals-ignore-case", "prefix", "suffix", "wildcard")
_ANYTHING_BUT_VALUE = "Value of anything-but must be an array or single string/number value."


def _compile_anything_but(operand: Any) -> _Matcher:
    kind, extra_keys = "values", False
    if isinstance(operand, dict):
        if not operand:
            raise InvalidEventPattern("Anything-But expression name not found")
        extra_keys = len(operand) > 1
        kind, operand = next(iter(operand.items()))
        if kind not in _ANYTHING_BUT_FORMS:
            raise InvalidEventPattern(f"Unsupported anything-but pattern: {kind}")
    matcher = _compile_anything_but_values(kind, operand)
    if extra_keys:  # event-ruler only notices extra keys after reading the values
        raise InvalidEventPattern("Too many elements in numeric expression")
    return matcher


def _compile_anything_but_values(kind: str, operand: Any) -> _Matcher:
    if not (isinstance(operand, (list, str)) or _is_number(operand)):
        raise InvalidEventPattern(_ANYTHING_BUT_VALUE)
    values = operand if isinstance(operand, list) else [operand]
    if kind == "values":
        if any(not (isinstance(v, str) or _is_number(v)) for v in values):
            raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
        if len({isinstance(v, str) for v in values}) != 1:
            raise InvalidEventPattern(
                "Inside anything but list, either all values are number or string, mixed type is not supported"
            )
        return _anything_but(kind, values)
    for value in values:
        if isinstance(value, str):
            if kind in ("prefix", "suffix") and not value:
                raise InvalidEventPattern("Null prefix/suffix not allowed")
        elif kind == "equals-ignore-case":
            raise InvalidEventPattern(
                "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
            )
        elif kind == "wildcard":
            raise InvalidEventPattern("wildcard match pattern must be a string")
        else:
            raise InvalidEventPattern("prefix/suffix match pattern must be a string")
    return _anything_but(kind, values)


def _compile_numeric(terms: list) -> _Matcher:
    shown = json.dumps(terms)

    def operand(index: int, operator: str) -> Any:
        value = terms[index] if index < len(terms) else None
        if not _is_number(value):
            raise InvalidEventPattern(f"Value of {'equals' if operator == '=' else operator} must be numeric")
        return value

    if not terms or not isinstance(terms[0], str):
        member = json.dumps(terms[0]) if terms else "]"
        raise InvalidEventPattern(f"Invalid member in numeric match: {member}")
    operator = terms[0]
    if operator not in ("=", "<", "<=", ">", ">="):
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {operator}")
    first = operand(1, operator)
    if operator in ("=", "<", "<="):
        if len(terms) > 2:
            raise InvalidEventPattern("Too many elements in numeric expression")
        first = _pattern_number(first)
        if operator == "=":
            return _numeric((first, False), (first, False), shown)
        return _numeric(None, (first, operator == "<"), shown)
    if len(terms) == 2:
        return _numeric((_pattern_number(first), operator == ">"), None, shown)
    top_operator = terms[2]
    if not isinstance(top_operator, str):
        raise InvalidEventPattern(f"Bad value in numeric range: {json.dumps(top_operator)}")
    if top_operator not in ("<", "<="):
        raise InvalidEventPattern(f"Bad numeric range operator: {top_operator}")
    top = operand(3, top_operator)
    if len(terms) > 4:
        raise InvalidEventPattern("Too many terms in numeric range expression")
    first, top = _pattern_number(first), _pattern_number(top)
    if first >= top:
        raise InvalidEventPattern("Bottom must be less than top")
    return _numeric((first, operator == ">"), (top, top_operator == "<"), shown)


def validate_pattern(pattern: dict | str) -> None:
    """Raise InvalidEventPattern if EventBridge would refuse ``pattern``."""
    _compile(pattern)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class _Field:
    value: Any
    # (array id, element index) for every array the value sits in.
    membership: tuple[tuple[int, int], ...]


def _flatten(event: Any) -> dict[str, list[_Field]]:
    fields: dict[str, list[_Field]] = {}
    array_ids = itertools.count()

    def walk(node: Any, name: str, membership: tuple[tuple[int, int], ...]) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, f"{name}.{key}" if name else key, membership)
        elif isinstance(node, list):
            array = next(array_ids)
            for index, child in enumerate(node):
                walk(child, name, (*membership, (array, index)))
        else:
            fields.setdefault(name, []).append(_Field(node, membership))

    if isinstance(event, dict):
        walk(event, "", ())
    return fields


def _consistent(chosen: dict[int, int], membership: tuple[tuple[int, int], ...]) -> bool:
    return all(chosen.get(array, index) == index for array, index in membership)


def _branch_matches(
    steps: list[tuple[str, list[_Matcher]]], fields: dict[str, list[_Field]], chosen: dict[int, int]
) -> bool:
    """Fields are bound in sorted name order, as event-ruler's state machine does; that
    order decides which array elements an ``exists: false`` is checked against."""
    if not steps:
        return True
    (name, matchers), rest = steps[0], steps[1:]
    candidates = [f for f in fields.get(name, ()) if _consistent(chosen, f.membership)]
    if not candidates and any(m.kind == "absent" for m in matchers):
        if _branch_matches(rest, fields, chosen):
            return True
    for field in candidates:
        if any(m.test(field.value) for m in matchers):
            if _branch_matches(rest, fields, {**chosen, **dict(field.membership)}):
                return True
    return False


def _matches_compiled(branches: list[Branch], event: Any) -> bool:
    fields = _flatten(event)
    return any(_branch_matches(sorted(branch.items()), fields, {}) for branch in branches)


def matches(pattern: dict | str, event: dict) -> bool:
    """True if ``event`` matches ``pattern`` (InvalidEventPattern if the pattern is bad)."""
    return _matches_compiled(_compile(pattern), event)


def describe_mismatch(pattern: dict | str, event: dict) -> str | None:
    """A short reason why ``event`` does not match ``pattern``; None when it matches."""
    branches = _compile(pattern)
    if _matches_compiled(branches, event):
        return None
    fields = _flatten(event)
    reasons = [_branch_reason(branch, fields) for branch in branches]
    if len(reasons) == 1:
        return reasons[0]
    return "no $or alternative matches: " + "; ".join(reasons)


def _branch_reason(branch: Branch, fields: dict[str, list[_Field]]) -> str:
    for name, matchers in sorted(branch.items()):
        present = fields.get(name, [])
        if not present:
            if any(m.kind == "absent" for m in matchers):
                continue
            return f"{name} is missing"
        if any(m.test(f.value) for f in present for m in matchers):
            continue
        if len(present) == 1:
            shown = json.dumps(present[0].value, ensure_ascii=False)
        else:
            shown = "[" + ", ".join(json.dumps(f.value, ensure_ascii=False) for f in present) + "]"
        return f"{name} {shown} " + " and ".join(m.text for m in matchers)
    return "the fields match separately but not within the same array element"


# --------------------------------------------------------------------------- S3 helpers


def _escape_wildcard(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*")


def s3_object_created_pattern(bucket: str, prefix: str | None = None, suffix: str | None = None) -> dict:
    """The EventBridge pattern for S3 "Object Created" events of ``bucket``.

    EventBridge refuses prefix and suffix in one matcher, so both together become a
    wildcard with the user's text escaped.
    """
    pattern: dict = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}},
    }
    if prefix and suffix:
        key: dict | None = {"wildcard": f"{_escape_wildcard(prefix)}*{_escape_wildcard(suffix)}"}
    elif prefix:
        key = {"prefix": prefix}
    elif suffix:
        key = {"suffix": suffix}
    else:
        key = None
    if key is not None:
        pattern["detail"]["object"] = {"key": [key]}
    validate_pattern(pattern)
    return pattern


def _event_time(time: datetime | str | None) -> str:
    if isinstance(time, str):
        return time
    moment = time or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def s3_object_created_event(
    bucket: str,
    key: str,
    size: int,
    *,
    etag: str = "b1946ac92492d2347c6235b4d2611184",
    sequencer: str = "617f08299329d189",
    region: str = "us-east-1",
    account: str = "123456789012",
    time: datetime | str | None = None,
    event_id: str | None = None,
    requester: str = "123456789012",
    source_ip: str = "1.2.3.4",
    version_id: str | None = None,
) -> dict:
    """An "Object Created" event shaped as S3 delivers it to EventBridge.

    Unlike S3's own (SQS/SNS/Lambda) notifications, EventBridge events carry the key
    as-is, not URL-encoded. Naive datetimes are taken to be UTC.
    """
    obj: dict = {"key": key, "size": size, "etag": etag}
    if version_id is not None:
        obj["version-id"] = version_id
    obj["sequencer"] = sequencer
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": _event_time(time),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": requester,
            "source-ip-address": source_ip,
            "reason": "PutObject",
        },
    }
