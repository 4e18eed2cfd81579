"""salesbot's HTTP adapter: the Litestar app, the dependency-injector container and the CLI."""
