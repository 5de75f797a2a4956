"""Where a stack's Great Expectations Data Docs live, and how one run's validation page is found.

One layout for the job that writes them (`etl.data_docs`), the job role that may write them
(`components.iam`), the alert that links to them (`contract.alerts`) and `lake docs`:

- `data-docs/<env>/` in the stack's artifacts bucket (locally, that bucket's folder): one
  prefix per stack, so stacks sharing an artifacts bucket keep their docs apart, and the job
  role's grant names exactly this prefix;
- below it `validations/` (GX's validation results store) and `site/` (GX's Data Docs site);
- `site/runs/<execution name>.html`: a link to the validation page of the run that runner
  execution started.

Why the link: the alert is an EventBridge input transformer, which can copy only fields of the
event and constants (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
The page's own path holds the suite, the Glue run id and the run's start time; the runner's
`Step Functions Execution Status Change` event carries none of them, but it carries the
execution's name (`detail.name`, https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
The runner passes that name to the job (`--execution_name` from the context object's
`$$.Execution.Name`, https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html),
and the job writes the link at a key made of it, so the alert can name the key. Execution
names are unique per state machine (StartExecution,
https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html); the
stack's triggers let Step Functions generate them (UUIDs) and `lake replay --cloud` names each
by its rule and key, so within a stack one name is one run. Locally the execution is the run:
its name is the run id.
"""

from __future__ import annotations

import re

VALIDATIONS = "validations/"
SITE = "site/"
RUN_LINKS = "runs/"
INDEX = "index.html"

# The job arguments that carry the location (an etl job's DefaultArguments) and the execution.
DATA_DOCS_BUCKET_ARGUMENT = "--data_docs_bucket"
DATA_DOCS_PREFIX_ARGUMENT = "--data_docs_prefix"
EXECUTION_NAME_ARGUMENT = "--execution_name"
# The warning a run's summary carries when its Data Docs could not be written.
DATA_DOCS_NOT_WRITTEN = "data_docs_not_written"

# What StartExecution accepts as a name (1-80 characters; none of whitespace, brackets,
# wildcards, `"#%\^|~`$&,;:/` or control characters), and so a single key segment: no `/` and
# no `\` can take the link out of its folder. "." and ".." are refused on top.
_EXECUTION_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


def data_docs_prefix(env: str) -> str:
    """The stack's Data Docs prefix in its artifacts bucket."""
    return f"data-docs/{env}/"


def data_docs_arguments(*, bucket: str, env: str) -> dict[str, str]:
    """The job arguments of where a job writes its Data Docs (the stack's artifacts bucket)."""
    return {DATA_DOCS_BUCKET_ARGUMENT: bucket, DATA_DOCS_PREFIX_ARGUMENT: data_docs_prefix(env)}


def check_execution_name(name: str) -> str | None:
    """A readable problem if `name` is no Step Functions execution name, else None."""
    if name in (".", "..") or not _EXECUTION_NAME.match(name):
        return (
            f"execution name {name!r} is invalid: 1-80 characters, no whitespace, brackets, "
            'wildcards, control characters or any of "#%\\^|~`$&,;:/'
        )
    return None


def run_link_key(prefix: str, execution_name: str) -> str:
    """The key, under the stack's Data Docs `prefix`, of the link to the validation page of the
    run `execution_name` started."""
    problem = check_execution_name(execution_name)
    if problem:
        raise ValueError(problem)
    return f"{prefix}{SITE}{RUN_LINKS}{execution_name}.html"


def run_links_location(root: str) -> str:
    """Where the run links are, given where the Data Docs prefix is (`s3://<bucket>/<prefix>`,
    or the prefix's folder locally): the constant part of the alert's link."""
    return f"{root.rstrip('/')}/{SITE}{RUN_LINKS}"
