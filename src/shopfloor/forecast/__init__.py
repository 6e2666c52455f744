"""Demand forecasting: panels of series, candidate models, rolling-origin backtests and intervals."""
