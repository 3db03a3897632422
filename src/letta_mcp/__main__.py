from letta_mcp.cli import main

raise SystemExit(main())
