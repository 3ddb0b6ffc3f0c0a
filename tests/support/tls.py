"""A test certificate authority and server certificates for loopback servers.

The egress client trusts the CA through SECOND_EGRESS_EXTRA_CA, a PEM file, so
it verifies test servers by host name exactly as it verifies real ones.
"""

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TestCA:
    """A trustme CA and the path of its PEM file."""

    __test__ = False  # Not a pytest test class, despite its name.

    ca: trustme.CA
    pem_path: Path

    def issue(self, *names: str) -> trustme.LeafCert:
        """Issue a server certificate for `names` (host names or IP addresses)."""
        return self.ca.issue_cert(*names)

    def server_context(self, *names: str) -> ssl.SSLContext:
        """Return a server-side TLS context presenting a certificate for `names`."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.issue(*names).configure_cert(context)
        return context


def make_test_ca(directory: Path) -> TestCA:
    """Create a CA and write its certificate to `directory`/test-ca.pem."""
    ca = trustme.CA()
    pem_path = Path(directory) / "test-ca.pem"
    ca.cert_pem.write_to_path(str(pem_path))
    return TestCA(ca=ca, pem_path=pem_path)
