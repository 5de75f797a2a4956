"""`python -m data_platform.cli`: the same as the `lake` command."""

from data_platform.cli.app import main

raise SystemExit(main())
