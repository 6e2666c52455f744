"""Model serving: loading cache, input validation, online and batch prediction."""
