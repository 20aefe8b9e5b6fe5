"""`make run`: the development supervisor and the embedded engines it starts (imports only config)."""
