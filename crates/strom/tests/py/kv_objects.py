"""Key-value buckets and the object store driven by nats-py (the Python client), against argv[1].

Run by crates/strom/tests/python.rs with the venv scripts/test creates. Exits non-zero with a
message on the first thing that is not as nats-server (2.15.1) does it. Every section uses its
own buckets and deletes them again. The expiry sections use 1 s TTLs (the shortest a Nats-TTL
header allows, and nats-py sends whole seconds) and poll with a deadline.

nats-py 2.16 has no `updates_only` for KV watches (only for object-store watches), no
`put(..., ttl=)` (per-key TTL is `create(..., msg_ttl=)` and `purge(..., msg_ttl=)`), and no
add_link / add_bucket_link: links are made with `put` and an ObjectMeta whose options carry
the link, which is what those helpers publish in the other clients.
"""

import asyncio
import base64
import hashlib
import io
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

import nats
import nats.errors
from nats.js.api import (
    KeyValueConfig,
    ObjectLink,
    ObjectMeta,
    ObjectMetaOptions,
    ObjectStoreConfig,
    StorageType,
)
from nats.js.errors import (
    BadBucketError,
    BadRequestError,
    BucketNotFoundError,
    KeyHistoryTooLargeError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    LinkIsABucketError,
    NoKeysError,
    NotFoundError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectNotFoundError,
    ServerError,
    ServiceUnavailableError,
)

POLL = 0.05  # between polls
SETTLE = 2.0  # deadline for a count to settle
EXPIRY = 3.5  # deadline for a 1 s TTL to take effect
CHUNK = 128 * 1024  # nats-py's default object chunk size
ASSETS = Path(__file__).resolve().parents[4] / "fixtures/seed-assets/assets.json"

# keys(filters=...) warns that servers before 2.10 may ignore filters; it is noise here.
logging.getLogger("nats.js.kv").setLevel(logging.ERROR)


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


async def raw_get(nc, stream, seq):
    """STREAM.MSG.GET by sequence: (subject, header bytes, payload bytes), or None if gone."""
    r = await nc.request(f"$JS.API.STREAM.MSG.GET.{stream}",
                         json.dumps({"seq": seq}).encode(), timeout=2)
    resp = json.loads(r.data)
    if "error" in resp:
        assert resp["error"]["err_code"] == 10037, f"{stream} seq {seq}: {resp}"
        return None
    m = resp["message"]
    hdr = base64.b64decode(m["hdrs"]) if m.get("hdrs") else b""
    data = base64.b64decode(m["data"]) if m.get("data") else b""
    return m["subject"], hdr, data


def msg_size(storage, subject, hdr, data):
    """What nats-server's stores account per message (stream info `bytes`, `max_bytes`)."""
    if storage == StorageType.MEMORY:
        return len(subject) + len(hdr) + len(data) + 16
    n = 22 + len(subject) + len(data) + 8
    return n + 4 + len(hdr) if hdr else n


async def stored_bytes(nc, js, stream):
    """The bytes a stream should report, summed over what STREAM.MSG.GET returns."""
    si = await js.stream_info(stream)
    total, count = 0, 0
    for seq in range(si.state.first_seq, si.state.last_seq + 1):
        got = await raw_get(nc, stream, seq)
        if got is not None:
            total += msg_size(si.config.storage, got[0], got[1], got[2])
            count += 1
    assert count == si.state.messages, f"{stream}: {count} messages readable, {si.state}"
    assert total == si.state.bytes, f"{stream}: summed {total} bytes, {si.state}"
    return total


async def drain(watcher, count, quiet=0.1):
    """`count` updates (None included), then whatever else comes within `quiet` seconds."""
    out = []
    try:
        for _ in range(count):
            out.append(await watcher.updates(timeout=2.0))
        while True:
            out.append(await watcher.updates(timeout=quiet))
    except nats.errors.TimeoutError:
        return out


def brief(entries):
    """(key, value, revision, delta, operation) per entry; None stays None."""
    return [None if e is None else (e.key, e.value, e.revision, e.delta, e.operation)
            for e in entries]


async def accepted(what, op):
    """Awaits `op`; a JetStream error becomes an assertion that names what was refused."""
    try:
        return await op
    except nats.js.errors.APIError as e:
        raise AssertionError(f"{what}: refused with {e}") from e


async def expect_key_gone(kv, key, what):
    try:
        e = await kv.get(key)
        raise AssertionError(f"{what}: {key} is still there: {e}")
    except KeyNotFoundError as e:
        return e


async def kv_basics(nc, js):
    """Bucket config, put/get/create/update/delete/purge, keys and history."""
    kv = await js.create_key_value(KeyValueConfig(
        bucket="KVB", history=5, ttl=3600, max_bytes=1 << 20, max_value_size=1024,
        storage=StorageType.FILE, description="basics",
    ))
    si = await js.stream_info("KV_KVB")
    c = si.config
    assert c.subjects == ["$KV.KVB.>"] and c.description == "basics", c
    assert c.max_msgs_per_subject == 5 and c.max_age == 3600.0, c
    assert c.max_bytes == 1 << 20 and c.max_msg_size == 1024, c
    assert c.storage == StorageType.FILE and c.num_replicas == 1, c
    assert c.discard == "new" and c.deny_delete is True and c.deny_purge is False, c
    assert c.allow_rollup_hdrs is True and c.allow_msg_ttl is True, c
    assert c.allow_direct is False and c.max_msgs == -1 and c.max_consumers == -1, c
    assert c.duplicate_window == 120.0, f"a KV duplicate window is at most 2 minutes: {c}"
    assert c.metadata and c.metadata.get("_nats.req.level") == "1", \
        f"allow_msg_ttl needs API level 1: {c.metadata}"

    # The same config again is fine; another one is refused.
    await js.create_key_value(KeyValueConfig(
        bucket="KVB", history=5, ttl=3600, max_bytes=1 << 20, max_value_size=1024,
        storage=StorageType.FILE, description="basics",
    ))
    try:
        await js.create_key_value(KeyValueConfig(bucket="KVB", history=2))
        raise AssertionError("a bucket with another config under the same name is refused")
    except BadRequestError as e:
        assert e.err_code == 10058, e
        assert e.description == "stream name already in use with a different configuration", e

    kv = await js.key_value("KVB")
    assert await kv.put("a", b"1") == 1
    assert await kv.put("b", b"2") == 2
    assert await kv.put("a", b"3") == 3
    e = await kv.get("a")
    assert (e.bucket, e.key, e.value, e.revision) == ("KVB", "a", b"3", 3), e
    e = await kv.get("a", revision=1)
    assert (e.key, e.value, e.revision) == ("a", b"1", 1), e
    try:
        await kv.get("a", revision=2)
        raise AssertionError("revision 2 is key b, not a")
    except KeyNotFoundError as err:
        assert "expected '$KV.KVB.a', but got '$KV.KVB.b'" in str(err), err
    try:
        await kv.get("a", revision=99)
        raise AssertionError("revision 99 does not exist")
    except KeyNotFoundError:
        pass
    e = await expect_key_gone(kv, "nope", "a key never written")
    assert e.op is None, e.op

    # create only if absent.
    assert await kv.create("c", b"first") == 4
    try:
        await kv.create("c", b"second")
        raise AssertionError("create of an existing key is refused")
    except KeyWrongLastSequenceError as err:
        assert err.description == "wrong last sequence: 4", err.description
    assert (await kv.get("c")).value == b"first"

    # update with the last revision.
    assert await kv.update("c", b"updated", last=4) == 5
    try:
        await kv.update("c", b"stale", last=4)
        raise AssertionError("update with a stale revision is refused")
    except KeyWrongLastSequenceError as err:
        assert err.description == "wrong last sequence: 5", err.description
    try:
        await kv.update("zz", b"x", last=3)
        raise AssertionError("update of a missing key with a revision is refused")
    except KeyWrongLastSequenceError as err:
        assert err.description == "wrong last sequence: 0", err.description
    # The raw reply the refusal comes from.
    r = await nc.request("$KV.KVB.c", b"raw",
                         headers={"Nats-Expected-Last-Subject-Sequence": "1"}, timeout=2)
    assert json.loads(r.data) == {
        "error": {"code": 400, "err_code": 10071, "description": "wrong last sequence: 5"},
        "stream": "KV_KVB", "seq": 0,
    }, r.data

    # delete: a DEL marker; get says not found and carries the marker.
    assert await kv.delete("a") is True
    e = await expect_key_gone(kv, "a", "a deleted key")
    assert e.op == "DEL" and e.entry.revision == 6 and e.entry.key == "a", (e.op, e.entry)
    m = await js.get_msg("KV_KVB", subject="$KV.KVB.a")
    assert m.seq == 6 and not m.data and m.headers == {"KV-Operation": "DEL"}, m
    e = await kv.get("a", revision=3)
    assert e.value == b"3", f"history survives a delete: {e}"
    try:
        await kv.delete("b", last=1)
        raise AssertionError("delete with a wrong last revision is refused")
    except BadRequestError as err:
        assert err.err_code == 10071 and err.description == "wrong last sequence: 2", err
    assert await kv.delete("b", last=2) is True  # revision 7

    # purge: a PURGE marker that rolls up the key's history.
    assert await kv.purge("c") is True  # revision 8
    e = await expect_key_gone(kv, "c", "a purged key")
    assert e.op == "PURGE" and e.entry.revision == 8, (e.op, e.entry)
    m = await js.get_msg("KV_KVB", subject="$KV.KVB.c")
    assert m.headers == {"KV-Operation": "PURGE", "Nats-Rollup": "sub"}, m.headers
    for rev in (4, 5):
        try:
            await kv.get("c", revision=rev)
            raise AssertionError(f"revision {rev} of c went with the purge")
        except KeyNotFoundError:
            pass
    si = await js.stream_info("KV_KVB")
    assert si.state.messages == 6 and si.state.num_deleted == 2, \
        f"revisions 4 and 5 purged; 1, 2, 3, 6, 7, 8 left: {si.state}"

    # create after a delete or purge: nats-py retries with the marker's revision.
    assert await kv.create("a", b"again") == 9
    assert await kv.create("c", b"again") == 10
    assert (await kv.get("c")).value == b"again"

    # History is capped at 5 per key.
    for i in range(6):
        await kv.put("h", f"h{i}".encode())  # revisions 11..16
    hist = await kv.history("h")
    assert [(e.value, e.revision, e.operation) for e in hist] == [
        (f"h{i}".encode(), 11 + i, None) for i in range(1, 6)
    ], brief(hist)
    assert [e.delta for e in hist] == [4, 3, 2, 1, 0], brief(hist)
    hist = await kv.history("a")
    assert [(e.value, e.revision, e.operation) for e in hist] == [
        (b"1", 1, None), (b"3", 3, None), (b"", 6, "DEL"), (b"again", 9, None),
    ], brief(hist)
    hist = await kv.history("c")
    assert [(e.value, e.revision, e.operation) for e in hist] == [
        (b"", 8, "PURGE"), (b"again", 10, None),
    ], brief(hist)
    try:
        await kv.history("never")
        raise AssertionError("history of a key never written")
    except NoKeysError:
        pass

    # keys(): deleted keys are not listed; filters are substrings (applied by nats-py).
    await kv.put("dir.x", b"x")  # 17
    await kv.put("dir.y", b"y")  # 18
    keys = await kv.keys()
    assert sorted(keys) == ["a", "c", "dir.x", "dir.y", "h"], keys
    assert keys == ["a", "c", "h", "dir.x", "dir.y"], f"in last-revision order: {keys}"
    assert sorted(await kv.keys(filters=["dir."])) == ["dir.x", "dir.y"]
    assert await kv.keys(filters=["h", "x"]) == ["h", "dir.x"]

    # Status.
    st = await kv.status()
    assert st.bucket == "KVB" and st.history == 5 and st.ttl == 3600.0, st
    assert st.values == 15, f"1,2,3,6,7,8,9,10,12..18: {st.stream_info.state}"
    assert st.stream_info.state.num_deleted == 3, f"4, 5 (purge), 11 (history): {st}"
    assert st.stream_info.state.first_seq == 1 and st.stream_info.state.last_seq == 18, st
    # The first put is a plain file-store record: 22 + subject + payload + 8.
    first = await raw_get(nc, "KV_KVB", 1)
    assert first == ("$KV.KVB.a", b"", b"1"), first
    assert msg_size(StorageType.FILE, *first) == 40
    await stored_bytes(nc, js, "KV_KVB")

    # purge_deletes(olderthan=0): keys whose latest entry is a marker (only b) go entirely.
    await kv.purge_deletes(olderthan=0)
    st = await kv.status()
    assert st.values == 13, f"b's 2 and 7 are purged: {st.stream_info.state}"
    hist = await kv.history("a")
    assert [e.revision for e in hist] == [1, 3, 6, 9], brief(hist)
    try:
        await kv.history("b")
        raise AssertionError("b's delete marker went with purge_deletes")
    except NoKeysError:
        pass
    await stored_bytes(nc, js, "KV_KVB")

    # Invalid keys never leave nats-py.
    for bad in ("bad key", ".a", "a.", ""):
        try:
            await kv.put(bad, b"x")
            raise AssertionError(f"invalid key {bad!r}")
        except nats.js.errors.InvalidKeyError:
            pass

    assert await js.delete_key_value("KVB") is True
    try:
        await js.key_value("KVB")
        raise AssertionError("a deleted bucket is not found")
    except BucketNotFoundError:
        pass
    try:
        await js.delete_key_value("KVB")
        raise AssertionError("deleting a missing bucket fails")
    except NotFoundError as e:
        assert e.err_code == 10059 and e.description == "stream not found", e


async def kv_direct_memory(nc, js):
    """A memory bucket with allow_direct: gets go through $JS.API.DIRECT.GET."""
    kv = await js.create_key_value(KeyValueConfig(
        bucket="KVD", history=3, storage=StorageType.MEMORY, direct=True,
    ))
    si = await js.stream_info("KV_KVD")
    assert si.config.allow_direct is True and si.config.storage == StorageType.MEMORY, si.config
    assert si.config.max_age == 0.0 and si.config.max_bytes == -1, si.config
    assert si.config.max_msg_size == -1, si.config
    kv = await js.key_value("KVD")
    await kv.put("k", b"v1")
    await kv.put("k", b"v2")
    await kv.put("other", b"o")
    e = await kv.get("k")
    assert (e.value, e.revision) == (b"v2", 2), e
    e = await kv.get("k", revision=1)
    assert (e.value, e.revision) == (b"v1", 1), e
    await expect_key_gone(kv, "missing", "a missing key over direct get")
    await kv.delete("k")
    e = await expect_key_gone(kv, "k", "a deleted key over direct get")
    assert e.op == "DEL" and e.entry.revision == 4, (e.op, e.entry)

    # The direct get replies themselves.
    r = await nc.request("$JS.API.DIRECT.GET.KV_KVD.$KV.KVD.other", b"", timeout=2)
    assert r.data == b"o", r
    h = r.headers
    assert h.get("Nats-Stream") == "KV_KVD" and h.get("Nats-Subject") == "$KV.KVD.other", h
    assert h.get("Nats-Sequence") == "3" and h.get("Nats-Time-Stamp"), h
    r = await nc.request("$JS.API.DIRECT.GET.KV_KVD.$KV.KVD.missing", b"", timeout=2)
    assert r.data == b"" and r.headers.get("Status") == "404", (r.data, r.headers)
    assert r.headers.get("Description") == "Message Not Found", r.headers

    st = await kv.status()
    assert st.values == 4, st.stream_info.state
    # Memory store: subject + headers + payload + 16 per message.
    assert st.stream_info.state.bytes == sum([
        msg_size(StorageType.MEMORY, "$KV.KVD.k", b"", b"v1"),
        msg_size(StorageType.MEMORY, "$KV.KVD.k", b"", b"v2"),
        msg_size(StorageType.MEMORY, "$KV.KVD.other", b"", b"o"),
        msg_size(StorageType.MEMORY, "$KV.KVD.k", b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n", b""),
    ]), st.stream_info.state
    await stored_bytes(nc, js, "KV_KVD")

    # history=0 goes out as max_msgs_per_subject 0, which the server takes as no limit (-1);
    # nats-py will not open such a bucket.
    await js.create_key_value(KeyValueConfig(bucket="KVH0", history=0))
    si = await js.stream_info("KV_KVH0")
    assert si.config.max_msgs_per_subject == -1, si.config
    try:
        await js.key_value("KVH0")
        raise AssertionError("a bucket without a per-key limit is not a KV bucket to nats-py")
    except BadBucketError:
        pass
    try:
        await js.create_key_value(KeyValueConfig(bucket="KVH65", history=65))
        raise AssertionError("nats-py refuses history over 64")
    except KeyHistoryTooLargeError:
        pass

    await js.delete_key_value("KVH0")
    await js.delete_key_value("KVD")


async def kv_watch(js):
    """watch / watchall: the initial None marker, history, deletes, meta only, live updates."""
    kv = await js.create_key_value(KeyValueConfig(bucket="KVW", history=10))

    async def watching(w, expected, what):
        got = brief(await drain(w, len(expected)))
        assert got == expected, f"{what}: {got}"

    try:
        await kv.keys()
        raise AssertionError("no keys in an empty bucket")
    except NoKeysError:
        pass

    # On an empty bucket the first thing a watcher yields is None.
    w = await kv.watchall()
    await watching(w, [None], "a watch on an empty bucket starts with None")
    await kv.put("a", b"1")
    await kv.put("b", b"2")
    await kv.delete("a")
    await kv.purge("b")
    await watching(w, [
        ("a", b"1", 1, 0, None), ("b", b"2", 2, 0, None),
        ("a", b"", 3, 0, "DEL"), ("b", b"", 4, 0, "PURGE"),
    ], "live updates, markers included")
    await w.stop()
    rest = [e async for e in w]
    assert rest == [], f"a stopped watcher ends: {rest}"

    await kv.put("a", b"3")  # 5
    await kv.put("c.d", b"4")  # 6
    await kv.put("c.e", b"5")  # 7

    async def watched(expected, **kw):
        w = await kv.watchall(**kw)
        await watching(w, expected, f"watchall({kw})")
        await w.stop()
        return w

    await watched([
        ("b", b"", 4, 3, "PURGE"), ("a", b"3", 5, 2, None),
        ("c.d", b"4", 6, 1, None), ("c.e", b"5", 7, 0, None), None,
    ])
    # rev 2 went with the purge of b.
    await watched([
        ("a", b"1", 1, 5, None), ("a", b"", 3, 4, "DEL"), ("b", b"", 4, 3, "PURGE"),
        ("a", b"3", 5, 2, None), ("c.d", b"4", 6, 1, None), ("c.e", b"5", 7, 0, None), None,
    ], include_history=True)
    await watched([
        ("a", b"3", 5, 2, None), ("c.d", b"4", 6, 1, None), ("c.e", b"5", 7, 0, None), None,
    ], ignore_deletes=True)
    await watched([
        ("a", b"1", 1, 5, None), ("a", b"3", 5, 2, None),
        ("c.d", b"4", 6, 1, None), ("c.e", b"5", 7, 0, None), None,
    ], include_history=True, ignore_deletes=True)
    # meta_only: a headers-only consumer, so no values.
    await watched([
        ("b", b"", 4, 3, "PURGE"), ("a", b"", 5, 2, None),
        ("c.d", b"", 6, 1, None), ("c.e", b"", 7, 0, None), None,
    ], meta_only=True)

    w = await kv.watchall(meta_only=True)
    ci = await w._sub.consumer_info()
    assert ci.config.headers_only is True, ci.config
    assert ci.config.deliver_policy == "last_per_subject", ci.config
    assert ci.config.filter_subject == "$KV.KVW.>" and ci.config.flow_control is True, ci.config
    assert ci.config.mem_storage is True and ci.config.inactive_threshold == 300.0, ci.config
    await w.stop()

    # A filtered watch, with live updates only for what matches.
    w = await kv.watch("c.*")
    await watching(w, [("c.d", b"4", 6, 1, None), ("c.e", b"5", 7, 0, None), None], "c.*")
    await kv.put("a", b"ignored")  # 8
    await kv.put("c.f", b"6")  # 9
    await kv.delete("c.d")  # 10
    await watching(w, [("c.f", b"6", 9, 0, None), ("c.d", b"", 10, 0, "DEL")], "live c.*")
    await w.stop()

    # One key, with history.
    w = await kv.watch("a", include_history=True)
    await watching(w, [
        ("a", b"1", 1, 3, None), ("a", b"", 3, 2, "DEL"),
        ("a", b"3", 5, 1, None), ("a", b"ignored", 8, 0, None), None,
    ], "the history of a")
    await w.stop()

    # A key nothing was written to: None straight away, then its first write.
    w = await kv.watch("later")
    await watching(w, [None], "a key not written yet")
    await kv.put("later", b"now")  # 11
    await watching(w, [("later", b"now", 11, 0, None)], "its first write")
    await w.stop()

    # ignore_deletes on live updates too.
    w = await kv.watchall(ignore_deletes=True)
    await watching(w, [
        ("c.e", b"5", 7, 4, None), ("a", b"ignored", 8, 3, None),
        ("c.f", b"6", 9, 2, None), ("later", b"now", 11, 0, None), None,
    ], "ignore_deletes skips b and c.d")
    await kv.delete("later")
    await kv.put("z", b"z")
    await watching(w, [("z", b"z", 13, 0, None)], "the live delete is skipped")
    await w.stop()

    await js.delete_key_value("KVW")


async def kv_limits(nc, js):
    """max_value_size and max_bytes: refused as nats-server refuses them."""
    kv = await js.create_key_value(KeyValueConfig(bucket="KVS", max_value_size=64))
    assert await kv.put("k", b"x" * 64) == 1
    try:
        await kv.put("k", b"x" * 65)
        raise AssertionError("a value over max_value_size is refused")
    except BadRequestError as e:
        assert e.code == 400 and e.err_code == 10054, e
        assert e.description == "message size exceeds maximum allowed", e
    # The limit counts headers too: create adds a 52-byte header.
    assert await kv.create("c12", b"x" * 12) == 2
    try:
        await kv.create("c13", b"x" * 13)
        raise AssertionError("52 header bytes + 13 is over 64")
    except BadRequestError as e:
        assert e.err_code == 10054, e
    r = await nc.request("$KV.KVS.raw", b"x" * 65, timeout=2)
    assert json.loads(r.data) == {
        "error": {"code": 400, "err_code": 10054,
                  "description": "message size exceeds maximum allowed"},
        "stream": "KV_KVS", "seq": 0,
    }, r.data
    await js.delete_key_value("KVS")

    # max_bytes, discard new: a new key is refused when full, a replacement is not.
    kv = await js.create_key_value(KeyValueConfig(bucket="KVM", max_bytes=300, history=1))
    value = msg_size(StorageType.FILE, "$KV.KVM.k0", b"", b"x" * 50)
    small = msg_size(StorageType.FILE, "$KV.KVM.k0", b"", b"y" * 10)
    dele = msg_size(StorageType.FILE, "$KV.KVM.k1", b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n", b"")
    purge = msg_size(StorageType.FILE, "$KV.KVM.k1",
                     b"NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n", b"")
    new = msg_size(StorageType.FILE, "$KV.KVM.new", b"", b"")
    assert (value, small, dele, purge, new) == (90, 50, 75, 95, 41)
    for i in range(3):
        assert await kv.put(f"k{i}", b"x" * 50) == i + 1
    try:
        await kv.put("k3", b"x" * 50)
        raise AssertionError("a fourth 90-byte entry does not fit in 300 bytes")
    except ServiceUnavailableError as e:
        assert e.code == 503 and e.err_code == 10077, e
        assert e.description == "maximum bytes exceeded", e
    r = await nc.request("$KV.KVM.k3", b"x" * 50, timeout=2)
    assert json.loads(r.data) == {
        "error": {"code": 503, "err_code": 10077, "description": "maximum bytes exceeded"},
        "stream": "KV_KVM", "seq": 0,
    }, r.data
    st = await kv.status()
    assert st.values == 3 and st.stream_info.state.bytes == 270, st.stream_info.state
    # With history 1 a put to a key displaces its one entry: over max_bytes, it is still
    # taken if the displaced entry is at least as large (270 + 90 > 300, but 90 >= 90).
    try:
        await kv.put("k0", b"y" * 51)
        raise AssertionError("a 91-byte entry displacing a 90-byte one does not fit")
    except ServiceUnavailableError as e:
        assert e.err_code == 10077, e
    assert await accepted("a 90-byte entry displacing a 90-byte one in a full bucket",
                          kv.put("k0", b"y" * 50)) == 4
    assert await accepted("a 50-byte entry displacing a 90-byte one in a full bucket",
                          kv.put("k0", b"y" * 10)) == 5
    # A delete marker displaces k1's value: 230 + 75 is over 300, but 90 >= 75.
    assert await accepted("a delete marker displacing a 90-byte entry in a full bucket",
                          kv.delete("k1")) is True
    st = await kv.status()
    assert st.values == 3 and st.stream_info.state.bytes == 2 * value + small + dele - value, \
        st.stream_info.state
    # A purge marker displaces k1's delete marker: 215 + 95 is over 300 and 75 < 95.
    try:
        await kv.purge("k1")
        raise AssertionError("215 + 95 is over 300 and the displaced marker is smaller")
    except ServiceUnavailableError as e:
        assert e.err_code == 10077, e
    assert await kv.put("new", b"") == 7, "a new key of 41 bytes still fits (256)"
    st = await kv.status()
    assert st.values == 4 and st.stream_info.state.bytes == 256, st.stream_info.state
    assert await kv.put("k9", b"") == 8, "256 + 40 = 296 fits"
    try:
        await kv.put("k8", b"")
        raise AssertionError("296 + 40 does not")
    except ServiceUnavailableError as e:
        assert e.err_code == 10077, e
    await stored_bytes(nc, js, "KV_KVM")
    await js.delete_key_value("KVM")

    # Both stores refuse only past max_bytes: exactly full is fine.
    for storage, payload in ((StorageType.FILE, 110), (StorageType.MEMORY, 124)):
        kv = await js.create_key_value(KeyValueConfig(
            bucket="KVX", max_bytes=300, history=1, storage=storage,
        ))
        assert msg_size(storage, "$KV.KVX.k0", b"", b"x" * payload) == 150
        assert await kv.put("k0", b"x" * payload) == 1
        assert await accepted(f"{storage}: 150 + 150 is exactly max_bytes 300",
                              kv.put("k1", b"x" * payload)) == 2
        try:
            await kv.put("k2", b"")
            raise AssertionError(f"{storage}: nothing more fits")
        except ServiceUnavailableError as e:
            assert e.err_code == 10077, e
        await js.delete_key_value("KVX")


async def seed_buckets(js):
    """The buckets of fixtures/seed-assets (replicas 1 on a single server)."""
    assets = json.loads(ASSETS.read_text())["kv"]
    assert [a["bucket"] for a in assets] == \
        ["idempotency", "dr-leases", "policy-rollup", "sessions"], assets

    # As written (replicas 3) they need a cluster.
    try:
        await js.create_key_value(KeyValueConfig(bucket="idempotency", replicas=3, ttl=60))
        raise AssertionError("replicas 3 on a single server is refused")
    except ServerError as e:
        assert e.code == 500 and e.err_code == 10074, e
        assert e.description == "replicas > 1 not supported in non-clustered mode", e

    for a in assets:
        ttl = a["ttl"] / 1e9
        kv = await js.create_key_value(KeyValueConfig(
            bucket=a["bucket"], history=a["history"], ttl=ttl,
            max_bytes=a.get("max_bytes"), replicas=1,
        ))
        st = await kv.status()
        c = st.stream_info.config
        assert st.bucket == a["bucket"] and st.history == a["history"] and st.ttl == ttl, st
        assert c.name == f"KV_{a['bucket']}" and c.subjects == [f"$KV.{a['bucket']}.>"], c
        assert c.max_bytes == a.get("max_bytes", -1) and c.num_replicas == 1, c
        assert c.duplicate_window == min(ttl, 120.0), c
        assert c.storage == StorageType.FILE and c.discard == "new", c
        assert st.values == 0, st
        rev = await kv.create("seed", a["bucket"].encode())
        assert rev == 1 and (await kv.get("seed")).value == a["bucket"].encode()
        try:
            await kv.create("seed", b"again")
            raise AssertionError(f"{a['bucket']}: create is once only")
        except KeyWrongLastSequenceError:
            pass

    # An idempotency-like bucket at a small size: the same refusals as nats-server.
    kv = await js.create_key_value(KeyValueConfig(
        bucket="idem-small", history=1, ttl=86400, max_bytes=450, max_value_size=100,
    ))
    try:
        await kv.create("req-1", b"r" * 60)
        raise AssertionError("52 header bytes + 60 is over max_value_size 100")
    except BadRequestError as e:
        assert e.err_code == 10054, e
    entry = msg_size(StorageType.FILE, "$KV.idem-small.req-0",
                     b"NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 0\r\n\r\n", b"r" * 40)
    assert entry == 146, entry
    revs = [await kv.create(f"req-{i}", b"r" * 40) for i in range(3)]
    assert revs == [1, 2, 3], revs
    try:
        await kv.create("req-3", b"r" * 40)
        raise AssertionError("a fourth 146-byte entry does not fit in 450 bytes")
    except ServiceUnavailableError as e:
        assert e.err_code == 10077 and e.description == "maximum bytes exceeded", e
    try:
        await kv.create("req-0", b"r" * 40)
        raise AssertionError("an idempotency key is created once")
    except KeyWrongLastSequenceError as e:
        assert e.description == "wrong last sequence: 1", e.description

    for name in [a["bucket"] for a in assets] + ["idem-small"]:
        assert await js.delete_key_value(name) is True


async def leases(url, js):
    """A dr-leases bucket with a 1 s TTL: 20 clients race for one lease, twice."""
    await js.create_key_value(KeyValueConfig(bucket="dr-leases-short", history=1, ttl=1))
    clients = [await nats.connect(url) for _ in range(20)]
    kvs = [await c.jetstream().key_value("dr-leases-short") for c in clients]

    async def race():
        async def claim(i):
            try:
                return i, await kvs[i].create("region.primary", f"client-{i}".encode())
            except KeyWrongLastSequenceError:
                return i, None
        results = await asyncio.gather(*(claim(i) for i in range(20)))
        winners = [(i, rev) for i, rev in results if rev is not None]
        assert len(winners) == 1, f"exactly one client gets the lease: {winners}"
        return winners[0]

    won_at = time.monotonic()
    holder, rev = await race()
    assert rev == 1, rev
    e = await kvs[0].get("region.primary")
    assert e.value == f"client-{holder}".encode() and e.revision == rev, e

    # The holder renews with its revision; the entry's age starts again.
    await asyncio.sleep(0.3)
    renewed_at = time.monotonic()
    rev = await kvs[holder].update("region.primary", b"renewed", last=rev)
    assert rev == 2, rev
    try:
        await kvs[(holder + 1) % 20].update("region.primary", b"steal", last=1)
        raise AssertionError("a stale revision cannot take the lease")
    except KeyWrongLastSequenceError:
        pass

    async def lease():
        try:
            return (await kvs[0].get("region.primary")).value
        except KeyNotFoundError:
            return None

    assert await settle(lease, lambda v: v is None, "the lease expires", EXPIRY) is None
    took = time.monotonic() - renewed_at
    assert took >= 0.95, f"not before the 1 s TTL from the renewal ({took:.3f}s)"
    assert time.monotonic() - won_at >= 1.2, "the renewal kept it past the first TTL"
    st = await kvs[0].status()
    assert st.values == 0, st.stream_info.state

    holder, rev = await race()
    assert rev == 3, f"the second lease is the next revision: {rev}"
    e = await kvs[0].get("region.primary")
    assert e.value == f"client-{holder}".encode(), e

    for c in clients:
        await c.close()
    await js.delete_key_value("dr-leases-short")


async def bucket_ttl(js):
    """Entries go at the bucket TTL (max_age), without a marker."""
    kv = await js.create_key_value(KeyValueConfig(bucket="KVT", ttl=1))
    si = await js.stream_info("KV_KVT")
    assert si.config.max_age == 1.0 and si.config.duplicate_window == 1.0, si.config
    start = time.monotonic()
    await kv.put("a", b"1")
    await kv.put("b", b"2")
    await settle(kv.status, lambda s: s.values == 0, "entries expire at the bucket TTL", EXPIRY)
    took = time.monotonic() - start
    assert took >= 0.95, f"not before the TTL ({took:.3f}s)"
    e = await expect_key_gone(kv, "a", "an expired key")
    assert e.op is None, "no marker without limit_marker_ttl"
    si = await js.stream_info("KV_KVT")
    assert (si.state.first_seq, si.state.last_seq, si.state.bytes) == (3, 2, 0), si.state
    assert await kv.create("a", b"again") == 3, "an expired key can be created again"
    await js.delete_key_value("KVT")


async def per_key_ttl(nc, js):
    """create(msg_ttl=) and purge(msg_ttl=) send a Nats-TTL header; such entries expire."""
    kv = await js.create_key_value(KeyValueConfig(bucket="KVP", history=2))
    start = time.monotonic()
    assert await kv.create("short", b"s", msg_ttl=1) == 1
    await kv.put("long", b"l")  # 2
    await kv.put("gone", b"g")  # 3
    await kv.purge("gone", msg_ttl=1)  # 4: rolls up 3, and expires itself
    m = await js.get_msg("KV_KVP", subject="$KV.KVP.short")
    assert m.headers == {"Nats-Expected-Last-Subject-Sequence": "0", "Nats-TTL": "1"}, m.headers
    m = await js.get_msg("KV_KVP", subject="$KV.KVP.gone")
    assert m.headers == {"KV-Operation": "PURGE", "Nats-Rollup": "sub", "Nats-TTL": "1"}, m.headers
    assert (await kv.status()).values == 3
    await settle(kv.status, lambda s: s.values == 1, "the 1 s entries expire", EXPIRY)
    took = time.monotonic() - start
    assert took >= 0.95, f"not before their TTL ({took:.3f}s)"
    e = await expect_key_gone(kv, "short", "a key past its TTL")
    assert e.op is None, e.op
    assert (await kv.get("long")).value == b"l", "a key without a TTL stays"
    try:
        await kv.history("gone")
        raise AssertionError("nothing is left of a purged key once its marker expires")
    except NoKeysError:
        pass
    assert await kv.create("short", b"again") == 5

    # The raw refusals of a bad Nats-TTL.
    for ttl in ("bogus", "500ms", "0"):
        r = await nc.request("$KV.KVP.x", b"x", headers={"Nats-TTL": ttl}, timeout=2)
        assert json.loads(r.data) == {
            "error": {"code": 400, "err_code": 10165, "description": "invalid per-message TTL"},
            "stream": "KV_KVP", "seq": 0,
        }, f"Nats-TTL: {ttl}: {r.data}"
    r = await nc.request("$KV.KVP.x", b"x", headers={"Nats-TTL": "never"}, timeout=2)
    assert json.loads(r.data) == {"stream": "KV_KVP", "seq": 6}, r.data
    await js.delete_key_value("KVP")


async def limit_markers(js):
    """limit_marker_ttl: an expired key leaves a MaxAge marker that watchers see as a purge."""
    kv = await js.create_key_value(KeyValueConfig(bucket="KVL", ttl=1, limit_marker_ttl=1))
    st = await kv.status()
    assert st.marker_ttl == 1.0 and st.stream_info.config.allow_msg_ttl is True, st
    w = await kv.watchall()
    assert brief(await drain(w, 1)) == [None]
    start = time.monotonic()
    await kv.put("m", b"1")
    e = await w.updates(timeout=2)
    assert (e.key, e.value, e.revision, e.operation) == ("m", b"1", 1, None), e
    e = await w.updates(timeout=EXPIRY)
    took = time.monotonic() - start
    assert (e.key, e.value, e.revision, e.operation) == ("m", b"", 2, "PURGE"), e
    assert took >= 0.95, f"the marker comes at the TTL ({took:.3f}s)"
    m = await js.get_msg("KV_KVL", seq=2)
    assert m.subject == "$KV.KVL.m" and not m.data, m
    assert m.headers == {"Nats-Marker-Reason": "MaxAge", "Nats-TTL": "1s", "Nats-Rollup": "sub"}, \
        m.headers
    # nats-py's get() looks only at KV-Operation, so the marker reads as an empty value.
    e = await kv.get("m")
    assert (e.value, e.revision) == (None, 2), e
    st = await settle(kv.status, lambda s: s.values == 0, "the marker expires too", EXPIRY)
    assert st.stream_info.state.last_seq == 2, st.stream_info.state
    await expect_key_gone(kv, "m", "a key whose marker expired")
    assert brief(await drain(w, 0)) == [], "the marker's own expiry is silent"
    await w.stop()
    await js.delete_key_value("KVL")


def digest(data):
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


async def objects(nc, js):
    """put (bytes, file, stream), get, info, list, watch, delete, status."""
    obs = await js.create_object_store("OBJS", config=ObjectStoreConfig(
        description="objects", storage=StorageType.FILE,
    ))
    si = await js.stream_info("OBJ_OBJS")
    c = si.config
    assert c.subjects == ["$O.OBJS.C.>", "$O.OBJS.M.>"] and c.description == "objects", c
    assert c.discard == "new" and c.allow_rollup_hdrs is True and c.allow_direct is True, c
    assert c.max_bytes == -1 and c.max_age == 0.0 and c.max_consumers == -1, c
    assert c.sealed is False and c.deny_delete is False and c.deny_purge is False, c
    obs = await js.object_store("OBJS")
    try:
        await js.object_store("NOSUCH")
        raise AssertionError("a missing object store")
    except BucketNotFoundError:
        pass

    w = await obs.watch()
    assert await w.updates(timeout=1) is None, "a watch on an empty store starts with None"
    upd = await obs.watch(updates_only=True)

    info = await obs.put("small", b"hello")
    assert (info.name, info.bucket, info.size, info.chunks) == ("small", "OBJS", 5, 1), info
    assert info.digest == digest(b"hello") and info.deleted is False, info

    # A few MiB from a file, read in 128 KiB chunks.
    big = bytes(range(256)) * (3 * 4096 + 7)  # 3 MiB + 1792 bytes
    with tempfile.TemporaryFile() as f:
        f.write(big)
        f.seek(0)
        info = await obs.put("dir/big.bin", f)
    assert info.size == len(big) and info.chunks == math.ceil(len(big) / CHUNK) == 25, info
    assert info.digest == digest(big), info
    big_nuid = info.nuid

    # A stream with a smaller chunk size.
    mid = bytes(reversed(big[:700_000]))
    info = await obs.put("mid", io.BytesIO(mid), meta=ObjectMeta(
        description="mid", headers={"Content-Type": ["application/octet-stream"]},
        options=ObjectMetaOptions(max_chunk_size=64 * 1024),
    ))
    assert info.size == 700_000 and info.chunks == 11, info
    assert info.options.max_chunk_size == 64 * 1024, info

    empty = await obs.put("empty", b"")
    assert empty.size == 0 and empty.chunks == 0 and empty.digest == digest(b""), empty

    res = await obs.get("dir/big.bin")
    assert res.data == big, f"{len(res.data)} bytes back of {len(big)}"
    assert res.info.nuid == big_nuid and res.info.chunks == 25, res.info
    sink = io.BytesIO()
    await obs.get("mid", writeinto=sink)
    assert sink.getvalue() == mid, "get(writeinto=) writes the whole object"
    assert (await obs.get("empty")).data == b""
    assert (await obs.get("small")).data == b"hello"

    got = await obs.get_info("mid")
    assert (got.name, got.description, got.size, got.chunks) == ("mid", "mid", 700_000, 11), got
    assert got.headers == {"Content-Type": ["application/octet-stream"]}, got
    assert got.digest == digest(mid), got
    try:
        await obs.get_info("nope")
        raise AssertionError("info of a missing object")
    except ObjectNotFoundError:
        pass

    listed = await obs.list()
    assert [(i.name, i.size) for i in listed] == [
        ("small", 5), ("dir/big.bin", len(big)), ("mid", 700_000), ("empty", 0),
    ], listed

    seen = await drain(w, 4)
    assert [i.name for i in seen] == ["small", "dir/big.bin", "mid", "empty"], seen
    seen = await drain(upd, 4)
    assert [i.name for i in seen] == ["small", "dir/big.bin", "mid", "empty"], \
        f"updates_only sees new puts and no None: {seen}"

    si = await js.stream_info("OBJ_OBJS")
    assert si.state.messages == 1 + 25 + 11 + 4, si.state
    await stored_bytes(nc, js, "OBJ_OBJS")

    # Replacing an object drops its old chunks.
    info = await obs.put("small", b"hello again")
    assert info.nuid != (await obs.get_info("mid")).nuid and info.chunks == 1, info
    si = await js.stream_info("OBJ_OBJS")
    assert si.state.messages == 41, f"old chunk and meta replaced: {si.state}"
    assert (await obs.get("small")).data == b"hello again"

    # delete: a deleted meta entry, chunks purged.
    await obs.delete("dir/big.bin")
    try:
        await obs.get("dir/big.bin")
        raise AssertionError("a deleted object")
    except ObjectNotFoundError:
        pass
    gone = await obs.get_info("dir/big.bin", show_deleted=True)
    assert gone.deleted is True and gone.size == 0 and gone.chunks == 0, gone
    assert gone.digest == "" and gone.nuid == big_nuid, gone
    si = await js.stream_info("OBJ_OBJS")
    assert si.state.messages == 41 - 25, si.state
    try:
        await obs.delete("dir/big.bin")
        raise AssertionError("deleting a deleted object")
    except ObjectNotFoundError:
        pass

    seen = await drain(w, 2)
    assert [(i.name, i.deleted) for i in seen] == [("small", False), ("dir/big.bin", True)], seen
    assert [(i.name, i.deleted) for i in await drain(upd, 2)] == \
        [("small", False), ("dir/big.bin", True)]
    await w.stop()
    await upd.stop()

    assert [(i.name, i.deleted) for i in await obs.list()] == [
        ("mid", False), ("empty", False), ("small", False), ("dir/big.bin", True),
    ]
    assert [i.name for i in await obs.list(ignore_deletes=True)] == ["mid", "empty", "small"]

    st = await obs.status()
    assert st.bucket == "OBJS" and st.description == "objects" and st.sealed is False, st
    assert st.storage_type == StorageType.FILE and st.replicas == 1 and st.ttl == 0.0, st
    assert st.size == await stored_bytes(nc, js, "OBJ_OBJS"), st.stream_info.state

    # Over max_bytes the put fails and nats-py purges the chunks it sent.
    small = await js.create_object_store("OBJSMALL", config=ObjectStoreConfig(max_bytes=300_000))
    try:
        await small.put("too-big", big[:1_000_000])
        raise AssertionError("1 MB does not fit in 300 kB")
    except ServiceUnavailableError as e:
        assert e.err_code == 10077 and e.description == "maximum bytes exceeded", e
    si = await js.stream_info("OBJ_OBJSMALL")
    assert si.state.messages == 0 and si.state.bytes == 0, si.state
    try:
        await small.get_info("too-big")
        raise AssertionError("a failed put leaves no object")
    except ObjectNotFoundError:
        pass
    assert await js.delete_object_store("OBJSMALL") is True

    assert await js.delete_object_store("OBJS") is True
    try:
        await js.object_store("OBJS")
        raise AssertionError("a deleted object store")
    except BucketNotFoundError:
        pass


async def object_links_meta_seal(nc, js):
    """Links to objects and buckets, update_meta, then seal."""
    target = await js.create_object_store("OBJTARGET")
    await target.put("doc", b"linked content")
    obs = await js.create_object_store(
        "OBJLINK", config=ObjectStoreConfig(storage=StorageType.MEMORY),
    )
    await obs.put("own", b"own content")

    def link_meta(bucket, name=None):
        return ObjectMeta(options=ObjectMetaOptions(
            link=ObjectLink(bucket=bucket, name=name), max_chunk_size=CHUNK,
        ))

    li = await obs.put("to-doc", b"", meta=link_meta("OBJTARGET", "doc"))
    assert li.is_link() and li.size == 0 and li.chunks == 0, li
    got = await obs.get_info("to-doc")
    assert got.options.link == ObjectLink(bucket="OBJTARGET", name="doc"), got
    res = await obs.get("to-doc")
    assert res.data == b"linked content" and res.info.name == "doc", res.info
    assert res.info.bucket == "OBJTARGET", res.info
    await obs.put("to-own", b"", meta=link_meta("OBJLINK", "own"))
    assert (await obs.get("to-own")).data == b"own content"
    await obs.put("to-bucket", b"", meta=link_meta("OBJTARGET"))
    got = await obs.get_info("to-bucket")
    assert got.is_link() and got.options.link.name is None, got
    try:
        await obs.get("to-bucket")
        raise AssertionError("get of a link to a bucket")
    except LinkIsABucketError:
        pass
    raw = await js.get_last_msg("OBJ_OBJLINK", "$O.OBJLINK.M." +
                                base64.urlsafe_b64encode(b"to-doc").decode())
    assert raw.headers == {"Nats-Rollup": "sub"}, raw.headers
    meta = json.loads(raw.data)
    assert meta["options"]["link"] == {"bucket": "OBJTARGET", "name": "doc"}, meta

    # update_meta: description and headers change, the content does not.
    await obs.update_meta("own", ObjectMeta(
        name="own", description="described", headers={"X-Tag": ["a", "b"]},
    ))
    got = await obs.get_info("own")
    assert got.description == "described" and got.headers == {"X-Tag": ["a", "b"]}, got
    assert (await obs.get("own")).data == b"own content"
    # nats-py 2.16 checks the old name for a deleted entry, so every rename of a live
    # object is refused client-side.
    for new in ("renamed", "to-doc"):
        try:
            await obs.update_meta("own", ObjectMeta(name=new))
            raise AssertionError(f"nats-py refuses to rename own to {new}")
        except ObjectAlreadyExists:
            pass
    try:
        await obs.update_meta("missing", ObjectMeta(name="missing", description="x"))
        raise AssertionError("update_meta of a missing object")
    except ObjectDeletedError:
        pass

    st = await obs.status()
    assert st.storage_type == StorageType.MEMORY and st.sealed is False, st
    assert st.size == await stored_bytes(nc, js, "OBJ_OBJLINK"), st.stream_info.state

    # seal: the config flips, puts and deletes are refused, reads still work.
    await obs.seal()
    st = await obs.status()
    c = st.stream_info.config
    assert st.sealed is True, st
    assert (c.deny_delete, c.deny_purge, c.allow_rollup_hdrs) == (True, True, False), \
        f"sealing turns on deny_delete and deny_purge and off allow_rollup_hdrs: {c}"
    try:
        await obs.put("after", b"x")
        raise AssertionError("a put into a sealed store")
    except BadRequestError as e:
        # The chunk publish is refused, then nats-py's cleanup purge, which is what it raises.
        assert e.err_code == 10109 and e.description == "invalid operation on sealed stream", e
    r = await nc.request("$O.OBJLINK.C.raw", b"x", timeout=2)
    assert json.loads(r.data) == {
        "error": {"code": 400, "err_code": 10109,
                  "description": "invalid operation on sealed stream"},
        "stream": "OBJ_OBJLINK", "seq": 0,
    }, r.data
    try:
        await obs.delete("own")
        raise AssertionError("a delete in a sealed store")
    except BadRequestError as e:
        assert e.err_code == 10109, e
    assert (await obs.get("own")).data == b"own content"
    listed = [i.name for i in await obs.list()]
    assert listed == ["to-doc", "to-own", "to-bucket", "own"], f"own was updated last: {listed}"
    try:
        await js.update_stream(c.evolve(sealed=False))
        raise AssertionError("a sealed stream stays sealed")
    except ServerError as e:
        assert e.code == 500 and e.err_code == 10052, e
        assert e.description == "stream configuration update can not unseal a sealed stream", e

    assert await js.delete_object_store("OBJLINK") is True
    assert await js.delete_object_store("OBJTARGET") is True


async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()

    timings = []
    for name, section in [
        ("kv_basics", lambda: kv_basics(nc, js)),
        ("kv_direct_memory", lambda: kv_direct_memory(nc, js)),
        ("kv_watch", lambda: kv_watch(js)),
        ("kv_limits", lambda: kv_limits(nc, js)),
        ("seed_buckets", lambda: seed_buckets(js)),
        # The four sections that wait for 1 s TTLs run side by side.
        ("leases+bucket_ttl+per_key_ttl+limit_markers", lambda: asyncio.gather(
            leases(url, js), bucket_ttl(js), per_key_ttl(nc, js), limit_markers(js),
        )),
        ("objects", lambda: objects(nc, js)),
        ("object_links_meta_seal", lambda: object_links_meta_seal(nc, js)),
    ]:
        start = time.monotonic()
        await section()
        timings.append(f"{name} {time.monotonic() - start:.2f}s")

    await nc.close()
    print("ok:", ", ".join(timings))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
