"""Chunks → a searchable knowledge base: embeddings, vector store, keyword index, hybrid retrieval."""
