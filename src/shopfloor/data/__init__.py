"""Dataset ingestion: streamed upload, parsing, profiling and training-request checks."""
