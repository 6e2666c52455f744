"""Use cases shared by the API and the CLI: each function is one thing a user does."""
