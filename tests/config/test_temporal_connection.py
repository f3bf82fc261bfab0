"""How workers and the API reach Temporal: plain in dev, API key or mTLS for Temporal Cloud."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from config.settings import Settings
from workers.temporal import tls_options


def test_dev_is_plain() -> None:
    assert tls_options(Settings()) == {"tls": False}


def test_an_api_key_implies_tls() -> None:
    assert tls_options(Settings(temporal_api_key="secret")) == {"tls": True, "api_key": "secret"}


def test_mtls_reads_the_certificate_and_key(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    options = tls_options(Settings(temporal_tls_cert=cert, temporal_tls_key=key))
    tls = options["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key) == (b"CERT", b"KEY")


def test_half_an_mtls_pair_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="both"):
        tls_options(Settings(temporal_tls_cert=tmp_path / "c.pem"))


def test_secrets_do_not_show_in_settings_repr() -> None:
    text = repr(Settings(temporal_api_key="sekrit", payload_keys="k1:abc"))
    assert "sekrit" not in text and "abc" not in text
