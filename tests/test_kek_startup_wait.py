"""Start-up sealing waits for another process that holds the database's write lock (``--workers``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kmsd.crypto import at_rest
from kmsd.crypto.policy import Policy
from kmsd.kmip.enums import CryptographicUsageMask as Mask
from kmsd.ops import kek
from kmsd.store import StoredObject
from kmsd.store.sqlite import SqliteStore

from .test_kek_at_rest import SECRET, V, raw, register_secret, server
from .test_rekey_wrap import create_aes


def test_sealing_waits_past_the_busy_timeout_for_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "kms.db"
    store = SqliteStore(path, busy_timeout_ms=100)  # far shorter than the other writer's hold
    other = SqliteStore(path)
    try:
        before = server(store)
        kek_uid = create_aes(before, V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
        secret_uid = register_secret(before, SECRET)
        holding, release = threading.Event(), threading.Event()

        def hold_the_write_lock() -> None:
            with other.transaction() as tx:
                tx.insert(StoredObject(uid="x", object_type=7, state=1, owner="o", payload=b"", attributes=b""))
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_write_lock)
        holder.start()
        assert holding.wait(10)
        timer = threading.Timer(1.0, release.set)  # ten busy timeouts later
        timer.start()
        try:
            configured = kek.configure(store, kek_uid, Policy())
        finally:
            release.set()
            holder.join()
            timer.cancel()
        assert configured is not None
        row = raw(path, secret_uid)
        assert SECRET not in row and at_rest.is_sealed(row)
    finally:
        store.close()
        other.close()


def test_sealing_gives_up_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kms.db"
    store = SqliteStore(path, busy_timeout_ms=50)
    other = SqliteStore(path)
    monkeypatch.setattr(kek, "SEAL_WAIT_SECONDS", 0.3)
    try:
        before = server(store)
        kek_uid = create_aes(before, V, usage=Mask.WRAP_KEY | Mask.UNWRAP_KEY)
        register_secret(before, SECRET)
        with other.transaction() as tx:
            tx.insert(StoredObject(uid="x", object_type=7, state=1, owner="o", payload=b"", attributes=b""))
            with pytest.raises(kek.KekConfigError, match="stayed busy"):
                kek.configure(store, kek_uid, Policy())
    finally:
        store.close()
        other.close()
