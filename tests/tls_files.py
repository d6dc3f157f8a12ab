"""TLS files for tests, made with the openssl command."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(directory: Path, passphrase: str | None = None) -> tuple[Path, Path]:
    """Make ``directory/cert.pem``, a self-signed certificate for localhost (CN and
    subjectAltName IP 127.0.0.1, valid for a day), and ``directory/key.pem``, its RSA key,
    encrypted with ``passphrase`` if one is given; return (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    protect = ["-passout", f"pass:{passphrase}"] if passphrase is not None else ["-nodes"]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", *protect, "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
