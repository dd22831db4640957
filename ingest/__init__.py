"""Files → clean text + metadata → chunks. Knows nothing of indexes or HTTP."""
