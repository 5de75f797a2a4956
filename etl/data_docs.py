"""Great Expectations Data Docs of the quality gate's validations, built by GX's own site builder.

Layout, under one prefix of one bucket (the stack's artifacts bucket, `data-docs/<env>/`; the
same bucket and prefix in a local lake home, whose buckets are folders; `contract.data_docs`):
- `validations/...json`: each validation result, in the layout of GX's validation results
  store (`<suite parts>/<run name>/<run time>/<batch>.json`: GX's `TupleFilesystemStoreBackend`
  writes it; we never derive the path ourselves);
- `site/`: the Data Docs site (`index.html`, one page per validation, `static/`), written by
  GX's `SiteBuilder` with its default renderers and page views;
- `site/runs/<execution name>.html`: a link to the page of the run that runner execution
  started (a redirect, so it opens the page), at a key the run's alert can name.

Why the copy through a temporary folder: GX 1.x stores and sites have a filesystem backend
only (its S3 backends were removed in 1.0), and the jobs reach S3 through `etl.storage`. So a
build mirrors the stored validations into a temporary GX store, lets GX build the site there,
and writes the files back through the same `Storage` that writes every other job output.
"""

from __future__ import annotations

import html
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from data_platform.contract.data_docs import INDEX, SITE, VALIDATIONS, run_link_key
from data_platform.contract.data_docs import data_docs_prefix as docs_prefix
from etl.storage import Storage

__all__ = ["INDEX_LIMIT", "DataDocs", "SiteBuild", "ValidationPage", "docs_prefix", "link_target"]

SITE_NAME = "lake"
# A file GX writes with the site's static assets: when it exists the assets are not written again.
STATIC_MARKER = "static/styles/data_docs_default_styles.css"
# The index of a cloud site lists at most this many validations (the newest): a build reads
# each listed validation, and a job must not slow down as the history grows.
INDEX_LIMIT = 200
# GX writes an id file into each store folder; it is not a validation.
_STORE_ID_FILE = ".ge_store_backend_id"


@dataclass(frozen=True)
class ValidationPage:
    """Where one validation's page is, relative to the site root and as a storage key."""

    relative_path: str  # e.g. validations/sales_etl/quality/<run>/<time>/sales_etl.html
    key: str  # the page's key in the docs bucket


@dataclass(frozen=True)
class SiteBuild:
    """What one build wrote: the index's key, and the page of each run it rendered (by run
    name; the newest validation's, for a run that has several)."""

    index: str
    pages: Mapping[str, ValidationPage]


def _context(store_dir: Path, site_dir: Path) -> Any:
    """An in-process GX context whose validation results store and Data Docs site are folders."""
    from great_expectations.data_context import EphemeralDataContext
    from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

    in_memory = {"class_name": "InMemoryStoreBackend"}
    config = DataContextConfig(
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": in_memory},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": in_memory},
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(store_dir)},
            },
        },
        expectations_store_name="expectations_store",
        checkpoint_store_name="checkpoint_store",
        validation_results_store_name="validation_results_store",
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,  # no usage events and no tracking id in the pages
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return EphemeralDataContext(project_config=config)


def _identifier(suite: str, run_id: str, run_time: datetime, batch: str) -> Any:
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    return ValidationResultIdentifier(
        ExpectationSuiteIdentifier(name=suite), RunIdentifier(run_name=run_id, run_time=run_time), batch
    )


def _result(validation: Mapping[str, Any], identifier: Any) -> Any:
    """The stored dict as GX's result object, its run named (the page shows run name and time)."""
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    result = ExpectationSuiteValidationResultSchema().load(dict(validation))
    result.meta = {**(result.meta or {}), "run_id": identifier.run_id}
    return result


class DataDocs:
    """The Data Docs of one stack: its stored validations and its site, in `bucket`/`prefix`."""

    def __init__(self, storage: Storage, bucket: str, prefix: str) -> None:
        self.storage, self.bucket, self.prefix = storage, bucket, prefix

    def store(self, validation: Mapping[str, Any], *, run_id: str, run_time: datetime, batch: str) -> ValidationPage:
        """Keep one gate validation (GX's result dict) and return where its page will be."""
        identifier = _identifier(str(validation.get("suite_name") or batch), run_id, run_time, batch)
        with tempfile.TemporaryDirectory(prefix="data-docs-") as tmp:
            store_dir, site_dir = Path(tmp, "validations"), Path(tmp, "site")
            context = _context(store_dir, site_dir)
            context.validation_results_store.set(identifier, _result(validation, identifier))
            for path in _files(store_dir):
                relative = path.relative_to(store_dir).as_posix()
                self.storage.write_bytes(self.bucket, self.prefix + VALIDATIONS + relative, path.read_bytes())
            page = _page_path(_site_builder(context), identifier, site_dir)
        return ValidationPage(page, self.prefix + SITE + page)

    def publish(
        self, validation: Mapping[str, Any], *, run_id: str, run_time: datetime, batch: str, execution_name: str | None
    ) -> ValidationPage:
        """What a job does with the validation it quarantined: keep it, render its page and the
        index (of the newest INDEX_LIMIT), then link the page under the runner execution's
        name. The link comes last, so it never points at a page that is not there."""
        page = self.store(validation, run_id=run_id, run_time=run_time, batch=batch)
        self.build(pages=[page], limit=INDEX_LIMIT)
        if execution_name:
            self.link_run(execution_name, page)
        return page

    def link_run(self, execution_name: str, page: ValidationPage) -> str:
        """Write the link to `page` named after the runner execution; returns its key. A rerun
        by the same execution (the runner's retry of a failed run) replaces it."""
        key = run_link_key(self.prefix, execution_name)
        self.storage.write_bytes(self.bucket, key, _link_html(execution_name, page))
        return key

    def build(self, *, pages: Sequence[ValidationPage] | None = None, limit: int | None = None) -> SiteBuild:
        """Build the site from the stored validations: the index and either every page or only
        `pages` (a job builds its own). `limit` keeps the newest validations in the index."""
        with tempfile.TemporaryDirectory(prefix="data-docs-") as tmp:
            store_dir, site_dir = Path(tmp, "validations"), Path(tmp, "site")
            for key in self._stored_validations(limit):
                target = store_dir / key[len(self.prefix + VALIDATIONS) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.storage.read_bytes(self.bucket, key))
            context = _context(store_dir, site_dir)
            # Oldest first, so that a run with several validations ends up with its newest page.
            keys = sorted(context.validation_results_store.list_keys(), key=lambda i: (i.run_id.run_time, i.to_tuple()))
            builder = _site_builder(context)
            paths = {i: _page_path(builder, i, site_dir) for i in keys}
            wanted = None if pages is None else {p.relative_path for p in pages}
            identifiers = [i for i, path in paths.items() if wanted is None or path in wanted]
            # GX's index lists the pages present in the site folder: the pages this build does
            # not render stand there as empty files, so the index keeps linking to them, and
            # only what was rendered is written back.
            placeholders = set() if wanted is None else {path for path in paths.values() if path not in wanted}
            for placeholder in placeholders:
                (site_dir / placeholder).parent.mkdir(parents=True, exist_ok=True)
                (site_dir / placeholder).touch()
            context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=identifiers or None)
            static_present = self.storage.exists(self.bucket, self.prefix + SITE + STATIC_MARKER)
            for path in _files(site_dir):
                relative = path.relative_to(site_dir).as_posix()
                if relative in placeholders or (relative.startswith("static/") and static_present):
                    continue
                self.storage.write_bytes(self.bucket, self.prefix + SITE + relative, path.read_bytes())
        built = {
            str(i.run_id.run_name): ValidationPage(path, self.prefix + SITE + path)
            for i, path in paths.items()
            if path not in placeholders
        }
        return SiteBuild(self.prefix + SITE + INDEX, built)

    def stored_runs(self) -> set[str]:
        """The run names of the stored validations (the third-last segment of GX's store key)."""
        return {key.rsplit("/", 3)[-3] for key in self._stored_validations(None)}

    def _stored_validations(self, limit: int | None) -> list[str]:
        keys = [
            o.key
            for o in self.storage.list_objects(self.bucket, self.prefix + VALIDATIONS)
            if o.key.endswith(".json") and not o.key.endswith(_STORE_ID_FILE)
        ]
        # The run time is the second-last path segment (GX formats it sortably: 20261202T060000.000000Z).
        keys.sort(key=lambda k: (k.rsplit("/", 2)[-2], k), reverse=True)
        return keys if limit is None else keys[:limit]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != _STORE_ID_FILE) if root.exists() else []


def _site_builder(context: Any) -> Any:
    """The site's builder, as `get_docs_sites_urls` loads it. That public call loads a new one
    for every page it names, and a job's build names every page of its index: loaded once, the
    same builder names them all (GX is pinned by the lock)."""
    return context._load_site_builder_from_site_config(context.variables.data_docs_sites[SITE_NAME])


def _page_path(builder: Any, identifier: Any, site_dir: Path) -> str:
    """The page's path relative to the site root, as GX's site builder names it."""
    url = builder.get_resource_url(resource_identifier=identifier, only_if_exists=False)
    root = site_dir.resolve().as_uri().rstrip("/") + "/"
    if not url.startswith(root):
        raise RuntimeError(f"GX placed the page of {identifier} outside its site: {url}")
    return url[len(root) :]


# The link's target, as `_link_html` writes it (and `link_target` reads it back).
_CANONICAL = re.compile(r'<link rel="canonical" href="([^"]*)">')


def _link_html(execution_name: str, page: ValidationPage) -> bytes:
    """A page that sends the browser to `page` (relative, so it works wherever the site is
    copied) and names the page's key, for `aws s3 presign` of the page itself."""
    href = html.escape("../" + quote(page.relative_path, safe="/"), quote=True)
    name, key = html.escape(execution_name), html.escape(page.key)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="refresh" content="0; url={href}">\n'
        f'<link rel="canonical" href="{href}">\n'
        f"<title>Validation of execution {name}</title></head>\n"
        f'<body><p>The Data Docs validation page of runner execution {name}: <a href="{href}">{key}</a></p>'
        "</body></html>\n"
    ).encode()


def link_target(link: bytes) -> str | None:
    """The page a run link (`DataDocs.link_run`) points at, relative to the link's folder."""
    found = _CANONICAL.search(link.decode("utf-8", errors="replace"))
    return unquote(html.unescape(found.group(1))) if found else None
