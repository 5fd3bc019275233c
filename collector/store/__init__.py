"""Storage: engine and migrations, ORM models, and the store functions (each takes a session)."""
