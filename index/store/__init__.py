"""Where a KB's data lives: SQLite (the source of truth), the vectors, the BM25 matrix."""
