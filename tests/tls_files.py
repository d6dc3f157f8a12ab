"""TLS files for tests, made with the openssl command."""

from __future__ import annotations

import subprocess
from pathlib import Path


def encrypted_self_signed(directory: Path, passphrase: str) -> tuple[Path, Path]:
    """Make ``directory/cert.pem``, a self-signed certificate for localhost (CN and
    subjectAltName IP 127.0.0.1, valid for a day), and ``directory/key.pem``, its RSA key
    encrypted with ``passphrase``; return (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-passout",
                    f"pass:{passphrase}", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
