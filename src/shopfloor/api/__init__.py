"""The HTTP API: FastAPI app, dependencies, routes and the one problem+json handler."""
