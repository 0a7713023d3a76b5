"""Reading the run protocol from a synchronous WebSocket client, as the tests across real processes do."""
import base64
import json
import os
import socket
import time


def receive_until(ws, predicate, timeout=30):
    """Messages up to and including the first that satisfies ``predicate``."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv(timeout=timeout))
        got.append(msg)
        if predicate(msg):
            return got
    raise AssertionError("never arrived")


def events_of(messages, have=None):
    """The events the messages carry; a batch with "from" replaces what ``have`` holds from that seq on."""
    have = [] if have is None else have
    for m in messages:
        if m["type"] == "events":
            del have[m.get("from", len(have)):]
            have.extend(m["events"])
    return have


def raw_websocket(port):
    """A WebSocket client that does the handshake, sends what it is told, and then never reads."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/run/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
                  ).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert b" 101 " in response, response

    def send(message):
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else bytes([0x81, 0xFE]) + len(data).to_bytes(2, "big")
        sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    return sock, send


def drain(sock, seconds):
    """Read what a client that stopped reading had been sent, until the server lets go or ``seconds`` pass with
    nothing more: (bytes received, whether the server closed the connection)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
        return received, True
    except ConnectionResetError:
        return received, True  # let go: what it never read is dropped with the connection
    except TimeoutError:
        return received, False
