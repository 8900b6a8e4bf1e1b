"""The web dashboard: server-rendered pages over the services, mounted at the server's root (see mount)."""
