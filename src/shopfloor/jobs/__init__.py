"""Jobs: a state machine in the registry and runners that execute them outside the API process."""
