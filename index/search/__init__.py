"""Finding passages: tokenising, candidates, fusion, relevance, suggestions."""
