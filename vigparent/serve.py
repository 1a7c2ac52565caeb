"""`make run`: the web server and a job consumer side by side, on http://127.0.0.1:5000.

Production runs the same two things, usually as two services: gunicorn for
`vigparent:create_app()` with `vigparent/gunicorn_config.py` (gevent workers, so slow phones
and idle connections cost no thread each) and `huey_consumer vigparent.worker.huey`.

gunicorn hands request bodies to the app straight from the socket. Some other WSGI servers
(waitress among them) spool large bodies to temporary files, which would put plaintext video
on disk before our encryption sees it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from urllib.parse import urlsplit

from vigparent.config import load_settings


def gunicorn_command(bind: str, python: str = sys.executable) -> list[str]:
    """The web server as deployed: gunicorn with our config (gevent workers) on ``bind``."""
    return [
        python, "-m", "gunicorn",
        "--config", "python:vigparent.gunicorn_config",
        "--bind", bind,
        "vigparent:create_app()",
    ]  # fmt: skip


def main() -> None:
    settings = load_settings()
    port = urlsplit(settings.base_url).port or 5000
    python = sys.executable
    consumer = subprocess.Popen(  # noqa: S603 - our own consumer, fixed arguments
        [python, "-m", "huey.bin.huey_consumer", "vigparent.worker.huey", "-w", "2", "-k", "thread"]
    )
    web = subprocess.Popen(gunicorn_command(f"127.0.0.1:{port}"))  # noqa: S603
    print(f"Serving on http://127.0.0.1:{port} (Ctrl+C to stop)", flush=True)

    def stop(*_args: object) -> None:
        for child in (web, consumer):
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        web.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in (web, consumer):
            child.wait(timeout=15)


if __name__ == "__main__":
    main()
