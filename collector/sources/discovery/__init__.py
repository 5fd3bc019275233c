"""LAN discovery: sweep configured subnets (``sweep``), then match what answered and the switches'
forwarding tables to known devices and access ports (``correlate``, pure)."""
