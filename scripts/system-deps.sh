#!/bin/sh
# Install the Debian packages the tests need (real Secret Service, tmux, chromium for the HTML export), only
# when missing.
# Idempotent: a quick no-op when everything is present. Needs root (or sudo) to install.
set -eu

PACKAGES="dbus gnome-keyring libsecret-tools tmux chromium"

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $pkg" ;;
    esac
done

# gnome-keyring needs a session bus provider; without one apt would pick dbus-user-session (systemd).
if [ -n "$missing" ]; then
    have_session_bus=no
    for pkg in dbus-user-session dbus-x11; do
        if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            have_session_bus=yes
        fi
    done
    if [ "$have_session_bus" = no ]; then
        missing="$missing dbus-x11"
    fi
fi

if [ -z "$missing" ]; then
    echo "system-deps: all present ($PACKAGES)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing:$missing, and apt-get is not available; install them another way" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "system-deps: missing:$missing; run this script as root to install them" >&2
        exit 1
    fi
fi

echo "system-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
echo "system-deps: apt-get update"
$SUDO apt-get update -q
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $missing
echo "system-deps: done"
