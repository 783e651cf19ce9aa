"""A kernel-side HTTP/1.0 responder for the TCP benchmarks: answers one GET on port 8000
with N zero bytes (argv[1]), written from a 1 MiB buffer, then exits."""
import socket
import sys

n = int(sys.argv[1])
buf = memoryview(bytes(1 << 20))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8000))
s.listen(1)
c, _ = s.accept()
c.recv(4096)
c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
while n > 0:
    k = c.send(buf[: min(n, len(buf))])
    n -= k
c.close()
