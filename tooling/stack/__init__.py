"""The local stack: real PostgreSQL, Redis, NATS (JetStream) and Kafka (KRaft) servers,
run as native processes on loopback in a throw-away data dir, for tests and development.

`python -m tooling.stack up|down|status|env|start|stop` from the shell; `tooling.stack.api`
from Python and pytest. See tooling/stack/README.md.
"""
