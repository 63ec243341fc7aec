"""Package-manager parsers against recorded outputs (tests/data/packages, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.packages import parsers
from lifecycle.packages.check import BEGIN, FAMILY, RELEASE, SPLIT, dispatch_script, parse_listing
from lifecycle.packages.report import APK, APT, BY_ID, DNF, TDNF, OsRelease, PackageReport, family_of

DATA = Path(__file__).resolve().parents[1] / "data" / "packages"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name, family, pretty", [
    ("os-release-debian-12", APT, "Debian GNU/Linux 12 (bookworm)"),
    ("os-release-azurelinux-3.0", TDNF, "Microsoft Azure Linux 3.0"),
    ("os-release-mariner-2.0", TDNF, "CBL-Mariner/Linux"),
    ("os-release-fedora-40", DNF, "Fedora Linux 40 (Container Image)"),
    ("os-release-alpine-3.20", APK, "Alpine Linux v3.20"),
])
def test_family_comes_from_os_release(name, family, pretty):
    release = OsRelease.parse(read(name))
    assert family_of(release) == family
    assert release.pretty == pretty


def test_id_like_decides_for_a_derivative_and_unknown_is_none():
    assert family_of(OsRelease.parse('ID=pop\nID_LIKE="ubuntu debian"\n')) == APT
    assert family_of(OsRelease.parse("ID=linuxmint\nID_LIKE=ubuntu\n")) == APT
    assert family_of(OsRelease.parse("ID=nixos\n")) is None
    assert family_of(OsRelease({})) is None
    assert OsRelease.parse("ID=debian\nVERSION_CODENAME=bookworm\n").codename == "bookworm"


def test_apt_recorded_debian_12_check_all_security():
    updates = parsers.parse_apt(read("apt-debian-12-dist-upgrade.txt"))
    assert len(updates) == 15 and all(u.security for u in updates)
    by = {u.name: u for u in updates}
    assert by["zlib1g"].installed == "1:1.2.13.dfsg-1" and by["zlib1g"].available == "1:1.2.13.dfsg-1+deb12u1"
    assert by["perl-base"].origin == "Debian-Security:12/oldstable-security"
    assert set(by) >= {"apt", "libpam0g", "liblzma5", "tzdata", "libperl5.36"}


def test_apt_security_is_told_apart_by_origin():
    by = {u.name: u for u in parsers.parse_apt(read("apt-mixed-origins.txt"))}
    assert set(by) == {"base-files", "tzdata", "libssl3", "libc6"}  # a NEW dependency is no pending update
    assert not by["base-files"].security and not by["tzdata"].security
    assert by["libssl3"].security and by["libssl3"].origin == "Debian:12.12/oldstable, Debian-Security:12/oldstable-security"
    assert by["libc6"].security


def test_tdnf_every_update_counts_as_security_and_wrapped_lines_join():
    updates = parsers.parse_tdnf(read("tdnf-azurelinux-3.0-list-updates.txt"))
    by = {u.name: u for u in updates}
    assert len(updates) == 8 and all(u.security for u in updates)
    assert by["openssl-libs"].available == "3.3.2-1.azl3" and by["openssl-libs"].origin == "azurelinux-official-base"
    assert by["ca-certificates-microsoft-base-with-a-long-name"].available == "3.0.0-9.azl3"
    assert [u.name for u in parsers.parse_tdnf(read("tdnf-mariner-2.0-list-updates.txt"))] == \
        ["expat", "expat-libs", "krb5", "libxml2"]


def test_dnf_security_from_updateinfo_and_obsoletes_ignored():
    updates = parsers.parse_dnf(read("dnf-fedora-40-check-update.txt"), read("dnf-fedora-40-updateinfo-security.txt"))
    by = {u.name: u for u in updates}
    assert set(by) == {"curl", "libcurl", "openssl-libs", "python3", "tzdata"}
    assert {n for n, u in by.items() if u.security} == {"curl", "libcurl", "openssl-libs"}
    assert by["openssl-libs"].available == "1:3.2.2-3.fc40"


def test_apk_on_a_stable_branch_counts_as_security_on_edge_not():
    updates = parsers.parse_apk(read("apk-alpine-3.20-version.txt"))
    by = {u.name: u for u in updates}
    assert set(by) == {"busybox", "busybox-binsh", "ca-certificates-bundle", "libcrypto3", "libssl3"}
    assert by["libcrypto3"].installed == "3.3.2-r0" and by["libcrypto3"].available == "3.3.2-r1"
    assert all(u.security for u in updates)
    assert not any(u.security for u in parsers.parse_apk(read("apk-alpine-3.20-version.txt"), stable_branch=False))


def test_parse_listing_reads_what_follows_the_marker_per_family():
    noise = "Get:1 http://deb.debian.org/debian bookworm InRelease\nInst fake [1] (2 Debian-Security:x/y-security [all])\n"
    text = noise + BEGIN + "\n" + read("apt-debian-12-dist-upgrade.txt")
    assert len(parse_listing(APT, OsRelease({}), text)) == 15
    dnf = BEGIN + "\n" + read("dnf-fedora-40-check-update.txt") + SPLIT + "\n" + read("dnf-fedora-40-updateinfo-security.txt")
    assert len([u for u in parse_listing(DNF, OsRelease({}), dnf) if u.security]) == 3
    edge = OsRelease.parse("ID=alpine\nVERSION_ID=3.21_alpha20240807\n")
    assert not any(u.security for u in parse_listing(APK, edge, BEGIN + "\n" + read("apk-alpine-3.20-version.txt")))


def test_dispatch_script_maps_every_known_id_and_frames_its_output():
    script = dispatch_script()
    for os_id, family in BY_ID.items():
        line = next(x for x in script.splitlines() if f"fam={family};" in x)
        assert os_id in line.split(")")[0].strip().split("|")
    assert script.index(RELEASE) < script.index(FAMILY) < script.index(BEGIN)
    assert "debian-security %s-security" in script and "-s -q dist-upgrade" in script


def test_report_summary_and_top():
    report = PackageReport(digest="sha256:x", os="Debian", family=APT,
                           pending=parsers.parse_apt(read("apt-mixed-origins.txt")))
    assert report.top() == ["libc6", "libssl3", "base-files", "tzdata"]
    assert report.summary() == "apt: 4 pending, 2 security (libc6, libssl3, base-files, tzdata)"
    assert report.to_dict()["security"] == 2 and report.checked
    assert not PackageReport(family=APT, error="apt check exited 3").checked
    assert PackageReport(os="BusyBox").summary() == "no known package manager (BusyBox)"


@pytest.mark.parametrize("name, family", [("os-release-debian-12", APT), ("os-release-azurelinux-3.0", TDNF),
                                          ("os-release-mariner-2.0", TDNF), ("os-release-fedora-40", DNF),
                                          ("os-release-alpine-3.20", APK)])
def test_dispatch_script_picks_the_same_family_in_a_real_shell(name, family, tmp_path):
    import subprocess

    script = dispatch_script().replace("/etc/os-release", str(DATA / name)).replace("/usr/lib/os-release", "/nonexistent")
    head = script[: script.index(FAMILY)] + FAMILY + '$fam"\n'  # up to the family line: no package manager runs
    done = subprocess.run(["sh", "-c", head], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(FAMILY + family)
    assert OsRelease.parse(done.stdout.split(RELEASE, 1)[1].split(FAMILY, 1)[0]) == OsRelease.parse(read(name))
