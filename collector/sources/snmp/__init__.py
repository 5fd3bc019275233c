"""SNMP polling: a bounded async session, device profiles as data, and one poll per device."""
