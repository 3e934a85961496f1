"""Use cases: one request's worth of work in the caller's transaction. They never commit."""
