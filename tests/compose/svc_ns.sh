#!/bin/bash
# svc_ns.sh WORK HOSTS MOUNTS -- CMD... — one compose service's container
# file view for the twin, in the mount namespace the caller made with
# `unshare -m`: the real /etc minus its hosts file, HOSTS as /etc/hosts,
# and each MOUNTS line ("SRC<TAB>TARGET<TAB>ro|rw") bind-mounted at TARGET.
# Targets must lie under /etc (private here) or /srv and /opt (tmpfs the
# twin mounted in its own namespace): nothing of the machine is written.
set -euo pipefail
work=$1 hosts=$2 mounts=$3
[ "${4:-}" = -- ] || { echo "usage: svc_ns.sh WORK HOSTS MOUNTS -- CMD..." >&2; exit 2; }
shift 4
real=$work/real-etc
mkdir -p "$real"
mount --bind /etc "$real"
mount -t tmpfs -o mode=755 tmpfs /etc
shopt -s nullglob
ln -s "$real"/* "$real"/.[!.]* /etc/ # one process: this runs once per service command
rm -f /etc/hosts
cp "$hosts" /etc/hosts
while IFS=$'\t' read -r src dst mode; do
    [ -n "$src" ] || continue
    case $dst in /etc/*|/srv/*|/opt/*) ;; *) echo "twin: cannot mount at $dst" >&2; exit 2;; esac
    parent=$(dirname "$dst")
    mkdir -p "$parent"
    # a parent that is a link into the real /etc would put the mount point there
    case $(readlink -f "$parent") in /etc|/etc/*|/srv|/srv/*|/opt|/opt/*) ;;
        *) echo "twin: $dst leaves the private tree" >&2; exit 2;; esac
    if [ -d "$src" ]; then mkdir -p "$dst"; else : > "$dst"; fi
    mount --bind "$src" "$dst"
    [ "$mode" != ro ] || mount -o remount,bind,ro "$dst"
done < "$mounts"
exec "$@"
