#!/usr/bin/env python3
"""Runs an unpacked OCI image as a container runtime would, for .ci/image on machines
without one: the image's root read-only, volumes and the runtime's /etc/hosts and
/etc/resolv.conf mounted, /proc and the usual devices, then the configuration's user,
environment, working directory and entrypoint (or the given command). The host's network
is shared (as `--network host`).

Run it inside a private mount namespace, so nothing outlives the container:

    unshare --mount --fork --kill-child=SIGTERM \\
      python3 .ci/container-run.py --rootfs DIR --config CONFIG.json \\
        [--volume HOST:PATH[:ro]]... [--add-host NAME:ADDR]... [--env K=V]... [-- ARGS...]

ARGS replace the image's Cmd (the entrypoint stays), as `podman run IMAGE ARGS` does.
"""

import argparse
import json
import os
import signal
import sys
import subprocess
import tempfile


def mount(*args):
    subprocess.run(["mount", *args], check=True)


def mount_point(path, directory):
    if os.path.lexists(path):
        return
    if directory:
        os.makedirs(path)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rootfs", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--volume", action="append", default=[])
    p.add_argument("--add-host", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    root = os.path.abspath(a.rootfs)
    with open(a.config) as f:
        config = json.load(f)["config"]

    # Mount points the runtime provides, made before the root turns read-only.
    volumes = []
    for v in a.volume:
        parts = v.split(":")
        host, path = parts[0], parts[1]
        ro = len(parts) > 2 and parts[2] == "ro"
        mount_point(root + path, os.path.isdir(host))
        volumes.append((host, path, ro))
    for f in ["/etc/hosts", "/etc/resolv.conf", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"]:
        mount_point(root + f, False)

    mount("--bind", root, root)
    mount("-o", "remount,bind,ro", root)
    for host, path, ro in volumes:
        mount("--bind", host, root + path)
        if ro:
            mount("-o", "remount,bind,ro", root + path)
    hosts = tempfile.NamedTemporaryFile("w", delete=False, suffix=".hosts")
    hosts.write("127.0.0.1 localhost\n::1 localhost\n")
    for h in a.add_host:
        name, addr = h.split(":", 1)
        hosts.write(f"{addr} {name}\n")
    hosts.close()
    os.chmod(hosts.name, 0o644)
    mount("--bind", hosts.name, root + "/etc/hosts")
    mount("--bind", "/etc/resolv.conf", root + "/etc/resolv.conf")
    for dev in ["null", "zero", "urandom", "random"]:
        mount("--bind", f"/dev/{dev}", f"{root}/dev/{dev}")
    mount("-t", "proc", "proc", root + "/proc")

    env = {}
    for item in config.get("Env", []) + a.env:
        k, v = item.split("=", 1)
        env[k] = v
    user = config.get("User", "0:0")
    uid, _, gid = user.partition(":")
    uid, gid = int(uid), int(gid or uid)
    argv = config.get("Entrypoint", []) + (a.args or config.get("Cmd", []))

    # The runtime stays, as root, to hand signals on: a process that changes its user
    # loses the parent-death signal `unshare --kill-child` relies on.
    child = os.fork()
    if child == 0:
        os.chroot(root)
        os.chdir(config.get("WorkingDir") or "/")
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.execve(argv[0], argv, env)

    def forward(signum, _frame):
        os.kill(child, signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
