"""People and what they may do: accounts, sessions, API tokens, grants per knowledge base, the audit trail.

Everything here is the service's business; the index below only records each KB's visibility.
"""
