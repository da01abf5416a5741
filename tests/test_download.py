"""Downloads against a real HTTP server on loopback that honours Range requests."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from build_index.download import RemoteFile, download
from pslindex.errors import PslError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(BaseHTTPRequestHandler):
    body = PAYLOAD
    cut_at = None  # send only this many bytes, as a dropped connection would

    def do_GET(self):  # noqa: N802 (http.server's naming)
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.split("=")[1].split("-")[0])
        body = self.body[start:]
        if self.cut_at is not None:
            body = body[: max(0, self.cut_at - start)]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/uniprot_sprot.dat.gz"
    httpd.shutdown()
    RangeHandler.cut_at = None


def remote(url):
    return RemoteFile(url, len(PAYLOAD), hashlib.md5(PAYLOAD).hexdigest())


def test_download_and_verify(server, tmp_path):
    dest = download(remote(server), tmp_path / "f.gz", progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.gz.part").exists()


def test_dropped_connection_then_resume(server, tmp_path):
    RangeHandler.cut_at = 300_000
    with pytest.raises(PslError, match=r"f\.gz\.part: 300000 bytes, expected 1048576 .* run again to resume"):
        download(remote(server), tmp_path / "f.gz", progress=False)
    assert not (tmp_path / "f.gz").exists()
    RangeHandler.cut_at = None
    dest = download(remote(server), tmp_path / "f.gz", progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_partial(server, tmp_path):
    wrong = RemoteFile(server, len(PAYLOAD), "0" * 32)
    with pytest.raises(PslError, match="MD5 mismatch"):
        download(wrong, tmp_path / "f.gz", progress=False)
    assert not (tmp_path / "f.gz").exists() and not (tmp_path / "f.gz.part").exists()


def test_unreachable_server(tmp_path):
    with pytest.raises(PslError, match="cannot download"):
        download(RemoteFile("http://127.0.0.1:9/x.gz", 10, None), tmp_path / "x.gz", progress=False, timeout=2)
