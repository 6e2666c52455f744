"""Alerts on deployed models: rules over monitored signals, evaluated by every API process in turn
(:mod:`.evaluator`), notified by signed webhooks (:mod:`.delivery`) and exported to Prometheus
(:mod:`.prometheus`). What a signal's value is comes from the sources registered in
:mod:`.signals`."""
