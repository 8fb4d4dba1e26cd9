#!/bin/sh
# Assembles the container image's root filesystem from a built `offboard` binary: the
# binary (stripped), the shared libraries it links (glibc, libgcc), the CA certificates
# webhooks over HTTPS are verified with, a user to run as (offboard, uid 10001), the /data
# volume and the mount points a runtime fills. Nothing else: no shell, no package manager.
# The Containerfile runs it in its build stage; CI runs it to build the image without a
# container daemon (.ci/image).
#   deploy/rootfs.sh target/release/offboard OUT_DIR
set -eu
bin=$1
out=$2
mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/data" "$out/proc" "$out/sys" \
  "$out/dev" "$out/tmp"
cp "$bin" "$out/usr/local/bin/offboard"
strip --strip-all "$out/usr/local/bin/offboard"
# The loader and every library it resolves for the binary, at the paths it expects.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
  while read -r lib; do
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
  done
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/nonexistent\noffboard:x:10001:10001:offboard:/data:/nonexistent\n' \
  > "$out/etc/passwd"
printf 'root:x:0:\noffboard:x:10001:\n' > "$out/etc/group"
# Names resolve from the runtime's /etc/hosts, then DNS (its /etc/resolv.conf).
printf 'hosts: files dns\n' > "$out/etc/nsswitch.conf"
chmod 1777 "$out/tmp"
