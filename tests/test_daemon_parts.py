"""The daemon's parts without a daemon: root health, mount types, config checks, sd_notify."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from neardupd.config import load_config
from neardupd.errors import ConfigError
from neardupd.guard import EMPTY, HEALTHY, OTHER_DEVICE, VANISHED, root_health
from neardupd.notify import Notifier
from neardupd.watcher import is_network, mount_type


def test_root_health_tells_vanished_empty_and_another_device(tmp_path):
    root = tmp_path / "photos"
    assert root_health(bytes(root), None) == (VANISHED, None)
    root.mkdir()
    device = os.stat(root).st_dev
    assert root_health(bytes(root), None) == (EMPTY, device)
    (root / "a.jpg").write_bytes(b"x")
    assert root_health(bytes(root), device) == (HEALTHY, device)
    assert root_health(bytes(root), device + 1)[0] == OTHER_DEVICE


def test_network_mounts_are_found_in_the_mount_table(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\nnas:/photos /mnt/nas nfs4 rw 0 0\n"
                      "//box/share /mnt/smb\\040share cifs rw 0 0\nsshfs#me@h: /mnt/ssh fuse.sshfs rw 0 0\n")
    assert mount_type(b"/mnt/nas/2019/a.jpg", str(mounts)) == "nfs4"
    assert mount_type(b"/mnt/smb share/x", str(mounts)) == "cifs"
    assert mount_type(b"/home/me", str(mounts)) == "ext4"
    assert [is_network(kind) for kind in ("nfs4", "cifs", "fuse.sshfs", "ext4", "btrfs")] == \
        [True, True, True, False, False]


@pytest.mark.parametrize(("text", "named"), [("[daemon]\nworkers = 0\n", "daemon.workers"),
                                             ("[daemon]\nmissing_share = 2\n", "daemon.missing_share"),
                                             ("[daemon]\nroots = \"/srv\"\n", "daemon.roots"),
                                             ("[daemon]\nquiet = 1\n", "quiet")])
def test_bad_daemon_settings_are_named(tmp_path, text, named):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=named):
        load_config(path)


def test_a_long_start_up_step_asks_systemd_for_more_time_until_it_ends(tmp_path):
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(10)
        with Notifier({"NOTIFY_SOCKET": address}).start_extended("upgrading", every=0.01):
            asked = [listener.recv(4096).decode() for _ in range(4)]  # again and again while it runs
    assert set(asked) == {"EXTEND_TIMEOUT_USEC=30000\nSTATUS=upgrading"}
    assert "start-extended" not in [thread.name for thread in threading.enumerate()]


def test_a_process_asked_to_stop_asks_systemd_for_no_more_time(tmp_path):
    address = str(tmp_path / "notify")
    stop = threading.Event()
    stop.set()  # SIGTERM came: TimeoutStopSec applies, an upgrade under way is not waited for
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        with Notifier({"NOTIFY_SOCKET": address}).start_extended("upgrading", every=0.01, stop=stop):
            pass
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # the thread has ended: whatever it sent is here
            listener.recv(4096)


def test_daemon_settings_load(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text('[daemon]\nroots = ["/srv/a", "/srv/b"]\nquiet_period = 2\nexclude = ["*.tmp"]\n')
    daemon = load_config(path).daemon
    assert daemon.roots == ("/srv/a", "/srv/b") and daemon.quiet_period == 2.0 and daemon.exclude == ("*.tmp",)


def test_notifications_reach_a_real_datagram_socket(tmp_path):
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "30000000"})
        assert notifier.watchdog_seconds == 30.0
        notifier.ready("watching")
        assert listener.recv(4096).decode().splitlines()[:2] == ["READY=1", "STATUS=watching"]
        notifier.watchdog()
        assert listener.recv(4096) == b"WATCHDOG=1"
        for _ in range(1000):  # nobody reads: the notifier drops messages rather than block
            notifier.status("busy")
