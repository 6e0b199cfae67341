from snnsec.cli.main import main

raise SystemExit(main())
