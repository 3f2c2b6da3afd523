"""Range reads on JetStream: the subjects of a filter, and every message of a filter.

`list_subjects` asks the stream for the subjects matching a filter (the server walks its
per-subject index and answers in JSON pages of up to 100,000 subjects): the cheap way to
list a KV bucket's keys, as no message body crosses the wire.

`read_all`: JetStream has no "range read" call: queries and the expiry sweep create an
ephemeral consumer (in memory, no acks, deleted afterwards and dropped by the server
after `inactive_threshold` should we die first), note how many messages it has pending
at creation, and fetch that many in large batches. The count is a snapshot: messages
written later may or may not be seen, every message present throughout is seen once.
"""

from __future__ import annotations

import contextlib
import json

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

FETCH_BATCH = 1000
_INACTIVE_S = 30.0


async def read_all(
    js: JetStreamContext,
    stream: str,
    filter_subject: str,
    *,
    last_per_subject: bool,
    timeout_s: float,
    headers_only: bool = False,
) -> list[Msg]:
    """Messages of `stream` matching `filter_subject`, in stream order.

    `last_per_subject`: only the newest message of each subject (a KV bucket listing).
    """
    policy = api.DeliverPolicy.LAST_PER_SUBJECT if last_per_subject else api.DeliverPolicy.ALL
    name = js._nc._nuid.next().decode()  # the client's own unique-id generator
    config = api.ConsumerConfig(
        name=name,
        deliver_policy=policy,
        ack_policy=api.AckPolicy.NONE,
        filter_subject=filter_subject,
        inactive_threshold=_INACTIVE_S,
        mem_storage=True,
        headers_only=headers_only or None,
        num_replicas=1,
    )
    info = await js.add_consumer(stream, config, timeout=timeout_s)
    try:
        total = info.num_pending or 0
        if total == 0:
            return []
        sub = await js.pull_subscribe_bind(
            stream=stream, name=name, pending_msgs_limit=4 * FETCH_BATCH
        )
        out: list[Msg] = []
        try:
            while len(out) < total:
                try:
                    msgs = await sub.fetch(min(FETCH_BATCH, total - len(out)), timeout=timeout_s)
                except nats.errors.TimeoutError:
                    # Every counted message left was removed (e.g. by the expiry sweep)?
                    if (await sub.consumer_info()).num_pending == 0:
                        break
                    raise
                out.extend(msgs)
                # A message deleted after the count was taken is never delivered; the
                # server's own "nothing left" wins over the count.
                if msgs and msgs[-1].metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return out
    finally:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, name)


async def list_subjects(
    js: JetStreamContext, stream: str, filter_subject: str, *, timeout_s: float
) -> list[str]:
    """Subjects of `stream` that match `filter_subject` and hold a message right now."""
    subjects: list[str] = []
    offset = 0
    while True:
        request = {"subjects_filter": filter_subject, "offset": offset}
        reply = await js._nc.request(
            f"{js._prefix}.STREAM.INFO.{stream}", json.dumps(request).encode(), timeout=timeout_s
        )
        body = json.loads(reply.data)
        if "error" in body:
            raise nats.js.errors.APIError.from_error(body["error"])
        page = (body.get("state") or {}).get("subjects") or {}
        subjects.extend(page)
        offset += len(page)
        if not page or offset >= int(body.get("total", 0)):
            return subjects
