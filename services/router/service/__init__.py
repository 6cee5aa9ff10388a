"""Service layer: handlers that load state, call the pure domain and store the outcome."""
