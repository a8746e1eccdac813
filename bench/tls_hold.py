#!/usr/bin/python3
"""tls_hold.py N HOST PORT — open N TLS connections to HOST:PORT, send one
OPTIONS over each (answered), print "ready", hold them until stdin
closes (bench_tls.sh measures the server's memory meanwhile)."""
import resource
import socket
import ssl
import sys

n, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
for i in range(n):
    t = ctx.wrap_socket(socket.create_connection((host, port), timeout=5),
                        server_hostname=host)
    t.sendall((f"OPTIONS sip:{host}:{port};transport=tls SIP/2.0\r\n"
               f"Via: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKh{i}\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:hold@127.0.0.1>;tag=1\r\n"
               f"To: <sip:{host}>\r\nCall-ID: hold{i}\r\nCSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n").encode())
    if not t.recv(4096).startswith(b"SIP/2.0 200"):
        sys.exit(f"connection {i}: no 200 to OPTIONS")
    held.append(t)
print("ready", flush=True)
sys.stdin.read()
