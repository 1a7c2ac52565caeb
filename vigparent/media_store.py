"""The app's single MediaStore and Keyring, built from settings."""

from __future__ import annotations

from flask import Flask, current_app

from vigparent.config import Settings
from vigparent.keyring import Keyring
from vigparent.storage import MediaStore


def init_app(app: Flask, settings: Settings) -> None:
    keyring = Keyring(settings.key_dir, settings.master_key)
    app.extensions["vig_keyring"] = keyring
    app.extensions["vig_store"] = MediaStore(settings.media_dir, keyring)


def store() -> MediaStore:
    s: MediaStore = current_app.extensions["vig_store"]
    return s


def keyring() -> Keyring:
    k: Keyring = current_app.extensions["vig_keyring"]
    return k
