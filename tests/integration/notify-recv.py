#!/usr/bin/env python3
"""A stand-in for systemd's notification socket: receives sd_notify datagrams
on the given path and appends each one to the output file, one per line."""
import os
import socket
import sys

path, output = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(output, "a", buffering=1) as out:
    while True:
        message = sock.recv(4096).decode(errors="replace")
        for line in message.splitlines():
            out.write(line + "\n")
