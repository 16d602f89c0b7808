"""A live explorer server on a free port of 127.0.0.1, with its own store."""

import threading

import pytest

from iclab.explore.server import ExploreServer


@pytest.fixture
def server(tmp_path):
    s = ExploreServer(0, tmp_path / "store.sqlite")
    thread = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield s
    s.shutdown()
    s.server_close()
    thread.join(5)
