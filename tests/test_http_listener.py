"""The HTTP listener in process: limits, timeouts, bounded keep-alive, containment, shutdown."""

from __future__ import annotations

import json

import trio

from kmsd.http.listener import Connection, HttpListener, HttpSettings
from kmsd.http.wire import Request, Response

HOST = "127.0.0.1"


async def _handler(request: Request, conn: Connection) -> Response:
    if request.path == "/boom":
        raise RuntimeError("secret internals")
    return Response.json({"path": request.path, "body": len(request.body), "tls": conn.tls})


async def _exchange(port: int, data: bytes, *, read_until_close: bool = True) -> bytes:
    stream = await trio.open_tcp_stream(HOST, port)
    try:
        await stream.send_all(data)
        out = b""
        with trio.move_on_after(5):
            while chunk := await stream.receive_some(65536):
                out += chunk
                if not read_until_close:
                    break
        return out
    finally:
        await stream.aclose()


async def _serve(settings: HttpSettings, nursery: trio.Nursery) -> tuple[HttpListener, int]:
    listener = HttpListener(_handler, None, settings)
    addresses = await nursery.start(listener.serve, HOST, 0)
    return listener, addresses[0][1]


async def test_keep_alive_is_bounded_and_errors_are_contained() -> None:
    settings = HttpSettings(
        max_requests=2, max_body=100, header_timeout=0.5, body_timeout=0.5, idle_timeout=0.5, shutdown_grace=1
    )
    async with trio.open_nursery() as nursery:
        listener, port = await _serve(settings, nursery)
        three = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n" * 3
        answer = await _exchange(port, three)
        assert answer.count(b"HTTP/1.1 200") == 2  # the third request is not served on this connection
        assert b"connection: close" in answer.lower()

        answer = await _exchange(port, b"GET /boom HTTP/1.1\r\nhost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 500")
        assert b"secret" not in answer and b"Traceback" not in answer
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body == {"error": {"code": "internal_error", "message": "internal server error"}}

        answer = await _exchange(
            port, b"POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n200\r\n" + b"x" * 512
        )
        assert answer.startswith(b"HTTP/1.1 413")

        answer = await _exchange(port, b"GET /a HTTP/1.1\r\nhost: x\r\n")  # head never completed
        assert answer.startswith(b"HTTP/1.1 408")

        answer = await _exchange(port, b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
        assert answer.startswith(b"HTTP/1.1 408")
        listener.shutdown()
        with trio.fail_after(5):
            await listener.wait_stopped()


async def test_shutdown_ends_idle_connections() -> None:
    settings = HttpSettings(idle_timeout=60, shutdown_grace=1)
    async with trio.open_nursery() as nursery:
        listener, port = await _serve(settings, nursery)
        stream = await trio.open_tcp_stream(HOST, port)
        await stream.send_all(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n")
        first = await stream.receive_some(65536)
        assert first.startswith(b"HTTP/1.1 200")
        listener.shutdown()
        with trio.fail_after(5):
            await listener.wait_stopped()
            assert await stream.receive_some(65536) == b""  # closed by the server, not by a timeout
        await stream.aclose()
