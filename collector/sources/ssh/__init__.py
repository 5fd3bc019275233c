"""SSH to network gear: running-config backups and CLI facts (netmiko + ntc-templates).

``session.fetch()`` is the only I/O (run it in a worker thread); everything else is pure:
``config_text`` normalises, masks, hashes and diffs configs, ``facts`` turns command outputs into
Dozor's fact records, ``platforms`` holds the device knowledge loaded from ``platforms.yaml``.
``schedule`` is the service, ``view`` its state for the exporter, ``store`` its records.
"""
