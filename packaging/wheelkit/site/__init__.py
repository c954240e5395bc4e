"""The site job: a wheelhouse for offline clusters (invoke wheelhouse.add, wheelhouse.rewrite, wheelhouse.index)."""
