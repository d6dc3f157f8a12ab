"""FIX data dictionaries (QuickFIX XML) as typed metadata, and message validation."""
