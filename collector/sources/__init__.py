"""Where facts about network devices come from: one folder per source (snmp, ssh, discovery), each
with its engine, its schedule (the service), its view (for the exporters) and its store functions."""
