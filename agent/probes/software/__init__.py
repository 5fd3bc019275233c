"""Software probes (see agent.probes.base for the module contract)."""
