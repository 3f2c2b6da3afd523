"""Apache Kafka in KRaft mode, one combined broker+controller: clients on 127.0.0.1:29092,
the controller on 29093. Runs from Maven Central jars (fetched once into the cache dir, see
install.kafka_libs) on Java 17, so no Kafka binary distribution is needed.

Version 3.9.x: the last line that still speaks the older protocol versions some Python
clients (aiokafka) use; Kafka 4 removed them (KIP-896). Override with PRISM_KAFKA_VERSION.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import struct
import subprocess
import uuid
from pathlib import Path

from .. import install
from ..process import ServiceError
from .base import HOST, Say, Service

VERSION = os.environ.get("PRISM_KAFKA_VERSION", "3.9.1")
NODE_ID = 1
HEAP = ["-Xms256m", "-Xmx512m"]


def server_properties(data: Path, port: int, controller_port: int) -> str:
    return f"""\
# written by tooling/stack: single-node KRaft (combined broker + controller), loopback only
process.roles=broker,controller
node.id={NODE_ID}
controller.quorum.voters={NODE_ID}@{HOST}:{controller_port}
listeners=PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}
advertised.listeners=PLAINTEXT://{HOST}:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data / "logs"}
# One node: every replication factor and ISR minimum is 1, or internal topics never form.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
num.partitions=1
group.initial.rebalance.delay.ms=0
# After a kill, the restarted broker is refused (DUPLICATE_BROKER_REGISTRATION) until the
# old incarnation's session expires: 3s instead of 9s keeps kill-and-restart tests short.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
# Topics come from provisioning; auto-creation would hide a missing provisioning step.
auto.create.topics.enable=false
"""


LOG4J = """\
# written by tooling/stack: INFO to stdout (the stack's kafka.log), chatty loggers quieter
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.raft=WARN
log4j.logger.kafka.server.epoch=WARN
"""


def cluster_id() -> str:
    # Kafka's Uuid.toString: 16 random bytes, URL-safe base64 without padding; Kafka
    # itself never hands out one that starts with '-' (it would parse as a flag).
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class Kafka(Service):
    name = "kafka"
    env_var = "PRISM_KAFKA_BOOTSTRAP"
    port = 29092
    controller_port = 29093
    ready_timeout = 120.0
    stop_timeout = 60.0

    def url(self) -> str:
        return f"{HOST}:{self.port}"

    def ports(self) -> list[int]:
        return [self.port, self.controller_port]

    def missing_packages(self) -> list[str]:
        missing = []
        if install.java_major() is None:
            missing.append("openjdk-17-jre-headless")
        if shutil.which("mvn") is None:
            missing.append("maven")
        return missing

    def prepare(self, data: Path, say: Say) -> None:
        major = install.java_major()
        if major is None or major < 17:
            raise ServiceError(f"kafka needs Java 17 or newer on PATH (found: {major})")
        self._libs = install.kafka_libs(VERSION, say)
        data.mkdir(parents=True, exist_ok=True)
        props = data / "server.properties"
        props.write_text(server_properties(data, self.port, self.controller_port))
        (data / "log4j.properties").write_text(LOG4J)
        if (data / "logs" / "meta.properties").exists():
            return  # formatted before: a restart keeps the cluster id and the data
        cid = cluster_id()
        say(f"formatting KRaft storage (cluster id {cid})")
        out = subprocess.run(
            [*self._java(data), "kafka.tools.StorageTool", "format", "-t", cid, "-c", str(props)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if out.returncode != 0:
            raise ServiceError(f"kafka storage format failed:\n{out.stdout}{out.stderr}")

    def _java(self, data: Path) -> list[str]:
        libs = getattr(self, "_libs", None) or install.kafka_libs(VERSION, lambda _: None)
        return [
            "java", *HEAP,
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{data / 'log4j.properties'}",
            f"-Dkafka.logs.dir={data}",
            "-cp", f"{libs}/*",
        ]  # fmt: skip

    def command(self, data: Path) -> list[str]:
        return [*self._java(data), "kafka.Kafka", str(data / "server.properties")]

    def ready(self, data: Path) -> bool:
        brokers, controller = metadata(HOST, self.port)
        return (HOST, self.port) in brokers and controller >= 0


def metadata(host: str, port: int) -> tuple[list[tuple[str, int]], int]:
    """A Kafka Metadata v1 request for no topics, by hand: (brokers, controller id).

    A broker lists itself only once it is registered and unfenced with the controller,
    i.e. when producers and admin clients will actually be served.
    """
    client = b"prism-stack"
    body = struct.pack(">i", 0)  # topics: empty array (v1: null would mean all topics)
    header = struct.pack(">hhih", 3, 1, 7, len(client)) + client
    request = header + body
    with socket.create_connection((host, port), timeout=3) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", _recv(s, 4))[0]
        buf = _recv(s, size)
    pos = 4  # correlation id
    (count,) = struct.unpack_from(">i", buf, pos)
    pos += 4
    brokers = []
    for _ in range(count):
        _node, hlen = struct.unpack_from(">ih", buf, pos)
        pos += 6
        bhost = buf[pos : pos + hlen].decode()
        pos += hlen
        (bport, rack_len) = struct.unpack_from(">ih", buf, pos)
        pos += 6 + max(rack_len, 0)
        brokers.append((bhost, bport))
    (controller,) = struct.unpack_from(">i", buf, pos)
    return brokers, controller


def _recv(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("kafka closed the connection")
        data += chunk
    return data
