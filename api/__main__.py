"""``python -m api``: serve the API with uvicorn, on ANVIL_HOST:ANVIL_PORT (127.0.0.1:8000)."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from api.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
