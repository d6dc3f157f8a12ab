"""The gateway: codec, sessions, store, transport, routing, replay, config, metrics, CLI."""
