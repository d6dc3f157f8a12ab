"""The C core's Python face: order book, SPSC ring, FIX framing, and their pure-Python twins."""
