"""JetStream consumers driven by nats-py (the Python client), against the server at argv[1].

Run by crates/strom/tests/python.rs with the venv scripts/test creates. Exits non-zero with a
message on the first thing that is not as nats-server (2.15.1) does it. Every section uses its
own stream and deletes it again; waits are sub-second ack waits, fetch timeouts, or short polls
with a deadline (nats-server settles some consumer counts asynchronously after a plain ack).
"""

import asyncio
import json
import sys
import time

import nats
import nats.errors
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    Header,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError, ServerError
from nats.js.errors import Error as JSError

POLL = 0.02  # between polls
SETTLE = 2.0  # deadline for a count to settle


async def settle(get, pred, what, deadline=SETTLE):
    """Polls `get()` until `pred` holds; fails with the last value seen."""
    end = time.monotonic() + deadline
    while True:
        value = await get()
        if pred(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what}: last seen {value}")
        await asyncio.sleep(POLL)


async def settle_consumer(js, stream, consumer, pred, what):
    return await settle(lambda: js.consumer_info(stream, consumer), pred, what)


async def settle_messages(js, stream, count, what):
    return await settle(
        lambda: js.stream_info(stream), lambda si: si.state.messages == count, what
    )


async def fetch_times_out(sub, batch, timeout, what):
    """A fetch that must come back empty, timing out after about `timeout`.

    fetch(1) turns the server's 404/408 status frames into nats.errors.TimeoutError. A batch
    fetch mostly does too, but when the 408 of its first request lands right at the deadline
    nats-py 2.16 raises the builtin asyncio.TimeoutError (its parent class), or returns [].
    """
    expected = nats.errors.TimeoutError if batch == 1 else asyncio.TimeoutError
    start = time.monotonic()
    try:
        msgs = await sub.fetch(batch, timeout=timeout)
        assert batch > 1 and msgs == [], \
            f"{what}: fetch returned {[(m.subject, m.metadata) for m in msgs]}"
    except expected:
        pass
    took = time.monotonic() - start
    assert took >= timeout * 0.7, f"{what}: the timeout came early ({took:.3f}s)"
    assert took < timeout + 1.5, f"{what}: the timeout came late ({took:.3f}s)"


async def fetch_one(sub, what, timeout=2.0):
    msgs = await sub.fetch(1, timeout=timeout)
    assert len(msgs) == 1, f"{what}: {msgs}"
    return msgs[0]


def seqs(msgs):
    return [m.metadata.sequence.stream for m in msgs]


async def pull_basics(nc, js):
    """Durable pull consumer, explicit ack: order, metadata, and the counts in consumer info."""
    await js.add_stream(StreamConfig(
        name="CPULL", subjects=["cpull.a", "cpull.b", "cpull.c"], storage=StorageType.FILE,
    ))
    for i, subj in enumerate(["a", "b", "c", "a", "b", "c"]):
        await js.publish(f"cpull.{subj}", f"m{i + 1}".encode())

    ci = await js.add_consumer("CPULL", ConsumerConfig(
        durable_name="PULL", ack_policy=AckPolicy.EXPLICIT,
    ))
    assert ci.name == "PULL" and ci.stream_name == "CPULL", ci
    assert ci.config.durable_name == "PULL", ci.config
    assert ci.config.ack_policy == AckPolicy.EXPLICIT, ci.config
    assert ci.config.deliver_policy == DeliverPolicy.ALL, ci.config
    assert ci.config.ack_wait == 30.0, f"default ack_wait is 30s: {ci.config}"
    assert ci.config.max_deliver == -1, f"default max_deliver is -1: {ci.config}"
    assert ci.config.max_waiting == 512, f"default max_waiting is 512: {ci.config}"
    assert ci.config.max_ack_pending == 1000, f"default max_ack_pending is 1000: {ci.config}"
    assert ci.config.deliver_subject is None, ci.config
    assert ci.num_pending == 6, ci
    assert ci.num_ack_pending == 0 and ci.num_redelivered == 0 and ci.num_waiting == 0, ci
    assert (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (0, 0), ci.delivered
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (0, 0), ci.ack_floor

    # Creating it again with the same config is idempotent.
    again = await js.add_consumer("CPULL", ConsumerConfig(
        durable_name="PULL", ack_policy=AckPolicy.EXPLICIT,
    ))
    assert again.name == "PULL" and again.created == ci.created, again

    # Changing a field that cannot be updated is a 500 with err_code 10012.
    try:
        await js.add_consumer("CPULL", ConsumerConfig(durable_name="PULL", ack_policy=AckPolicy.ALL))
        raise AssertionError("changing the ack policy of a consumer is refused")
    except ServerError as e:
        assert e.code == 500 and e.err_code == 10012, e
        assert e.description == "ack policy can not be updated", e
    # A pull consumer cannot become a push consumer.
    try:
        await js.add_consumer("CPULL", ConsumerConfig(durable_name="PULL", deliver_subject="cpull.dlv"))
        raise AssertionError("turning a pull consumer into a push one is refused")
    except ServerError as e:
        assert e.err_code == 10012, e
        assert e.description == "can not update pull consumer to push based", e

    sub = await js.pull_subscribe_bind("PULL", stream="CPULL")
    msgs = await sub.fetch(4, timeout=2)
    assert seqs(msgs) == [1, 2, 3, 4], seqs(msgs)
    assert [m.subject for m in msgs] == ["cpull.a", "cpull.b", "cpull.c", "cpull.a"], msgs
    assert [m.data for m in msgs] == [b"m1", b"m2", b"m3", b"m4"], msgs
    for i, m in enumerate(msgs):
        md = m.metadata
        assert md.stream == "CPULL" and md.consumer == "PULL", md
        assert md.sequence.consumer == i + 1 and md.sequence.stream == i + 1, md
        assert md.num_delivered == 1, md
        # Pending counts what is left for the consumer after this message.
        assert md.num_pending == 5 - i, md
        assert m.reply.startswith("$JS.ACK.CPULL.PULL."), m.reply

    ci = await js.consumer_info("CPULL", "PULL")
    assert (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (4, 4), ci.delivered
    assert ci.num_ack_pending == 4, ci
    assert ci.num_pending == 2, ci
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (0, 0), ci.ack_floor

    # An ack with a reply gets an empty response once the ack is processed.
    resp = await msgs[1].ack_sync()
    assert resp.data == b"", resp
    ci = await js.consumer_info("CPULL", "PULL")
    assert ci.num_ack_pending == 3, f"ack of 2 is processed before its response: {ci}"
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (0, 0), \
        f"an ack past a gap leaves the floor: {ci.ack_floor}"

    await msgs[0].ack_sync()
    ci = await js.consumer_info("CPULL", "PULL")
    assert ci.num_ack_pending == 2, ci
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (2, 2), \
        f"filling the gap moves the floor over both: {ci.ack_floor}"

    # nats-py refuses a second ack client-side; the server answers a repeated ack anyway.
    try:
        await msgs[0].ack()
        raise AssertionError("nats-py refuses to ack twice")
    except nats.errors.MsgAlreadyAckdError:
        pass
    again = await nc.request(msgs[0].reply, b"+ACK", timeout=1)
    assert again.data == b"", again

    await msgs[2].ack()
    await msgs[3].ack()
    await settle_consumer(
        js, "CPULL", "PULL",
        lambda c: c.num_ack_pending == 0
        and (c.ack_floor.consumer_seq, c.ack_floor.stream_seq) == (4, 4),
        "plain acks of 3 and 4 settle the floor at 4",
    )

    # A batch larger than what is left returns what there is, without waiting out the timeout.
    start = time.monotonic()
    rest = await sub.fetch(5, timeout=3)
    assert seqs(rest) == [5, 6], seqs(rest)
    assert [m.metadata.num_pending for m in rest] == [1, 0], [m.metadata for m in rest]
    assert time.monotonic() - start < 2, "a short batch comes back on the server's 404"
    for m in rest:
        await m.ack_sync()
    ci = await js.consumer_info("CPULL", "PULL")
    assert ci.num_pending == 0 and ci.num_ack_pending == 0, ci
    assert (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (6, 6), ci.delivered
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (6, 6), ci.ack_floor

    # Nothing left: the server's 404/408 status frames become nats.errors.TimeoutError.
    await fetch_times_out(sub, 1, 0.2, "fetch(1) on a drained consumer")
    await fetch_times_out(sub, 3, 0.2, "fetch(3) on a drained consumer")

    await js.publish("cpull.b", b"m7")
    m = await fetch_one(sub, "a message published after the timeouts")
    assert m.data == b"m7", m
    assert (m.metadata.sequence.consumer, m.metadata.sequence.stream) == (7, 7), m.metadata
    await m.ack_sync()

    await sub.unsubscribe()
    await js.delete_stream("CPULL")


async def pull_status_frames(nc, js):
    """The raw pull protocol: the status frames nats-py turns into timeouts."""
    await js.add_stream(StreamConfig(name="CRAW", subjects=["craw.>"]))
    await js.add_consumer("CRAW", ConsumerConfig(durable_name="RAW"))
    inbox = nc.new_inbox()
    replies = await nc.subscribe(inbox)
    nxt = "$JS.API.CONSUMER.MSG.NEXT.CRAW.RAW"

    await nc.publish(nxt, json.dumps({"batch": 1, "no_wait": True}).encode(), reply=inbox)
    st = await replies.next_msg(timeout=1)
    assert st.headers and st.headers.get(Header.STATUS) == "404", st.headers
    assert st.headers.get(Header.DESCRIPTION) == "No Messages", st.headers
    assert st.data == b"", st

    start = time.monotonic()
    await nc.publish(nxt, json.dumps({"batch": 2, "expires": 100_000_000}).encode(), reply=inbox)
    st = await replies.next_msg(timeout=2)
    took = time.monotonic() - start
    assert st.headers and st.headers.get(Header.STATUS) == "408", st.headers
    assert st.headers.get(Header.DESCRIPTION) == "Request Timeout", st.headers
    assert st.headers.get("Nats-Pending-Messages") == "2", st.headers
    assert st.headers.get("Nats-Pending-Bytes") == "0", st.headers
    assert took >= 0.07, f"the 408 comes when the request expires ({took:.3f}s)"

    # A message, then the 404 that ends a no_wait batch early.
    await js.publish("craw.x", b"one")
    await nc.publish(nxt, json.dumps({"batch": 2, "no_wait": True}).encode(), reply=inbox)
    m = await replies.next_msg(timeout=1)
    assert m.data == b"one" and m.subject == "craw.x", m
    assert m.reply.startswith("$JS.ACK.CRAW.RAW.1.1.1."), m.reply
    st = await replies.next_msg(timeout=1)
    assert st.headers and st.headers.get(Header.STATUS) == "404", st.headers

    await replies.unsubscribe()
    await js.delete_stream("CRAW")


async def nak_term_progress(js):
    """nak, nak with a delay, ack_wait expiry, in_progress and term on one message."""
    await js.add_stream(StreamConfig(name="CNAK", subjects=["cnak.>"]))
    await js.publish("cnak.x", b"one")
    await js.add_consumer("CNAK", ConsumerConfig(durable_name="N", ack_wait=0.3))
    sub = await js.pull_subscribe_bind("N", stream="CNAK")

    m = await fetch_one(sub, "first delivery")
    assert m.metadata.num_delivered == 1, m.metadata

    # nak: redelivered at once, with a new consumer sequence.
    await m.nak()
    start = time.monotonic()
    m = await fetch_one(sub, "redelivery after nak")
    assert time.monotonic() - start < 0.25, "a nak redelivers without waiting for ack_wait"
    md = m.metadata
    assert md.num_delivered == 2, md
    assert (md.sequence.consumer, md.sequence.stream) == (2, 1), md
    ci = await js.consumer_info("CNAK", "N")
    assert ci.num_ack_pending == 1 and ci.num_redelivered == 1, ci
    assert (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (2, 1), ci.delivered
    assert ci.num_pending == 0, ci

    # nak with a delay: not before the delay is up.
    start = time.monotonic()
    await m.nak(delay=0.25)
    await fetch_times_out(sub, 1, 0.1, "within a nak delay")
    m = await fetch_one(sub, "redelivery after the nak delay")
    took = time.monotonic() - start
    assert took >= 0.2, f"nak delay honoured ({took:.3f}s)"
    assert m.metadata.num_delivered == 3, m.metadata

    # No ack at all: redelivered once ack_wait (0.3s) is up.
    start = time.monotonic()
    m = await fetch_one(sub, "redelivery after ack_wait")
    took = time.monotonic() - start
    assert took >= 0.2, f"redelivered only after ack_wait ({took:.3f}s)"
    assert m.metadata.num_delivered == 4, m.metadata
    assert m.metadata.sequence.consumer == 4, m.metadata

    # in_progress resets the ack timer: keep it alive for twice ack_wait.
    for _ in range(6):
        await asyncio.sleep(0.1)
        await m.in_progress()
    await fetch_times_out(sub, 1, 0.15, "ack_wait reset by in_progress")
    m = await fetch_one(sub, "redelivery once in_progress stops")
    assert m.metadata.num_delivered == 5, m.metadata

    # term: never again, and the ack floor moves over it.
    await m.term()
    await settle_consumer(
        js, "CNAK", "N",
        lambda c: c.num_ack_pending == 0
        and (c.ack_floor.consumer_seq, c.ack_floor.stream_seq) == (5, 1),
        "term settles like an ack",
    )
    await fetch_times_out(sub, 1, 0.5, "no redelivery after term (ack_wait 0.3s)")
    ci = await js.consumer_info("CNAK", "N")
    assert ci.num_redelivered == 0 and ci.num_pending == 0, ci

    await sub.unsubscribe()
    await js.delete_stream("CNAK")


async def max_deliver(js):
    """max_deliver=2: a message never acked is delivered exactly twice."""
    await js.add_stream(StreamConfig(name="CMAX", subjects=["cmax.>"]))
    await js.publish("cmax.x", b"one")
    ci = await js.add_consumer("CMAX", ConsumerConfig(
        durable_name="M", ack_wait=0.2, max_deliver=2,
    ))
    assert ci.config.max_deliver == 2 and ci.config.ack_wait == 0.2, ci.config
    sub = await js.pull_subscribe_bind("M", stream="CMAX")

    first = await fetch_one(sub, "first delivery")
    second = await fetch_one(sub, "redelivery after ack_wait")
    assert [first.metadata.num_delivered, second.metadata.num_delivered] == [1, 2], \
        (first.metadata, second.metadata)
    assert second.metadata.sequence.consumer == 2, second.metadata
    await fetch_times_out(sub, 1, 0.5, "no third delivery past max_deliver")

    ci = await settle_consumer(
        js, "CMAX", "M", lambda c: c.num_ack_pending == 0,
        "a message past max_deliver leaves the pending acks",
    )
    assert ci.num_redelivered == 1, ci
    assert (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (2, 1), ci.delivered
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (0, 0), ci.ack_floor

    # The next message flows as usual; acking it moves the floor over both.
    await js.publish("cmax.x", b"two")
    m = await fetch_one(sub, "the next message")
    assert m.data == b"two" and m.metadata.num_delivered == 1, m.metadata
    assert (m.metadata.sequence.consumer, m.metadata.sequence.stream) == (3, 2), m.metadata
    await m.ack_sync()
    ci = await js.consumer_info("CMAX", "M")
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (3, 2), ci.ack_floor

    await sub.unsubscribe()
    await js.delete_stream("CMAX")


async def deliver_policies(js):
    """filter_subject and the deliver policies, over a1 b1 a2 b2 a3 (seq 1..5)."""
    await js.add_stream(StreamConfig(name="CPOL", subjects=["cpol.*"]))
    for i, subj in enumerate(["a", "b", "a", "b", "a"]):
        await js.publish(f"cpol.{subj}", f"{subj}{i // 2 + 1}".encode())

    async def consume(name, expect_pending, expect_delivered_sseq, **cfg):
        ci = await js.add_consumer("CPOL", ConsumerConfig(durable_name=name, **cfg))
        assert ci.num_pending == expect_pending, f"{name}: {ci}"
        assert ci.delivered.consumer_seq == 0, f"{name}: {ci.delivered}"
        assert ci.delivered.stream_seq == expect_delivered_sseq, f"{name}: {ci.delivered}"
        sub = await js.pull_subscribe_bind(name, stream="CPOL")
        return sub, (await sub.fetch(10, timeout=1) if expect_pending else [])

    sub, msgs = await consume("FA", 3, 0, filter_subject="cpol.a")
    assert seqs(msgs) == [1, 3, 5], seqs(msgs)
    assert [m.metadata.num_pending for m in msgs] == [2, 1, 0], [m.metadata for m in msgs]
    assert [m.metadata.sequence.consumer for m in msgs] == [1, 2, 3], [m.metadata for m in msgs]
    await sub.unsubscribe()

    sub, msgs = await consume("LAST", 1, 4, deliver_policy=DeliverPolicy.LAST)
    assert seqs(msgs) == [5], seqs(msgs)
    assert msgs[0].metadata.sequence.consumer == 1, msgs[0].metadata
    await sub.unsubscribe()

    sub, msgs = await consume("LASTB", 1, 3, deliver_policy=DeliverPolicy.LAST,
                              filter_subject="cpol.b")
    assert seqs(msgs) == [4] and msgs[0].data == b"b2", msgs
    await sub.unsubscribe()

    sub, msgs = await consume("SEQ", 3, 2, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                              opt_start_seq=3)
    assert seqs(msgs) == [3, 4, 5], seqs(msgs)
    await sub.unsubscribe()

    sub, msgs = await consume("LPS", 2, 3, deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                              filter_subject="cpol.*")
    assert seqs(msgs) == [4, 5], seqs(msgs)
    assert [m.data for m in msgs] == [b"b2", b"a3"], msgs
    await sub.unsubscribe()

    new, _ = await consume("NEW", 0, 5, deliver_policy=DeliverPolicy.NEW)
    await fetch_times_out(new, 1, 0.2, "deliver new with nothing new")
    await js.publish("cpol.b", b"b3")
    m = await fetch_one(new, "deliver new after a publish")
    assert m.metadata.sequence.stream == 6 and m.data == b"b3", m.metadata
    assert m.metadata.sequence.consumer == 1, m.metadata
    await new.unsubscribe()

    # Options that do not fit the policy are refused with 10094.
    bad = [
        ("NOSEQ", dict(deliver_policy=DeliverPolicy.BY_START_SEQUENCE),
         "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"),
        ("ALLSEQ", dict(opt_start_seq=3),
         "consumer delivery policy is deliver all, but optional start sequence is also set"),
        ("LPSNOF", dict(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT),
         "consumer delivery policy is deliver last per subject, but optional filter subject is not set"),
    ]
    for name, cfg, desc in bad:
        try:
            await js.add_consumer("CPOL", ConsumerConfig(durable_name=name, **cfg))
            raise AssertionError(f"{name}: {cfg} is refused")
        except BadRequestError as e:
            assert e.code == 400 and e.err_code == 10094, e
            assert e.description == desc, e

    await js.delete_stream("CPOL")


async def push_consumers(js):
    """Push subscriptions: durable with manual acks, ephemeral with auto ack, a queue group."""
    await js.add_stream(StreamConfig(name="CPUSH", subjects=["cpush.*"]))
    for i in range(3):
        await js.publish("cpush.a", f"m{i + 1}".encode())

    # Durable, no callback: next_msg and manual acks.
    sub = await js.subscribe("cpush.*", durable="PD", stream="CPUSH", manual_ack=True)
    ci = await js.consumer_info("CPUSH", "PD")
    assert ci.config.deliver_subject, f"a push consumer has a deliver subject: {ci.config}"
    assert ci.config.filter_subject == "cpush.*", ci.config
    for i in range(3):
        m = await sub.next_msg(timeout=2)
        md = m.metadata
        assert m.data == f"m{i + 1}".encode() and m.subject == "cpush.a", m
        assert md.consumer == "PD" and md.stream == "CPUSH", md
        assert (md.sequence.consumer, md.sequence.stream) == (i + 1, i + 1), md
        assert md.num_pending == 2 - i and md.num_delivered == 1, md
        await m.ack_sync()
    ci = await settle_consumer(js, "CPUSH", "PD", lambda c: c.push_bound,
                               "a subscribed push consumer is bound")
    assert ci.num_ack_pending == 0 and ci.num_pending == 0, ci
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (3, 3), ci.ack_floor
    try:
        await js.subscribe("cpush.*", durable="PD", stream="CPUSH")
        raise AssertionError("a bound push consumer cannot be subscribed twice")
    except JSError as e:
        assert "already bound" in str(e), e
    await sub.unsubscribe()
    await settle_consumer(js, "CPUSH", "PD", lambda c: not c.push_bound,
                          "unsubscribing unbinds the push consumer")

    # Ephemeral, with a callback that nats-py acks after.
    got = asyncio.Queue()

    async def collect(msg):
        await got.put(msg)

    esub = await js.subscribe("cpush.*", stream="CPUSH", cb=collect)
    msgs = [await asyncio.wait_for(got.get(), 2) for _ in range(3)]
    assert seqs(msgs) == [1, 2, 3], seqs(msgs)
    ename = msgs[0].metadata.consumer
    assert ename and ename != "PD", msgs[0].metadata
    ci = await settle_consumer(js, "CPUSH", ename, lambda c: c.num_ack_pending == 0,
                               "the callback's messages are acked")
    assert ci.config.durable_name is None, f"ephemeral: {ci.config}"
    assert ci.config.inactive_threshold == 5.0, f"ephemeral default threshold: {ci.config}"
    assert (ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq) == (3, 3), ci.ack_floor
    await esub.unsubscribe()

    # A queue group: every message to exactly one member.
    await js.purge_stream("CPUSH")
    q1, q2 = asyncio.Queue(), asyncio.Queue()

    async def one(msg):
        await q1.put(msg)

    async def two(msg):
        await q2.put(msg)

    s1 = await js.subscribe("cpush.*", queue="workers", stream="CPUSH", cb=one)
    s2 = await js.subscribe("cpush.*", queue="workers", stream="CPUSH", cb=two)
    ci = await js.consumer_info("CPUSH", "workers")
    assert ci.config.deliver_group == "workers" and ci.config.durable_name == "workers", ci.config
    for i in range(20):
        await js.publish("cpush.b", f"q{i}".encode())
    async def received_count():
        return q1.qsize() + q2.qsize()

    await settle(received_count, lambda n: n >= 20, "the queue group receives all 20")
    ci = await settle_consumer(js, "CPUSH", "workers", lambda c: c.num_ack_pending == 0,
                               "the queue group acks all 20")
    received = []
    for q in (q1, q2):
        while not q.empty():
            received.append(q.get_nowait())
    assert sorted(m.metadata.sequence.stream for m in received) == list(range(4, 24)), \
        f"each message once: {seqs(received)}"
    assert (ci.delivered.consumer_seq, ci.delivered.stream_seq) == (20, 23), ci.delivered
    await s1.unsubscribe()
    await s2.unsubscribe()

    await js.delete_stream("CPUSH")


async def list_and_delete(js):
    """consumers_info, delete_consumer, and what is not found."""
    await js.add_stream(StreamConfig(name="CLIST", subjects=["clist.>"]))
    await js.add_consumer("CLIST", ConsumerConfig(durable_name="C2"))
    await js.add_consumer("CLIST", ConsumerConfig(durable_name="C1", filter_subject="clist.a"))
    infos = await js.consumers_info("CLIST")
    assert sorted(c.name for c in infos) == ["C1", "C2"], infos
    c1 = next(c for c in infos if c.name == "C1")
    assert c1.config.filter_subject == "clist.a" and c1.stream_name == "CLIST", c1
    si = await js.stream_info("CLIST")
    assert si.state.consumer_count == 2, si.state

    assert await js.delete_consumer("CLIST", "C1") is True
    infos = await js.consumers_info("CLIST")
    assert [c.name for c in infos] == ["C2"], infos

    try:
        await js.consumer_info("CLIST", "C1")
        raise AssertionError("a deleted consumer is not found")
    except NotFoundError as e:
        assert e.code == 404 and e.err_code == 10014, e
        assert e.description == "consumer not found", e
    try:
        await js.delete_consumer("CLIST", "C1")
        raise AssertionError("deleting a missing consumer fails")
    except NotFoundError as e:
        assert e.err_code == 10014, e
    try:
        await js.add_consumer("CNOSUCH", ConsumerConfig(durable_name="X"))
        raise AssertionError("a consumer on a missing stream is refused")
    except NotFoundError as e:
        assert e.err_code == 10059 and e.description == "stream not found", e
    try:
        await js.consumers_info("CNOSUCH")
        raise AssertionError("listing consumers of a missing stream fails")
    except NotFoundError as e:
        assert e.err_code == 10059, e
    # Name in the subject and durable name in the body must agree.
    try:
        await js.add_consumer("CLIST", ConsumerConfig(name="X", durable_name="Y"))
        raise AssertionError("a name that differs from the durable name is refused")
    except BadRequestError as e:
        assert e.err_code == 10017, e

    await js.delete_stream("CLIST")


async def work_queue(js):
    """Work-queue retention: acked (or termed) messages go; one consumer per subject."""
    await js.add_stream(StreamConfig(
        name="CWQ", subjects=["cwq.*"], retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
    ))
    for i in range(3):
        await js.publish("cwq.a", f"a{i + 1}".encode())
    await js.publish("cwq.b", b"b1")

    sub = await js.pull_subscribe("cwq.a", durable="WA", stream="CWQ")
    msgs = await sub.fetch(3, timeout=2)
    assert seqs(msgs) == [1, 2, 3], seqs(msgs)
    si = await js.stream_info("CWQ")
    assert si.state.messages == 4, f"delivered is not removed: {si.state}"

    await msgs[1].ack_sync()
    si = await js.stream_info("CWQ")
    assert si.state.messages == 3, f"acked is removed by the ack's response: {si.state}"
    assert si.state.first_seq == 1 and si.state.num_deleted == 1, si.state

    await msgs[0].ack()
    await msgs[2].term()
    si = await settle_messages(js, "CWQ", 1, "ack and term remove from a work queue")
    assert si.state.first_seq == 4 and si.state.last_seq == 4, si.state

    for name, cfg, code, desc in [
        ("WALL", dict(filter_subject="cwq.>"), 10100,
         "filtered consumer not unique on workqueue stream"),
        ("WSAME", dict(filter_subject="cwq.a"), 10100,
         "filtered consumer not unique on workqueue stream"),
        ("WNONE", dict(), 10099,
         "multiple non-filtered consumers not allowed on workqueue stream"),
        ("WNOACK", dict(filter_subject="cwq.b", ack_policy=AckPolicy.NONE), 10084,
         "consumer in pull mode requires explicit ack policy on workqueue stream"),
    ]:
        try:
            await js.add_consumer("CWQ", ConsumerConfig(durable_name=name, **cfg))
            raise AssertionError(f"{name}: {cfg} is refused on a work queue with WA on cwq.a")
        except BadRequestError as e:
            assert e.code == 400 and e.err_code == code, f"{name}: {e}"
            assert e.description == desc, f"{name}: {e}"

    # A disjoint filter is fine, and gets what is left.
    await js.add_consumer("CWQ", ConsumerConfig(durable_name="WB", filter_subject="cwq.b"))
    await sub.unsubscribe()
    sub = await js.pull_subscribe_bind("WB", stream="CWQ")
    m = await fetch_one(sub, "the cwq.b message")
    assert m.data == b"b1" and m.metadata.sequence.stream == 4, m
    await m.ack_sync()
    si = await js.stream_info("CWQ")
    assert si.state.messages == 0, si.state

    await sub.unsubscribe()
    await js.delete_stream("CWQ")


async def interest(js):
    """Interest retention: a message goes once every consumer that wants it has acked it."""
    await js.add_stream(StreamConfig(
        name="CINT", subjects=["cint.*"], retention=RetentionPolicy.INTEREST,
    ))
    # With no consumers there is no interest: acked by the stream, but not kept.
    ack = await js.publish("cint.a", b"nobody")
    assert ack.seq == 1, ack
    si = await js.stream_info("CINT")
    assert si.state.messages == 0 and si.state.last_seq == 1, si.state

    await js.add_consumer("CINT", ConsumerConfig(durable_name="I1"))
    await js.add_consumer("CINT", ConsumerConfig(durable_name="I2", filter_subject="cint.a"))
    await js.publish("cint.a", b"a")
    await js.publish("cint.b", b"b")
    si = await js.stream_info("CINT")
    assert si.state.messages == 2, si.state

    s1 = await js.pull_subscribe_bind("I1", stream="CINT")
    s2 = await js.pull_subscribe_bind("I2", stream="CINT")
    m1 = await s1.fetch(2, timeout=2)
    m2 = await s2.fetch(1, timeout=2)
    assert seqs(m1) == [2, 3] and seqs(m2) == [2], (seqs(m1), seqs(m2))

    await m1[0].ack_sync()
    si = await js.stream_info("CINT")
    assert si.state.messages == 2, f"I2 has not acked cint.a yet: {si.state}"
    await m2[0].ack_sync()
    si = await settle_messages(js, "CINT", 1, "both acked cint.a")
    assert si.state.first_seq == 3, si.state
    # cint.b only interests I1.
    await m1[1].ack_sync()
    await settle_messages(js, "CINT", 0, "I1 acked cint.b, the only one that wanted it")

    # Deleting the last consumer drops what was kept for it.
    await js.publish("cint.a", b"a2")
    await js.delete_consumer("CINT", "I2")
    si = await js.stream_info("CINT")
    assert si.state.messages == 1, f"I1 still wants cint.a: {si.state}"
    await js.delete_consumer("CINT", "I1")
    await settle_messages(js, "CINT", 0, "no consumers left, no interest")

    await s1.unsubscribe()
    await s2.unsubscribe()
    await js.delete_stream("CINT")


async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()

    await pull_basics(nc, js)
    await pull_status_frames(nc, js)
    await nak_term_progress(js)
    await max_deliver(js)
    await deliver_policies(js)
    await push_consumers(js)
    await list_and_delete(js)
    await work_queue(js)
    await interest(js)

    await nc.close()
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
