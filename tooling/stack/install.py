"""Install what the stack needs: Debian packages through apt-get, and Kafka's jars from
Maven Central through Maven, downloaded once into a cache dir shared by every checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .process import ServiceError
from .services.base import Say

# Another apt-get (or unattended-upgrades) may hold the dpkg lock: wait for it, not fail.
APT = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-q", "--no-install-recommends"]


def apt_install(packages: Iterable[str], say: Say) -> None:
    pkgs = sorted(set(packages))
    if not pkgs:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceError(
            f"missing Debian packages {' '.join(pkgs)}; install them as root "
            f"(apt-get install {' '.join(pkgs)}) or point PRISM_*_URL at existing servers"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"apt-get install {' '.join(pkgs)}")
    first = subprocess.run([*APT, "install", *pkgs], env=env, capture_output=True, text=True)
    if first.returncode == 0:
        return
    # A fresh machine has no package lists yet ("Unable to locate package"): update once.
    say("apt-get update (package lists missing or stale)")
    subprocess.run([*APT, "update"], env=env, capture_output=True, text=True, check=False)
    again = subprocess.run([*APT, "install", *pkgs], env=env, capture_output=True, text=True)
    if again.returncode != 0:
        raise ServiceError(f"apt-get install {' '.join(pkgs)} failed:\n{again.stderr[-2000:]}")


def java_major() -> int | None:
    """The major version of `java` on PATH, or None when there is none."""
    if shutil.which("java") is None:
        return None
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" means Java 8


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "prism"


POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- written by tooling/stack: resolves Kafka's broker and its runtime dependencies -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.prism.stack</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <!-- kafka_2.13 logs through slf4j without a binding: the binary distribution adds
         reload4j; without it the broker prints nothing at all. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
"""

# "Downloaded from central: https://.../kafka-clients-3.9.1.jar (5.6 MB at 1.2 MB/s)"
_DOWNLOADED = re.compile(r"Downloaded from \S+: \S+/([^/\s]+\.jar) \(([\d.]+ [kMG]?B)\b")


def _bytes(size: str) -> float:
    """Maven's "334 kB" / "1.2 MB" / "512 B" as a number of bytes."""
    number, unit = size.split()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def parse_download(line: str) -> tuple[str, float] | None:
    """(jar name, bytes) from one line of Maven's output, if it reports a jar download."""
    m = _DOWNLOADED.search(line)
    return (m.group(1), _bytes(m.group(2))) if m else None


def kafka_libs(version: str, say: Say) -> Path:
    """`<cache>/kafka-<version>/libs`, every jar the broker needs; fetched on first use."""
    home = cache_root() / f"kafka-{version}"
    libs = home / "libs"
    if (home / ".complete").exists():
        say(f"using cached jars in {libs}")
        return libs
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (`mvn`) is needed to fetch Kafka from Maven Central")
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(POM.format(version=version))
    staging = home / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    say(f"fetching org.apache.kafka:kafka_2.13:{version} and its dependencies with Maven")
    argv = [
        "mvn", "-B", "-f", str(home / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    files, total = 0, 0.0
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-40:]
        if got := parse_download(line):
            # Maven's plugins arrive too (~120 jars on a cold ~/.m2): one line per 20 jars.
            files, total = files + 1, total + got[1]
            if files % 20 == 1:
                say(f"downloading ... {files} jars, {total / 1e6:.1f} MB so far ({got[0]})")
    if files:
        say(f"downloaded {files} jars, {total / 1e6:.1f} MB")
    if proc.wait() != 0:
        raise ServiceError("Maven could not fetch Kafka:\n" + "\n".join(tail))
    jars = sorted(staging.glob("*.jar"))
    if not any(j.name.startswith(f"kafka_2.13-{version}") for j in jars):
        raise ServiceError(f"Maven ran but no kafka_2.13-{version}.jar in {staging}")
    size = sum(j.stat().st_size for j in jars) / 1e6
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    (home / ".complete").write_text(f"{len(jars)} jars\n")  # written last: a complete cache
    say(f"cached {len(jars)} jars ({size:.0f} MB) in {libs}")
    return libs
