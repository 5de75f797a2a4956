"""`python -m etl --JOB_NAME sales_etl --storage_root /tmp/lake ...` (same as etl.runtime)."""

from etl.runtime import main

raise SystemExit(main())
