"""JetStream streams driven by nats-py (the Python client), against the server at argv[1].

Run by crates/strom/tests/python.rs with the venv scripts/test creates. Exits non-zero with a
message on the first thing that is not as nats-server does it.
"""

import asyncio
import sys

import nats
from nats.js.api import StorageType, StreamConfig, RetentionPolicy, DiscardPolicy
from nats.js.errors import BadRequestError, NotFoundError, APIError


async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()

    info = await js.add_stream(StreamConfig(
        name="PY", subjects=["py.>"], max_msgs=100, max_msgs_per_subject=3,
        storage=StorageType.FILE, retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD, allow_direct=True, description="from python",
    ))
    assert info.config.name == "PY", info
    assert info.config.max_msgs_per_subject == 3, info.config
    assert info.state.messages == 0

    acks = [await js.publish("py.a", f"m{i}".encode()) for i in range(5)]
    assert [a.seq for a in acks] == [1, 2, 3, 4, 5], acks
    assert acks[0].stream == "PY"

    dup1 = await js.publish("py.b", b"x", headers={"Nats-Msg-Id": "one"})
    dup2 = await js.publish("py.b", b"x", headers={"Nats-Msg-Id": "one"})
    assert dup2.duplicate and dup2.seq == dup1.seq, (dup1, dup2)

    try:
        await js.publish("py.c", b"x", headers={"Nats-Expected-Last-Sequence": "1"})
        raise AssertionError("a wrong expected last sequence is refused")
    except APIError as e:
        assert e.err_code == 10071, e

    si = await js.stream_info("PY")
    # Five on py.a, three kept by max_msgs_per_subject; one on py.b.
    assert si.state.messages == 4, si.state
    assert si.state.last_seq == 6, si.state

    msg = await js.get_msg("PY", 5)
    assert msg.data == b"m4" and msg.subject == "py.a", msg
    last = await js.get_last_msg("PY", "py.a")
    assert last.seq == 5, last
    direct = await js.get_msg("PY", seq=4, direct=True)
    assert direct.data == b"m3", direct

    names = await js.streams_info()
    assert [s.config.name for s in names] == ["PY"], names

    purged = await js.purge_stream("PY", subject="py.a")
    assert purged, purged
    si = await js.stream_info("PY")
    assert si.state.messages == 1, si.state

    acct = await js.account_info()
    assert acct.streams == 1, acct

    await js.delete_stream("PY")
    try:
        await js.stream_info("PY")
        raise AssertionError("a deleted stream is not found")
    except NotFoundError:
        pass

    try:
        await js.add_stream(StreamConfig(name="BAD", subjects=["a..b"]))
        raise AssertionError("an invalid subject is refused")
    except (BadRequestError, APIError) as e:
        assert e.err_code == 10052, e

    await nc.close()
    print("ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
