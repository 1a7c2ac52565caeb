"""Per-family data keys: creation, wrapping, crypto-shredding, rotation, master key files."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from vigparent.keyring import (
    DataKeyMissing,
    Keyring,
    KeyUnwrapError,
    MasterKeyError,
    load_or_create_master_key,
    master_key_from_b64,
)


@pytest.fixture
def master() -> bytes:
    return os.urandom(32)


@pytest.fixture
def keyring(tmp_path: Path, master: bytes) -> Keyring:
    return Keyring(tmp_path / "keys", master)


def test_data_key_is_created_once_and_stored_wrapped(
    keyring: Keyring, master: bytes, tmp_path: Path
) -> None:
    key = keyring.data_key(7)

    assert len(key) == 32
    assert keyring.data_key(7) == key
    assert Keyring(tmp_path / "keys", master).data_key(7, create=False) == key
    path = tmp_path / "keys" / "7.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key not in path.read_bytes()


def test_families_get_different_keys(keyring: Keyring) -> None:
    assert keyring.data_key(1) != keyring.data_key(2)
    assert keyring.family_ids() == [1, 2]


def test_missing_key_is_not_created_on_read(keyring: Keyring) -> None:
    with pytest.raises(DataKeyMissing):
        keyring.data_key(3, create=False)
    assert not keyring.has_key(3)
    assert keyring.family_ids() == []


def test_destroy_shreds_the_key_and_is_idempotent(keyring: Keyring, tmp_path: Path) -> None:
    old = keyring.data_key(4)
    stale_tmp = tmp_path / "keys" / ".4.key.0123456789abcdef.tmp"
    stale_tmp.write_bytes((tmp_path / "keys" / "4.key").read_bytes())

    assert keyring.destroy(4) is True
    assert keyring.destroy(4) is False
    assert not keyring.has_key(4)
    assert not stale_tmp.exists(), "a leftover temporary copy would undo the shredding"
    with pytest.raises(DataKeyMissing):
        keyring.data_key(4, create=False)
    assert keyring.data_key(4) != old


def test_destroy_leaves_other_families_alone(keyring: Keyring) -> None:
    keep = keyring.data_key(10)
    keyring.data_key(1)
    keyring.destroy(1)
    assert keyring.data_key(10, create=False) == keep
    assert keyring.family_ids() == [10]


def test_key_file_moved_to_another_family_does_not_unwrap(keyring: Keyring, tmp_path: Path) -> None:
    keyring.data_key(1)
    keyring.data_key(2)
    keys = tmp_path / "keys"
    (keys / "2.key").write_bytes((keys / "1.key").read_bytes())

    with pytest.raises(KeyUnwrapError, match="another family"):
        keyring.data_key(2, create=False)


def test_tampered_or_truncated_key_file_is_refused(keyring: Keyring, tmp_path: Path) -> None:
    keyring.data_key(1)
    path = tmp_path / "keys" / "1.key"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(KeyUnwrapError):
        keyring.data_key(1)
    path.write_bytes(bytes(blob[:20]))
    with pytest.raises(KeyUnwrapError, match="damaged"):
        keyring.data_key(1)


def test_wrong_master_key_is_reported_as_such(keyring: Keyring, tmp_path: Path) -> None:
    keyring.data_key(1)
    with pytest.raises(KeyUnwrapError, match="different master key"):
        Keyring(tmp_path / "keys", os.urandom(32)).data_key(1)


def test_two_keyrings_creating_the_same_family_agree(tmp_path: Path, master: bytes) -> None:
    a = Keyring(tmp_path / "keys", master)
    b = Keyring(tmp_path / "keys", master)
    assert a.data_key(5) == b.data_key(5)


def test_rewrap_all_keeps_keys_and_retires_the_old_master(
    keyring: Keyring, master: bytes, tmp_path: Path
) -> None:
    keys = {fid: keyring.data_key(fid) for fid in (1, 2, 3)}
    new_master = os.urandom(32)

    assert keyring.rewrap_all(new_master) == 3

    assert {fid: keyring.data_key(fid, create=False) for fid in keys} == keys
    fresh = Keyring(tmp_path / "keys", new_master)
    assert {fid: fresh.data_key(fid, create=False) for fid in keys} == keys
    with pytest.raises(KeyUnwrapError):
        Keyring(tmp_path / "keys", master).data_key(1, create=False)
    for path in (tmp_path / "keys").glob("*.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_interrupted_rewrap_can_be_run_again(tmp_path: Path, master: bytes) -> None:
    keyring = Keyring(tmp_path / "keys", master)
    keys = {fid: keyring.data_key(fid) for fid in (1, 2)}
    new_master = os.urandom(32)
    # Simulate a crash after one file: family 1 under the new master, family 2 under the old.
    half = Keyring(tmp_path / "keys", master)
    (tmp_path / "keys" / "1.key").write_bytes(half._wrap(1, keys[1], new_master))

    assert Keyring(tmp_path / "keys", master).rewrap_all(new_master) == 2

    fresh = Keyring(tmp_path / "keys", new_master)
    assert {fid: fresh.data_key(fid, create=False) for fid in keys} == keys


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33, "x" * 32])
def test_keyring_refuses_a_bad_master_key(tmp_path: Path, bad: object) -> None:
    with pytest.raises(MasterKeyError):
        Keyring(tmp_path / "keys", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("family_id", [-1, True, "1", 1.0])
def test_keyring_refuses_odd_family_ids(keyring: Keyring, family_id: object) -> None:
    with pytest.raises(ValueError):
        keyring.data_key(family_id)  # type: ignore[arg-type]


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "master.key"
    key = load_or_create_master_key(path)

    assert len(key) == 32
    assert path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]


def test_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(path)
    path.chmod(0o640)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        load_or_create_master_key(path)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_master_key_file_of_wrong_length_is_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(os.urandom(size))
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match="32 raw bytes"):
        load_or_create_master_key(path)


def test_master_key_from_b64_accepts_common_spellings() -> None:
    key = bytes(range(250, 256)) + os.urandom(26)
    for text in (
        base64.b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode().rstrip("="),
        " " + base64.b64encode(key).decode() + "\n",
    ):
        assert master_key_from_b64(text) == key


@pytest.mark.parametrize(
    "text", ["", "not base64!", base64.b64encode(b"x" * 16).decode(), "QUJD" * 20]
)
def test_master_key_from_b64_refuses_bad_input_without_echoing_it(text: str) -> None:
    with pytest.raises(MasterKeyError) as caught:
        master_key_from_b64(text)
    if text:
        assert text not in str(caught.value)
