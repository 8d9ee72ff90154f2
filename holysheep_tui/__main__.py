from holysheep_tui.cli import main

raise SystemExit(main())
