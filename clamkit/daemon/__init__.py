"""The clamd daemon: the network process (server), the scanner processes (pool, worker)
and what they need around them (log, listeners, lifecycle, walk, VirusEvent)."""
