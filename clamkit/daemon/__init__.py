"""The clamd daemon: network process (server), scanner processes (pool, worker) and their plumbing."""
