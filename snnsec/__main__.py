from snnsec.cli.main import entry

raise SystemExit(entry())
