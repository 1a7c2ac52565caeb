"""`make run`: the web server and a job consumer side by side, on http://127.0.0.1:5000.

Production runs the same two things separately: a WSGI server (waitress or gunicorn) for
`vigparent:create_app()` and `huey_consumer vigparent.worker.huey`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from waitress import serve

from vigparent import create_app


def main() -> None:
    app = create_app()
    consumer_bin = Path(sys.executable).with_name("huey_consumer")
    consumer = subprocess.Popen(  # noqa: S603 - our own consumer, fixed arguments
        [str(consumer_bin), "vigparent.worker.huey", "--workers", "2", "--worker-type", "thread"]
    )

    def stop(*_args: object) -> None:
        consumer.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    base = urlsplit(app.extensions["vig_settings"].base_url)
    print(f"Serving on {base.scheme}://{base.hostname}:{base.port or 5000} (Ctrl+C to stop)")
    try:
        serve(
            app,
            host="127.0.0.1",
            port=base.port or 5000,
            threads=8,
            # Uploads stream through the app; waitress must not buffer whole bodies in memory.
            inbuf_overflow=1 << 20,
            max_request_body_size=app.extensions["vig_settings"].max_upload_bytes + (1 << 20),
            channel_timeout=300,
            ident="vigparent",
        )
    finally:
        consumer.terminate()
        consumer.wait(timeout=10)


if __name__ == "__main__":
    main()
