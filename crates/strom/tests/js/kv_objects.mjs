// nats.js (@nats-io/kv, @nats-io/obj) drives key-value buckets and the object store against a
// running server: `node kv_objects.mjs nats://127.0.0.1:4222`. Every check runs the same way
// against nats-server; the first failure prints what was expected and what came back, and the
// script exits 1. crates/strom/tests/node.rs runs it against strom.

import { createHash, randomBytes } from "node:crypto";
import { isDeepStrictEqual, inspect } from "node:util";

import { connect, headers } from "@nats-io/transport-node";
import { JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { KvWatchInclude, Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";

const url = process.argv[2];
if (!url) {
  console.error("usage: node kv_objects.mjs <server url, e.g. nats://127.0.0.1:4222>");
  process.exit(2);
}

const started = Date.now();
let current = "start";

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function show(v) {
  return inspect(v, { depth: 4, breakLength: Infinity, maxArrayLength: 30 });
}

function check(cond, message) {
  if (!cond) fail(message);
}

function eq(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) {
    fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function describeError(err) {
  if (err instanceof JetStreamApiError) {
    return `JetStreamApiError ${show(err.apiError())}`;
  }
  return `${err?.name ?? "error"}: ${err?.message ?? show(err)}`;
}

/** Awaits `p`, failing the check after `ms` milliseconds. */
async function within(ms, p, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn`, which must throw; returns the error. `test` says whether the error is the right one. */
async function rejects(what, fn, test) {
  let value;
  try {
    value = await within(5000, Promise.resolve().then(fn), what);
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    if (test && !test(err)) {
      fail(`${what}: failed, but with the wrong error: ${describeError(err)}`);
    }
    return err;
  }
  fail(`${what}: expected a failure, but it succeeded with ${show(value)}`);
}

function apiCode(code) {
  return (err) => err instanceof JetStreamApiError && err.code === code;
}

// JetStream API error codes (nats-server's err_code).
const WRONG_LAST_SEQUENCE = 10071;
const MESSAGE_TOO_BIG = 10054;

/** Reads entries from a QueuedIterator one at a time, each with a deadline. */
class Reader {
  constructor(iter, name) {
    this.iter = iter;
    this.name = name;
    this.it = iter[Symbol.asyncIterator]();
    this.pending = null;
  }

  async next(what, ms = 3000) {
    if (!this.pending) this.pending = this.it.next();
    const r = await within(ms, this.pending, `${this.name}: ${what}`);
    this.pending = null;
    if (r.done) fail(`${this.name}: ${what}: the iterator ended`);
    return r.value;
  }

  async take(n, what, ms = 3000) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next(`${what} (entry ${i + 1} of ${n})`, ms));
    return out;
  }

  /** Nothing more arrives within `ms`. */
  async quiet(what, ms = 250) {
    if (!this.pending) this.pending = this.it.next();
    const r = await Promise.race([
      this.pending,
      new Promise((resolve) => setTimeout(() => resolve("quiet"), ms)),
    ]);
    if (r === "quiet") return;
    this.pending = null;
    if (r.done) return;
    fail(`${this.name}: ${what}: expected nothing more, got ${show(summary(r.value))}`);
  }

  stop() {
    this.iter.stop();
  }
}

/** Drains an iterator that ends by itself (keys(), history(), list()). */
async function drain(iterPromise, what, ms = 5000) {
  return within(ms, (async () => {
    const out = [];
    for await (const v of await iterPromise) out.push(v);
    return out;
  })(), what);
}

function summary(e) {
  if (e && typeof e === "object" && "operation" in e) {
    return { key: e.key, op: e.operation, value: e.string(), revision: e.revision, isUpdate: e.isUpdate };
  }
  if (e && typeof e === "object" && "nuid" in e) {
    return { name: e.name, deleted: e.deleted ?? false, size: e.size, isUpdate: e.isUpdate };
  }
  return e;
}

const connections = [];

async function open(name) {
  const nc = await within(5000, connect({ servers: url, name }), `connect to ${url}`);
  connections.push(nc);
  return nc;
}

async function section(name, fn) {
  current = name;
  const t = Date.now();
  await within(12000, fn(), `${name} (whole section)`);
  console.log(`ok   ${name} (${Date.now() - t} ms)`);
}

// ---------------------------------------------------------------------------------------------

async function kvBuckets(nc) {
  const jsm = await jetstreamManager(nc);
  const kvm = new Kvm(nc);
  let kv;
  const expectedMessages = { count: 0 };

  await section("kv: bucket create with history, ttl, max_bytes, max_value_size, description", async () => {
    kv = await kvm.create("cfg", {
      history: 5,
      ttl: 60_000,
      max_bytes: 1024 * 1024,
      maxValueSize: 1024,
      description: "strom kv test",
    });
    const si = await jsm.streams.info("KV_cfg");
    const c = si.config;
    eq(c.name, "KV_cfg", "stream name");
    eq(c.subjects, ["$KV.cfg.>"], "stream subjects");
    eq(c.max_msgs_per_subject, 5, "max_msgs_per_subject (history)");
    eq(c.max_age, 60_000 * 1_000_000, "max_age (ttl, ns)");
    eq(c.duplicate_window, 60_000 * 1_000_000, "duplicate_window (capped at the ttl)");
    eq(c.max_bytes, 1024 * 1024, "max_bytes");
    eq(c.max_msg_size, 1024, "max_msg_size (max value size)");
    eq(c.description, "strom kv test", "description");
    eq(c.allow_rollup_hdrs, true, "allow_rollup_hdrs");
    eq(c.discard, "new", "discard policy");
    eq(c.retention, "limits", "retention");
    eq(c.storage, "file", "storage");
    eq(c.num_replicas, 1, "replicas");
    eq(c.allow_direct, true, "allow_direct");
    eq(si.state.messages, 0, "messages in a new bucket");

    // Creating it again binds to the existing bucket; open() binds without creating.
    const again = await kvm.create("cfg", { history: 5 });
    eq((await again.status()).history, 5, "history seen through a second create");
    const opened = await kvm.open("cfg");
    eq((await opened.status()).description, "strom kv test", "description seen through open()");
  });

  await section("kv: put and get (latest and by revision)", async () => {
    eq(await kv.put("a", "1"), 1, "revision of the first put");
    eq(await kv.put("a", "2"), 2, "revision of the second put");
    eq(await kv.put("b.x", "bx"), 3, "revision of put b.x");
    eq(await kv.put("b.y", "by"), 4, "revision of put b.y");
    eq(await kv.put("c.z", new Uint8Array([0, 1, 2, 255])), 5, "revision of a binary put");
    expectedMessages.count = 5;

    const e = await kv.get("a");
    check(e !== null, "get(a) returned null");
    eq(
      { bucket: e.bucket, key: e.key, value: e.string(), revision: e.revision, op: e.operation, length: e.length },
      { bucket: "cfg", key: "a", value: "2", revision: 2, op: "PUT", length: 1 },
      "get(a)",
    );
    check(e.created instanceof Date && Math.abs(Date.now() - e.created.getTime()) < 10_000,
      `get(a).created is not a recent time: ${show(e.created)}`);
    eq((await kv.get("a", { revision: 1 }))?.string(), "1", "get(a, revision 1)");
    eq(Array.from((await kv.get("c.z"))?.value ?? []), [0, 1, 2, 255], "binary value");
    eq(await kv.get("a", { revision: 3 }), null, "get(a, revision 3): revision 3 is b.x, not a");
    eq(await kv.get("missing"), null, "get of a key never put");
    eq(await kv.get("a", { revision: 999 }), null, "get of a revision past the end");

    await rejects("put of a value larger than max_value_size",
      () => kv.put("big", new Uint8Array(2000)), apiCode(MESSAGE_TOO_BIG));
    eq(await kv.get("big"), null, "the refused value is not stored");
  });

  let cRev;
  await section("kv: create only if absent", async () => {
    cRev = await kv.create("lock", "first");
    eq(cRev, 6, "revision of create");
    const err = await rejects("second create of the same key",
      () => kv.create("lock", "second"), apiCode(WRONG_LAST_SEQUENCE));
    check(/wrong last sequence/.test(err.message), `second create: unexpected message ${show(err.message)}`);
    eq((await kv.get("lock"))?.string(), "first", "value after the refused create");
    expectedMessages.count += 1;
  });

  await section("kv: update with the last revision", async () => {
    const r = await kv.update("lock", "updated", cRev);
    eq(r, 7, "revision of update");
    await rejects("update with a stale revision", () => kv.update("lock", "stale", cRev),
      apiCode(WRONG_LAST_SEQUENCE));
    await rejects("update with a revision from the future", () => kv.update("lock", "future", 100),
      apiCode(WRONG_LAST_SEQUENCE));
    await rejects("update of a key that does not exist", () => kv.update("nokey", "x", 1),
      apiCode(WRONG_LAST_SEQUENCE));
    eq((await kv.get("lock"))?.string(), "updated", "value after the refused updates");
    // put with previousSeq is the same check.
    eq(await kv.put("lock", "put-checked", { previousSeq: 7 }), 8, "put with previousSeq");
    expectedMessages.count += 2;
  });

  await section("kv: delete and purge", async () => {
    await kv.delete("a");
    const d = await kv.get("a");
    check(d !== null, "get(a) after delete returned null, expected the DEL marker");
    eq({ op: d.operation, revision: d.revision, length: d.length }, { op: "DEL", revision: 9, length: 0 },
      "get(a) after delete");
    eq((await kv.get("a", { revision: 2 }))?.string(), "2", "old revision readable after delete");

    await kv.put("b.x", "bx2");
    await kv.purge("b.x");
    const p = await kv.get("b.x");
    eq({ op: p?.operation, revision: p?.revision }, { op: "PURGE", revision: 11 }, "get(b.x) after purge");
    eq(await kv.get("b.x", { revision: 3 }), null, "purge removed the earlier revision 3 of b.x");

    // A deleted key can be created again (the client reads the DEL marker's revision).
    eq(await kv.create("a", "reborn"), 12, "create after delete");
    eq((await kv.get("a"))?.string(), "reborn", "value after create-after-delete");

    // Delete with a wrong previous revision is refused.
    await rejects("delete with a wrong previousSeq", () => kv.delete("b.y", { previousSeq: 1 }),
      apiCode(WRONG_LAST_SEQUENCE));
    // a:1,2 + b.x:3 + b.y:4 + c.z:5 + lock:6,7,8 + DEL a:9 + b.x:10 + PURGE b.x:11 (removes 3, 10) + a:12
    expectedMessages.count = 10;
    eq((await kv.status()).values, expectedMessages.count, "messages in the bucket after delete and purge");
  });

  await section("kv: keys() with and without a filter", async () => {
    const all = (await drain(kv.keys(), "keys()")).sort();
    eq(all, ["a", "b.y", "c.z", "lock"], "keys() (deleted and purged keys are left out)");
    eq((await drain(kv.keys("b.*"), "keys(b.*)")).sort(), ["b.y"], "keys(b.*)");
    eq((await drain(kv.keys("c.>"), "keys(c.>)")).sort(), ["c.z"], "keys(c.>)");
    eq((await drain(kv.keys(["a", "lock"]), "keys([a, lock])")).sort(), ["a", "lock"], "keys([a, lock])");
    eq(await drain(kv.keys("nothing.*"), "keys(nothing.*)"), [], "keys with a filter matching nothing");
  });

  await section("kv: history()", async () => {
    const h = await drain(kv.history({ key: "a" }), "history(a)");
    eq(h.map((e) => [e.operation, e.string(), e.revision]),
      [["PUT", "1", 1], ["PUT", "2", 2], ["DEL", "", 9], ["PUT", "reborn", 12]], "history(a)");
    const bx = await drain(kv.history({ key: "b.x" }), "history(b.x)");
    eq(bx.map((e) => [e.operation, e.revision]), [["PURGE", 11]], "history(b.x) after purge");

    // history keeps at most 5 revisions of a key.
    const revs = [];
    for (let i = 1; i <= 7; i++) revs.push(await kv.put("h", `v${i}`));
    const hh = await drain(kv.history({ key: "h" }), "history(h)");
    eq(hh.map((e) => e.string()), ["v3", "v4", "v5", "v6", "v7"], "history(h) keeps the last 5");
    eq(hh.map((e) => e.revision), revs.slice(2), "history(h) revisions");
    eq(await kv.get("h", { revision: revs[0] }), null, "revision dropped by the history limit");
    expectedMessages.count += 5;

    const everything = await drain(kv.history(), "history()");
    eq(everything.length, expectedMessages.count, "history() of the whole bucket");
    eq(await drain(kv.history({ key: "none" }), "history(none)"), [], "history of a key never put");
  });

  await section("kv: watch with history, ignore deletes, updates only, headers only", async () => {
    // include history: every stored revision of "a", then live updates.
    const wh = new Reader(await kv.watch({ key: "a", include: KvWatchInclude.AllHistory }), "watch(a, history)");
    const hist = await wh.take(4, "history of a");
    eq(hist.map((e) => [e.operation, e.string(), e.revision]),
      [["PUT", "1", 1], ["PUT", "2", 2], ["DEL", "", 9], ["PUT", "reborn", 12]], "watch history of a");
    eq(hist.slice(0, 3).map((e) => e.isUpdate), [false, false, false], "initial history entries are not updates");

    // last values (default) of the whole bucket, ignoring deletes.
    await kv.put("gone", "soon");
    await kv.delete("gone");
    const wi = new Reader(await kv.watch({ ignoreDeletes: true }), "watch(ignore deletes)");
    // last per subject: a, b.x (PURGE), b.y, c.z, gone (DEL, skipped), h, lock
    const initial = await wi.take(6, "initial values");
    eq(initial.map((e) => [e.key, e.operation]).sort(),
      [["a", "PUT"], ["b.x", "PURGE"], ["b.y", "PUT"], ["c.z", "PUT"], ["h", "PUT"], ["lock", "PUT"]],
      "initial values without the deleted key");
    eq(initial.map((e) => e.string()).filter((v) => v === "soon"), [], "no stale value of the deleted key");
    eq(initial.map((e) => e.revision), [...initial.map((e) => e.revision)].sort((x, y) => x - y),
      "initial values come in revision order");
    await wi.quiet("after the initial values");

    const wu = new Reader(await kv.watch({ include: KvWatchInclude.UpdatesOnly }), "watch(updates only)");
    await wu.quiet("before any update");
    const wh2 = new Reader(await kv.watch({ key: "b.*", headers_only: true }), "watch(b.*, headers only)");
    const hInit = await wh2.take(2, "initial values");
    eq(hInit.map((e) => [e.key, e.operation, e.value.length]).sort(),
      [["b.x", "PURGE", 0], ["b.y", "PUT", 0]], "headers-only initial values carry no data");
    eq(hInit.find((e) => e.key === "b.y")?.length, 2, "headers-only length of b.y (Nats-Msg-Size)");

    const rA = await kv.put("a", "live");
    await kv.delete("lock");
    const rB = await kv.put("b.y", "0123456789");

    const live = await wh.next("live update of a");
    eq([live.key, live.string(), live.revision, live.isUpdate], ["a", "live", rA, true], "watch(a, history) live entry");
    await wh.quiet("a watch of a sees only a");

    const ign = await wi.take(2, "updates");
    eq(ign.map((e) => [e.key, e.operation, e.isUpdate]), [["a", "PUT", true], ["b.y", "PUT", true]],
      "ignore-deletes watch skips the delete of lock");
    await wi.quiet("after the updates");

    const upd = await wu.take(3, "updates");
    eq(upd.map((e) => [e.key, e.operation, e.isUpdate]),
      [["a", "PUT", true], ["lock", "DEL", true], ["b.y", "PUT", true]], "updates-only watch");
    eq(upd[2].string(), "0123456789", "updates-only watch carries the data");

    const hl = await wh2.next("update of b.y");
    eq([hl.key, hl.revision, hl.value.length, hl.length, hl.isUpdate], ["b.y", rB, 0, 10, true],
      "headers-only live entry");
    for (const r of [wh, wi, wu, wh2]) r.stop();
    expectedMessages.count += 5; // gone (PUT, DEL), a, lock DEL, b.y (b.y stays within history)
  });

  await section("kv: watch on an empty bucket", async () => {
    const empty = await kvm.create("empty", { history: 2 });
    const w = new Reader(await empty.watch(), "watch(empty bucket)");
    await w.quiet("an empty bucket has no initial values");
    eq(await drain(empty.keys(), "keys() of an empty bucket"), [], "keys() of an empty bucket");
    eq(await drain(empty.history(), "history() of an empty bucket"), [], "history() of an empty bucket");
    await empty.put("first", "1");
    const e = await w.next("first put");
    eq([e.key, e.string(), e.revision, e.operation, e.isUpdate], ["first", "1", 1, "PUT", true],
      "first entry after the (empty) initial values is an update");
    w.stop();
    eq(await empty.destroy(), true, "destroy()");
    await rejects("status of a destroyed bucket", () => empty.status());
  });

  await section("kv: status()", async () => {
    const s = await kv.status();
    eq(
      {
        bucket: s.bucket, values: s.values, history: s.history, ttl: s.ttl, max_bytes: s.max_bytes,
        maxValueSize: s.maxValueSize, description: s.description, backingStore: s.backingStore,
        replicas: s.replicas, compression: s.compression,
      },
      {
        bucket: "cfg", values: expectedMessages.count, history: 5, ttl: 60_000, max_bytes: 1024 * 1024,
        maxValueSize: 1024, description: "strom kv test", backingStore: "file", replicas: 1, compression: false,
      },
      "status()",
    );
    check(s.size > 0, `status().size should be positive, got ${s.size}`);
    eq(s.streamInfo.config.name, "KV_cfg", "status().streamInfo stream name");
    const names = [];
    for await (const st of await kvm.list()) names.push(st.bucket);
    eq(names.sort(), ["cfg"], "Kvm.list() bucket names");
  });
}

// ---------------------------------------------------------------------------------------------

async function leaseRace(nc) {
  await section("kv: lease race (20 connections create one key, ttl 1 s)", async () => {
    const kvm = new Kvm(nc);
    await kvm.create("lease", { history: 1, ttl: 1000 });
    const lc = (await jetstreamManager(nc).then((m) => m.streams.info("KV_lease"))).config;
    eq([lc.max_age, lc.duplicate_window], [1e9, 1e9], "lease bucket max_age and duplicate_window (ns)");
    const contenders = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const c = await open(`lease-${i}`);
      return new Kvm(c).open("lease");
    }));
    const results = await within(5000, Promise.allSettled(
      contenders.map((b, i) => b.create("holder", `owner-${i}`)),
    ), "20 concurrent creates");
    const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    eq(winners.length, 1, `number of winning creates (winners: ${show(winners)})`);
    for (const [i, r] of results.entries()) {
      if (r.status === "rejected" && !apiCode(WRONG_LAST_SEQUENCE)(r.reason)) {
        fail(`losing create ${i} failed with the wrong error: ${describeError(r.reason)}`);
      }
    }
    const bucket = contenders[0];
    const held = await bucket.get("holder");
    eq([held?.string(), held?.revision], [`owner-${winners[0]}`, results[winners[0]].value], "the lease holder");

    // Nobody else gets it while it lives; once the TTL (max_age) expires it, a create succeeds.
    const expires = held.created.getTime() + 1000;
    const deadline = Date.now() + 4000;
    let attempts = 0;
    let rev = null;
    while (Date.now() < deadline) {
      attempts++;
      try {
        rev = await bucket.create("holder", "second-owner");
        break;
      } catch (err) {
        if (!apiCode(WRONG_LAST_SEQUENCE)(err)) {
          fail(`create while the lease is held failed with the wrong error: ${describeError(err)}`);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    check(rev !== null, `the key could not be created again within 4 s after the TTL (${attempts} attempts)`);
    const took = Date.now() - expires;
    check(took >= -50, `the key was created again ${-took} ms before the 1 s TTL expired`);
    eq((await bucket.get("holder"))?.string(), "second-owner", "the new lease holder");
    console.log(`     (re-created ${took} ms after the TTL, ${attempts} attempts)`);
  });
}

// ---------------------------------------------------------------------------------------------

function sha256Digest(bytes) {
  return "SHA-256=" + createHash("sha256").update(bytes).digest("base64url") + "=";
}

/** A ReadableStream handing out `data` in pieces of `piece` bytes. */
function streamOf(data, piece = 100_000) {
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= data.length) {
        controller.close();
        return;
      }
      controller.enqueue(data.subarray(off, off + piece));
      off += piece;
    },
  });
}

async function readAll(rs) {
  const parts = [];
  const reader = rs.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return Buffer.concat(parts);
}

async function objectStore(nc) {
  const jsm = await jetstreamManager(nc);
  const objm = new Objm(nc);
  let os;
  const big = randomBytes(3 * 1024 * 1024 + 12345);
  const chunk = 128 * 1024;
  let bigInfo;

  await section("obj: bucket create", async () => {
    os = await objm.create("files", { description: "strom obj test" });
    const c = (await jsm.streams.info("OBJ_files")).config;
    eq(c.subjects, ["$O.files.C.>", "$O.files.M.>"], "object store stream subjects");
    eq([c.allow_rollup_hdrs, c.allow_direct, c.discard, c.description],
      [true, true, "new", "strom obj test"], "object store stream config");
  });

  await section("obj: put a few MiB in chunks, get, compare bytes and digest", async () => {
    const info = await os.put({ name: "big.bin", description: "random bytes" }, streamOf(big));
    const chunks = Math.ceil(big.length / chunk);
    eq([info.name, info.size, info.chunks, info.digest, info.deleted],
      ["big.bin", big.length, chunks, sha256Digest(big), false], "put() result");
    const si = await jsm.streams.info("OBJ_files");
    eq(si.state.messages, chunks + 1, "stream messages after the put (chunks + meta)");
    eq(si.state.num_subjects, 2, "stream subjects after the put (chunk subject + meta subject)");

    const r = await os.get("big.bin");
    check(r !== null, "get(big.bin) returned null");
    const bytes = await within(8000, readAll(r.data), "reading big.bin");
    const readErr = await r.error;
    check(readErr == null, `get(big.bin) reported an error: ${show(readErr)}`);
    check(Buffer.compare(bytes, big) === 0,
      `get(big.bin) bytes differ: ${bytes.length} bytes, digest ${sha256Digest(bytes)}`);
    eq(r.info.digest, sha256Digest(big), "get(big.bin) info digest");

    const blob = await within(8000, os.getBlob("big.bin"), "getBlob(big.bin)");
    check(Buffer.compare(Buffer.from(blob), big) === 0, "getBlob(big.bin) bytes differ");

    const small = Buffer.from("hello object store");
    const h = headers();
    h.set("X-Test", "yes");
    await os.put({ name: "notes.txt", description: "a note", headers: h, metadata: { owner: "strom" } },
      streamOf(small, 5));
    eq(Buffer.from(await os.getBlob("notes.txt")).toString(), small.toString(), "getBlob(notes.txt)");
    const e = await os.putBlob({ name: "empty" }, new Uint8Array(0));
    eq([e.size, e.chunks, e.digest], [0, 0, sha256Digest(new Uint8Array(0))], "empty object");
    eq((await os.getBlob("empty"))?.length, 0, "getBlob(empty)");
    eq(await os.get("nothing"), null, "get of an object never put");
  });

  await section("obj: info and list", async () => {
    bigInfo = await os.info("big.bin");
    check(bigInfo !== null, "info(big.bin) returned null");
    eq(
      [bigInfo.name, bigInfo.bucket, bigInfo.size, bigInfo.chunks, bigInfo.digest, bigInfo.deleted,
        bigInfo.description, bigInfo.isLink()],
      ["big.bin", "files", big.length, Math.ceil(big.length / chunk), sha256Digest(big), false, "random bytes", false],
      "info(big.bin)",
    );
    check(bigInfo.revision > 0, `info(big.bin).revision: ${bigInfo.revision}`);
    check(!Number.isNaN(Date.parse(bigInfo.mtime)), `info(big.bin).mtime: ${bigInfo.mtime}`);
    const notes = await os.info("notes.txt");
    eq([notes.headers.get("X-Test"), notes.metadata, notes.description], ["yes", { owner: "strom" }, "a note"],
      "info(notes.txt) headers, metadata, description");
    eq(await os.info("nothing"), null, "info of an object never put");
    const list = await within(5000, os.list(), "list()");
    eq(list.map((i) => i.name).sort(), ["big.bin", "empty", "notes.txt"], "list()");
  });

  await section("obj: replace, delete, watch", async () => {
    const w = new Reader(await os.watch(), "watch()");
    const wh = new Reader(await os.watch({ includeHistory: true }), "watch(includeHistory)");
    const init = await wh.take(3, "existing objects");
    eq(init.map((i) => i.name).sort(), ["big.bin", "empty", "notes.txt"], "watch(includeHistory) initial");
    await w.quiet("a watch without history has no initial entries");

    // Replacing an object purges the old chunks.
    const old = await os.info("notes.txt");
    const replaced = await os.putBlob({ name: "notes.txt" }, Buffer.from("second version"));
    check(replaced.nuid !== old.nuid, "a replaced object has a new nuid");
    eq(Buffer.from(await os.getBlob("notes.txt")).toString(), "second version", "replaced content");
    const oldChunk = await jsm.streams.getMessage("OBJ_files", { last_by_subj: `$O.files.C.${old.nuid}` });
    check(oldChunk === null, `old chunks of notes.txt still stored after the replace (seq ${oldChunk?.seq})`);

    const ev = await w.next("replace of notes.txt");
    eq([ev.name, ev.deleted, ev.size, ev.isUpdate], ["notes.txt", false, 14, true], "watch entry for the replace");
    const evh = await wh.next("replace of notes.txt");
    eq([evh.name, evh.isUpdate], ["notes.txt", true], "watch(includeHistory) entry for the replace");

    const pr = await os.delete("notes.txt");
    eq([pr.success, pr.purged], [true, 1], "delete(notes.txt) purge response");
    const del = await w.next("delete of notes.txt");
    eq([del.name, del.deleted, del.size], ["notes.txt", true, 0], "watch entry for the delete");
    const gone = await os.info("notes.txt");
    eq([gone?.deleted, gone?.size], [true, 0], "info() of a deleted object");
    eq(await os.get("notes.txt"), null, "get() of a deleted object");
    eq((await os.list()).map((i) => i.name).sort(), ["big.bin", "empty"], "list() leaves out deleted objects");
    eq((await os.delete("never")).success, false, "delete of an object never put");
    w.stop();
    wh.stop();
  });

  await section("obj: links to an object and to a bucket", async () => {
    const other = await objm.create("other");
    await other.putBlob({ name: "o.txt" }, Buffer.from("in the other bucket"));

    const link = await os.link("big.link", bigInfo);
    check(link.isLink(), "link(big.link) is a link");
    eq(link.options.link, { bucket: "files", name: "big.bin" }, "link target");
    const viaLink = await within(8000, os.getBlob("big.link"), "getBlob(big.link)");
    check(Buffer.compare(Buffer.from(viaLink), big) === 0, "bytes read through the link differ");

    const cross = await os.link("o.link", await other.info("o.txt"));
    eq(cross.options.link, { bucket: "other", name: "o.txt" }, "link to an object in another bucket");
    eq(Buffer.from(await os.getBlob("o.link")).toString(), "in the other bucket", "getBlob through a cross-bucket link");

    const bl = await os.linkStore("bucket.link", other);
    eq(bl.options.link, { bucket: "other" }, "link to a bucket");
    await rejects("get() of a bucket link", () => os.get("bucket.link"), (e) => /link is a bucket/.test(e.message));
    await rejects("link over an existing object", () => os.link("empty", bigInfo),
      (e) => /already exists/.test(e.message));
    await rejects("link to a link", async () => os.link("x", await os.info("big.link")),
      (e) => /is a link/.test(e.message));
  });

  await section("obj: update meta", async () => {
    const before = await os.info("big.bin");
    await os.update("big.bin", { description: "updated", metadata: { v: "2" } });
    const after = await os.info("big.bin");
    eq([after.description, after.metadata, after.size, after.digest, after.nuid],
      ["updated", { v: "2" }, before.size, before.digest, before.nuid], "info after update");
    check(after.revision > before.revision, "update gives a new revision");
    const blob = await within(8000, os.getBlob("big.bin"), "getBlob(big.bin) after update");
    check(Buffer.compare(Buffer.from(blob), big) === 0, "bytes differ after the meta update");

    // rename
    await os.update("empty", { name: "empty.renamed" });
    eq(await os.info("empty"), null, "info() of the old name after a rename");
    eq((await os.info("empty.renamed"))?.size, 0, "info() of the new name after a rename");
    await rejects("rename onto an existing object", () => os.update("empty.renamed", { name: "big.bin" }),
      (e) => /already exists/.test(e.message));
  });

  await section("obj: status and seal", async () => {
    const s = await os.status();
    eq([s.bucket, s.description, s.sealed, s.backingStore, s.storage, s.replicas, s.ttl, s.compression],
      ["files", "strom obj test", false, "JetStream", "file", 1, 0, false], "status()");
    check(s.size > big.length, `status().size ${s.size} should exceed the big object's ${big.length} bytes`);
    eq(s.streamInfo.config.name, "OBJ_files", "status().streamInfo stream name");
    const buckets = [];
    for await (const st of await objm.list()) buckets.push(st.bucket);
    eq(buckets.sort(), ["files", "other"], "Objm.list() bucket names");

    const sealed = await os.seal();
    eq(sealed.sealed, true, "seal() result");
    eq((await os.status()).sealed, true, "status() after seal");
    await rejects("put into a sealed bucket", () => os.putBlob({ name: "late" }, Buffer.from("late")));
    eq(await os.info("late"), null, "nothing stored by the refused put");
    const blob = await within(8000, os.getBlob("big.bin"), "getBlob(big.bin) after seal");
    check(Buffer.compare(Buffer.from(blob), big) === 0, "bytes differ after seal");
    await rejects("delete in a sealed bucket", () => os.delete("big.bin"));
  });
}


/** Polls `probe` every 50 ms until it returns true, failing after `ms`. */
async function until(ms, probe, what) {
  return within(ms, (async () => {
    while (!(await probe())) await new Promise((r) => setTimeout(r, 50));
  })(), what);
}

async function kvMirrors(nc) {
  const kvm = new Kvm(nc);
  const jsm = await jetstreamManager(nc);
  let origin, mirror, sourced;
  // nats.js reads a (non-external) mirror bucket under its own name, which holds the origin's
  // subjects: the mirror's contents are read with direct gets on its stream.
  const fromMirror = async (key) => {
    try {
      const m = await jsm.direct.getMessage("KV_mmirror", { last_by_subj: `$KV.morigin.${key}` });
      return m ? { value: m.string(), seq: m.seq, op: m.header?.get("KV-Operation") || "PUT" } : null;
    } catch (e) {
      return null;
    }
  };

  await section("kv: a mirror bucket and a sourcing bucket follow their origin", async () => {
    origin = await kvm.create("morigin", { history: 3 });
    await origin.put("k1", "v1");
    await origin.put("k2", "v2");
    await origin.put("k1", "v1b");
    mirror = await kvm.create("mmirror", { history: 3, mirror: { name: "morigin" } });
    sourced = await kvm.create("msourced", { history: 3, sources: [{ name: "morigin" }] });
    await until(8000, async () => (await mirror.status()).values === 3, "the mirror holding 3 entries");
    await until(8000, async () => (await sourced.status()).values === 3, "the sourcing bucket holding 3 entries");
    eq(await fromMirror("k1"), { value: "v1b", seq: 3, op: "PUT" }, "k1 in the mirror (at the origin's revision)");
    eq((await sourced.get("k2"))?.string(), "v2", "sourcing bucket get(k2)");
    eq((await sourced.get("k1"))?.string(), "v1b", "sourcing bucket get(k1)");
    eq((await drain(sourced.keys(), "sourcing bucket keys()")).sort(), ["k1", "k2"], "sourcing bucket keys()");
    const hist = (await drain(sourced.history({ key: "k1" }), "sourcing bucket history(k1)")).map((e) => e.string());
    eq(hist, ["v1", "v1b"], "sourcing bucket history(k1)");
    const st = await mirror.status();
    eq(st.streamInfo.config.mirror?.name, "KV_morigin", "mirror stream config");
    eq(st.streamInfo.config.mirror_direct, true, "mirror_direct asked for by nats.js");
    eq(st.streamInfo.mirror?.name, "KV_morigin", "mirror info block");
  });

  await section("kv: deletes and new values reach the mirror and the sourcing bucket", async () => {
    await origin.delete("k2");
    await origin.put("k3", "v3");
    await until(8000, async () => (await fromMirror("k2"))?.op === "DEL", "the delete reaching the mirror");
    await until(8000, async () => (await fromMirror("k3"))?.value === "v3", "k3 reaching the mirror");
    await until(8000, async () => (await sourced.get("k2"))?.operation === "DEL", "the delete reaching the sourcing bucket");
    await until(8000, async () => (await sourced.get("k3"))?.string() === "v3", "k3 reaching the sourcing bucket");
  });
}

// ---------------------------------------------------------------------------------------------

try {
  const nc = await open("kv_objects");
  await kvBuckets(nc);
  await leaseRace(nc);
  await kvMirrors(nc);
  await objectStore(nc);
  current = "close";
  await within(5000, Promise.all(connections.map((c) => c.close())), "closing connections");
  console.log(`all checks passed in ${Date.now() - started} ms`);
  process.exit(0);
} catch (err) {
  const detail = err instanceof CheckFailed ? err.message : `unexpected ${describeError(err)}\n${err?.stack ?? ""}`;
  console.error(`FAIL [${current}] ${detail}`);
  process.exit(1);
}
