#!/usr/bin/env python3
"""A local HTTP server for the `bark-cli download` tests (tests/test_download.cpp).

Serves the files under --root on 127.0.0.1 (an ephemeral port, written to --port-file once it
listens), with HTTP/1.1 Range requests, and misbehaves on request:

  --cut URL_PATH      the first response for URL_PATH stops half way through the body and the
                      connection is closed (repeat the option to cut several paths)
  --cut-times N       cut the first N responses of each --cut path instead of one
  --no-range          ignore Range headers (always 200 with the whole file)
  --status PATH=CODE  answer PATH with that HTTP status (e.g. 500)

Missing files get a 404. Every request is appended to --log as one JSON line
{"path": ..., "range": ... or null, "status": ...}. The server exits by itself after --timeout
seconds, so a test that dies never leaves it running.
"""
import argparse
import http.server
import json
import os
import socket
import sys
import threading
import urllib.parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cut", action="append", default=[])
    parser.add_argument("--cut-times", type=int, default=1)
    parser.add_argument("--no-range", action="store_true")
    parser.add_argument("--status", action="append", default=[])
    # a hostile mirror: these paths stream zeros without a Content-Length until the client hangs up
    parser.add_argument("--endless", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    root = os.path.abspath(args.root)
    cuts_left = {path: args.cut_times for path in args.cut}
    statuses = {}
    for item in args.status:
        path, code = item.rsplit("=", 1)
        statuses[path] = int(code)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *log_args):  # keep stderr quiet
            pass

        def record(self, status):
            with lock, open(args.log, "a", encoding="utf-8") as log:
                log.write(json.dumps({"path": self.url_path, "range": self.headers.get("Range"),
                                      "status": status}) + "\n")

        def send_body(self, status, body, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.record(status)

        def do_GET(self):
            self.url_path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if self.url_path in statuses:
                code = statuses[self.url_path]
                return self.send_body(code, b"error %d\n" % code)
            if self.url_path in args.endless:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                sent, chunk = 0, bytes(1 << 16)
                try:
                    while sent < (4 << 30):
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except OSError:
                    pass
                self.record("endless %d" % sent)
                return
            parts = [p for p in self.url_path.split("/") if p]
            local = os.path.join(root, *parts)
            if ".." in parts or not os.path.isfile(local):
                return self.send_body(404, b"Entry not found\n")
            size = os.path.getsize(local)
            start, status, headers = 0, 200, []
            header = self.headers.get("Range")
            if header and not args.no_range:
                spec = header.replace("bytes=", "", 1).split("-", 1)
                start = int(spec[0])
                if start >= size:
                    return self.send_body(416, b"", [("Content-Range", "bytes */%d" % size)])
                status = 206
                headers.append(("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size)))
            length = size - start
            cut = False
            with lock:
                if cuts_left.get(self.url_path, 0) > 0:
                    cuts_left[self.url_path] -= 1
                    cut = True
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            with open(local, "rb") as f:
                f.seek(start)
                if cut:
                    self.wfile.write(f.read(length // 2))
                    self.wfile.flush()
                    self.record("cut")
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
            self.record(status)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):  # a client hanging up is expected here
            pass

    server = Server(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    timer = threading.Timer(args.timeout, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
