"""The test evaluator (`tests/iam_eval.py`) against AWS's documented examples, before any test
relies on it. Each case cites the page whose example and stated outcome it reproduces."""

from __future__ import annotations

import pytest
from iam_eval import Decision, Request, UnsupportedCondition, evaluate

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
# "AllowGetList allows read-only access to IAM actions that begin with Get and List ... all other
# actions such as iam:CreatePolicy are implicitly denied. DenyReports explicitly denies ... actions
# that include the Report suffix, such as iam:GetOrganizationsAccessReport."
EXPLICIT_VS_IMPLICIT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
    ],
}


@pytest.mark.parametrize(
    ("action", "decision"),
    [
        ("iam:GetUser", ALLOW),
        ("iam:ListRoles", ALLOW),
        ("iam:CreatePolicy", IMPLICIT),
        ("iam:GetOrganizationsAccessReport", EXPLICIT),
        ("iam:GenerateCredentialReport", EXPLICIT),
        ("IAM:getuser", ALLOW),  # action names are case-insensitive
    ],
)
def test_explicit_deny_wins_and_no_allow_is_an_implicit_deny(action, decision):
    assert evaluate(Request(action, "*"), [EXPLICIT_VS_IMPLICIT]) is decision


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_s3_home-directory-console.html
# (programmatic part): list the root and home/ with delimiter '/', list anything under the
# user's own folder, and every object action inside it.
HOME_DIRECTORY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowRootAndHomeListingOfCompanyBucket",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition": {"StringEquals": {"s3:prefix": ["", "home/", "home/${aws:username}/"], "s3:delimiter": ["/"]}},
        },
        {
            "Sid": "AllowListingOfUserFolder",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
            "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}},
        },
        {
            "Sid": "AllowAllS3ActionsInUserFolder",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*",
        },
    ],
}
BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"
DAVID = {"aws:username": "David"}


@pytest.mark.parametrize(
    ("action", "resource", "context", "decision"),
    [
        ("s3:ListBucket", BUCKET, {"s3:prefix": "home/", "s3:delimiter": "/"}, ALLOW),
        ("s3:ListBucket", BUCKET, {"s3:prefix": "", "s3:delimiter": "/"}, ALLOW),
        ("s3:ListBucket", BUCKET, {"s3:prefix": "home/David/", "s3:delimiter": "/"}, ALLOW),
        # Without the delimiter key the StringEquals block is false: a key absent from the context.
        ("s3:ListBucket", BUCKET, {"s3:prefix": "home/"}, IMPLICIT),
        ("s3:ListBucket", BUCKET, {"s3:prefix": "home/David/photos/"}, ALLOW),
        ("s3:ListBucket", BUCKET, {"s3:prefix": "home/Bob/"}, IMPLICIT),
        # No prefix in the context at all (what S3 checks before answering 404 for a missing key).
        ("s3:ListBucket", BUCKET, {}, IMPLICIT),
        ("s3:GetObject", f"{BUCKET}/home/David/notes.txt", {}, ALLOW),
        ("s3:PutObject", f"{BUCKET}/home/David/a/b.txt", {}, ALLOW),
        ("s3:GetObject", f"{BUCKET}/home/Bob/notes.txt", {}, IMPLICIT),
        ("s3:GetObject", f"{BUCKET}/HOME/David/notes.txt", {}, IMPLICIT),  # resources are case-sensitive
    ],
)
def test_s3_home_directory_example(action, resource, context, decision):
    assert evaluate(Request(action, resource, {**DAVID, **context}), [HOME_DIRECTORY]) is decision


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
# "If the key that you specify in a policy condition is not present in the request context, the
# values do not match and the condition is false. If the policy condition requires that the key
# is not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
# condition is true. This logic applies to all condition operators except ...IfExists and Null."
@pytest.mark.parametrize(
    ("operator", "decision_without_key"),
    [
        ("StringEquals", IMPLICIT),
        ("StringLike", IMPLICIT),
        ("ArnLike", IMPLICIT),
        ("ArnEquals", IMPLICIT),
        ("StringNotEquals", ALLOW),
        ("StringNotLike", ALLOW),
        ("ArnNotLike", ALLOW),
        ("StringEqualsIfExists", ALLOW),
        ("StringLikeIfExists", ALLOW),
    ],
)
def test_a_key_absent_from_the_context(operator, decision_without_key):
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": "*",
                "Condition": {operator: {"aws:SourceArn": "arn:aws:events:*:111122223333:rule/x"}},
            }
        ]
    }
    assert evaluate(Request("sns:Publish", "arn:aws:sns:us-east-1:111122223333:t"), [policy]) is decision_without_key


def test_null_tests_presence():
    policy = {
        "Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Null": {"aws:SourceAccount": "true"}}},
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
        ]
    }
    assert evaluate(Request("sqs:SendMessage", "q"), [policy]) is EXPLICIT
    assert evaluate(Request("sqs:SendMessage", "q", {"aws:SourceAccount": "1"}), [policy]) is ALLOW


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
# Several operators and keys: AND; several values of one key: OR.
def test_operators_and_keys_are_anded_values_ored():
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": BUCKET,
                "Condition": {"StringLike": {"s3:prefix": ["a/*", "b/*"]}, "StringEquals": {"s3:delimiter": "/"}},
            }
        ]
    }
    assert evaluate(Request("s3:ListBucket", BUCKET, {"s3:prefix": "b/x", "s3:delimiter": "/"}), [policy]) is ALLOW
    assert evaluate(Request("s3:ListBucket", BUCKET, {"s3:prefix": "c/x", "s3:delimiter": "/"}), [policy]) is IMPLICIT
    assert evaluate(Request("s3:ListBucket", BUCKET, {"s3:prefix": "a/x", "s3:delimiter": ","}), [policy]) is IMPLICIT


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html
# (enforce encryption in transit): deny every action when aws:SecureTransport is false.
def test_tls_only_bucket_policy_denies_plain_http_only():
    deny = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [BUCKET, f"{BUCKET}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
    allow = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}]}
    # No aws:SecureTransport in the context: the Deny's condition is false, the Allow decides.
    assert evaluate(Request("s3:GetObject", f"{BUCKET}/k"), [allow, deny]) is ALLOW
    assert evaluate(Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "false"}), [allow, deny]) is EXPLICIT
    assert evaluate(Request("s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": "true"}), [allow, deny]) is ALLOW


def test_wildcards_question_mark_and_not_action():
    policy = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b?/k*"}]}
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::b1/key"), [policy]) is ALLOW
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::b12/key"), [policy]) is IMPLICIT
    assert evaluate(Request("iam:GetUser", "arn:aws:s3:::b1/key"), [policy]) is IMPLICIT


def test_an_unknown_operator_is_refused_not_guessed():
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "x*"}},
            }
        ]
    }
    with pytest.raises(UnsupportedCondition):
        evaluate(Request("s3:GetObject", "x", {"aws:TagKeys": ["xa"]}), [policy])
