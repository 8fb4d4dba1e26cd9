#!/usr/bin/env python3
"""Packs a root filesystem (deploy/rootfs.sh's) into an OCI image layout, without a
container daemon: one layer, the image configuration the Containerfile declares (user,
environment, entrypoint, volume, ports, health check), a manifest and an index, plus the
layout as one tar that `podman load` and `docker load` take.

    deploy/oci-layout.py ROOTFS OUT_DIR [--tag offboard:latest]

Files are owned by root and read-only to the service's user, except /data (10001) and
/tmp; times are fixed, so the same rootfs gives the same image digest.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import tarfile

UID = 10001
EPOCH = 0

# What the Containerfile says; kept here for the daemonless build. A test of the image
# (.ci/image) runs it as a runtime would read it.
CONFIG = {
    "User": f"{UID}:{UID}",
    "Env": [
        "PATH=/usr/local/bin",
        "OFFBOARD_LISTEN=0.0.0.0:8080",
        "OFFBOARD_METRICS_LISTEN=0.0.0.0:9464",
        "OFFBOARD_DATABASE_URL=sqlite:///data/offboard.db?mode=rwc",
        "SQLITE_TMPDIR=/data",
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    ],
    "Entrypoint": ["/usr/local/bin/offboard"],
    "Cmd": ["serve"],
    "WorkingDir": "/data",
    "ExposedPorts": {"8080/tcp": {}, "9464/tcp": {}},
    "Volumes": {"/data": {}},
    "StopSignal": "SIGTERM",
    "Healthcheck": {
        "Test": ["CMD", "/usr/local/bin/offboard", "healthcheck"],
        "Interval": 30_000_000_000,
        "Timeout": 10_000_000_000,
        "StartPeriod": 10_000_000_000,
        "Retries": 3,
    },
    "Labels": {
        "org.opencontainers.image.title": "offboard",
        "org.opencontainers.image.description": "SCIM 2.0 deprovisioning service",
        "org.opencontainers.image.licenses": "Apache-2.0",
    },
}


def layer(rootfs):
    """The rootfs as a tar (entries sorted, owners and times fixed)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, name))
        for path in sorted(paths):
            rel = os.path.relpath(path, rootfs)
            info = tar.gettarinfo(path, arcname=rel)
            info.mtime = EPOCH
            info.uname = info.gname = ""
            owned = rel == "data"
            info.uid = info.gid = UID if owned else 0
            if info.isdir():
                info.mode = 0o1777 if rel == "tmp" else 0o755
            elif info.isreg():
                executable = info.mode & stat.S_IXUSR
                info.mode = 0o755 if executable else 0o644
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return f"sha256:{digest}", len(data)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rootfs")
    p.add_argument("out")
    p.add_argument("--tag", default="offboard:latest")
    a = p.parse_args()
    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)

    tar = layer(a.rootfs)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    compressed = gzip.compress(tar, compresslevel=9, mtime=EPOCH)
    layer_digest, layer_size = blob(a.out, compressed)

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": CONFIG,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "deploy/rootfs.sh + deploy/oci-layout.py"}],
    }
    config_digest, config_size = blob(a.out, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = blob(a.out, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": a.tag},
            }
        ],
    }
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f, sort_keys=True)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    archive = a.out.rstrip("/") + ".tar"
    with tarfile.open(archive, "w") as t:
        for name in sorted(os.listdir(a.out)):
            t.add(os.path.join(a.out, name), arcname=name)
    print(
        json.dumps(
            {
                "manifest": manifest_digest,
                "layer": layer_digest,
                "compressed_bytes": layer_size,
                "unpacked_bytes": len(tar),
                "archive": archive,
            }
        )
    )


if __name__ == "__main__":
    main()
