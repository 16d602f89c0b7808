from iclab.cli import main

raise SystemExit(main())
