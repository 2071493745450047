"""The PEC API on the engine: its operations table, flows, journal intents and clients."""
