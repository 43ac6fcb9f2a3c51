"""The real Apache Kafka broker (KRaft, single node, combined mode) from Maven Central jars."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from pathlib import Path

from devstack.config import StackConfig
from devstack.proc import StackError, read_pid, run, spawn, stop_pidfile, wait_port

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
"""

LOG4J2 = """\
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="WARN"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
"""


def _dir(cfg: StackConfig) -> Path:
    return cfg.local / "kafka"


def _pidfile(cfg: StackConfig) -> Path:
    return cfg.run_dir / "kafka.pid"


def _log(cfg: StackConfig) -> Path:
    return cfg.log_dir / "kafka.log"


def ensure_jars(cfg: StackConfig) -> Path:
    """Fetch the broker's jars once (mvn dependency:copy-dependencies) into .local/kafka/libs."""
    libs = _dir(cfg) / "libs"
    marker = libs / ".complete"
    pom = cfg.root / "deploy" / "kafka" / "pom.xml"
    if marker.exists() and marker.read_text() == pom.read_text():
        return libs
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise StackError(
                f"{tool} is not installed; Kafka needs Java 17+ and Maven (apt-get install default-jdk maven)"
            )
    print(f"devstack: fetching Kafka jars from Maven Central into {libs} …", flush=True)
    if libs.exists():
        shutil.rmtree(libs)
    run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
    )
    marker.write_text(pom.read_text())
    return libs


def _java_cmd(cfg: StackConfig, libs: Path, main: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={_dir(cfg) / 'log4j2.xml'}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def _configure(cfg: StackConfig, libs: Path) -> Path:
    kdir = _dir(cfg)
    data = kdir / "data"
    props = kdir / "server.properties"
    props.write_text(
        SERVER_PROPERTIES.format(port=cfg.kafka_port, controller_port=cfg.kafka_controller_port, data=data)
    )
    (kdir / "log4j2.xml").write_text(LOG4J2)
    if not (data / "meta.properties").exists():
        data.mkdir(parents=True, exist_ok=True)
        cluster_id = _cluster_id()
        run(
            _java_cmd(
                cfg,
                libs,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                f"--cluster-id={cluster_id}",
                "-c",
                str(props),
            )
        )
    return props


def _cluster_id() -> str:
    """A random cluster id as Kafka writes them (URL-safe base64 of a UUID), never starting with "-": the
    storage tool would read such an id as an option (one start in 64 failed that way)."""
    import base64

    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found


def is_running(cfg: StackConfig) -> bool:
    return read_pid(_pidfile(cfg)) is not None


def start(cfg: StackConfig, timeout: float = 90.0) -> None:
    if is_running(cfg):
        return
    libs = ensure_jars(cfg)
    props = _configure(cfg, libs)
    print(f"devstack: starting Kafka on {cfg.kafka_bootstrap} (log {_log(cfg)})", flush=True)
    spawn("kafka", _java_cmd(cfg, libs, "kafka.Kafka", str(props)), _pidfile(cfg), _log(cfg))
    wait_port(cfg.kafka_port, timeout, "Kafka", alive=_pidfile(cfg), log=_log(cfg))
    asyncio.run(ensure_topics(cfg.kafka_bootstrap, timeout=timeout))


def stop(cfg: StackConfig) -> bool:
    return stop_pidfile(_pidfile(cfg), timeout=30.0)


async def ensure_topics(bootstrap: str, timeout: float = 60.0) -> None:
    """Create every topic of the contracts (and its dead-letter topic); ready means metadata answers."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, TopicAlreadyExistsError

    from contracts.topics import all_topic_names

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, partitions, 1)
                for name, partitions in all_topic_names()
                if name not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
            return
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    raise StackError(f"Kafka at {bootstrap} did not answer within {timeout:.0f}s: {last!r}")
