//! `strom-load`: a load client for NATS servers that speaks the raw protocol over TCP and batches
//! its writes, so that the server, not the client, is what a run measures. Used by
//! `bench/compare.py` to put strom and nats-server side by side; see BENCHMARKS.md.
//!
//! Each subcommand prints one JSON line (for scripts) and one line for people.

mod conn;
mod latency;
mod progress;
mod proto;
mod publisher;
mod report;
mod scenario;
mod subscriber;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use publisher::Pacing;

#[derive(Parser)]
#[command(name = "strom-load", version, about = "Raw-protocol NATS load client")]
struct Cli {
    /// Server address, `host:port` (a `nats://` prefix is accepted).
    #[arg(long, global = true, default_value = "127.0.0.1:4222")]
    url: String,
    /// Runtime threads: 1 runs everything on one thread (the server under test keeps the other
    /// cores); more uses a multi-threaded runtime.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// Give up on a run after this long.
    #[arg(long, global = true, default_value_t = 300)]
    timeout_secs: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish-only throughput (no subscribers).
    #[command(name = "pub")]
    Publish(Load),
    /// One publisher, one subscriber: throughput at the subscriber.
    Pubsub(Load),
    /// One publisher, N subscriber connections on one subject.
    Fanout {
        #[arg(long, default_value_t = 8)]
        subs: usize,
        #[command(flatten)]
        load: Load,
    },
    /// One publisher, N subscribers in one queue group: each message delivered once.
    Queue {
        #[arg(long, default_value_t = 4)]
        members: usize,
        #[command(flatten)]
        load: Load,
    },
    /// Request/reply round-trip latency, one request at a time.
    Reqrep {
        /// Payload bytes of each request (and of the echoed reply).
        #[arg(long, default_value_t = 16)]
        size: usize,
        /// Measured requests.
        #[arg(long, default_value_t = 20_000)]
        count: u64,
        /// Requests sent first and not measured.
        #[arg(long, default_value_t = 1_000)]
        warmup: u64,
    },
    /// Request/reply latency of logged-in clients, quiet and then while `attackers`
    /// connections keep failing to log in (wrong password).
    Loginflood {
        #[arg(long)]
        user: String,
        /// The right password; attackers send it with a suffix.
        #[arg(long)]
        pass: String,
        #[arg(long, default_value_t = 8)]
        attackers: usize,
        #[arg(long, default_value_t = 16)]
        size: usize,
        /// Measured requests in each phase.
        #[arg(long, default_value_t = 5_000)]
        count: u64,
        #[arg(long, default_value_t = 500)]
        warmup: u64,
    },
    /// JetStream publish to a file stream with PubAcks, `window` outstanding (1: synchronous).
    Jspub {
        #[arg(long, default_value_t = 16)]
        size: usize,
        #[arg(long, default_value_t = 100_000)]
        msgs: u64,
        #[arg(long, default_value_t = 256)]
        window: u64,
    },
    /// A mirror (or a stream sourcing the origin) created over a filled stream: time to copy.
    Jsmirror {
        #[arg(long, default_value_t = 1024)]
        size: usize,
        #[arg(long, default_value_t = 100_000)]
        msgs: u64,
        /// A stream sourcing the origin instead of a mirror.
        #[arg(long)]
        source: bool,
    },
    /// JetStream direct get latency, by sequence or last-by-subject, on a filled stream.
    Jsget {
        #[arg(long, default_value_t = 128)]
        size: usize,
        /// Messages the stream is filled with first.
        #[arg(long, default_value_t = 100_000)]
        msgs: u64,
        /// Distinct subjects the messages are spread over.
        #[arg(long, default_value_t = 1000)]
        subjects: u64,
        /// Get the last message of a subject instead of a sequence.
        #[arg(long)]
        by_last: bool,
        /// Measured gets.
        #[arg(long, default_value_t = 20_000)]
        count: u64,
    },
    /// A durable pull consumer read in batches, acking each message or not.
    Jspull {
        #[arg(long, default_value_t = 16)]
        size: usize,
        #[arg(long, default_value_t = 200_000)]
        msgs: u64,
        #[arg(long, default_value_t = 1000)]
        batch: u64,
        /// Ack every message (ack policy explicit); otherwise ack policy none.
        #[arg(long)]
        ack: bool,
    },
    Jspush {
        #[arg(long, default_value_t = 16)]
        size: usize,
        #[arg(long, default_value_t = 200_000)]
        msgs: u64,
    },
    Jsredeliver {
        #[arg(long, default_value_t = 128)]
        size: usize,
        #[arg(long, default_value_t = 10_000)]
        msgs: u64,
        #[arg(long, default_value_t = 1000)]
        ack_wait_ms: u64,
    },
    Jsidle {
        #[arg(long, default_value_t = 1000)]
        consumers: u64,
    },
    Kvput {
        #[arg(long, default_value_t = 128)]
        size: usize,
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        #[arg(long, default_value_t = 100_000)]
        msgs: u64,
        #[arg(long, default_value_t = 256)]
        window: u64,
    },
    Kvget {
        #[arg(long, default_value_t = 128)]
        size: usize,
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        #[arg(long, default_value_t = 64)]
        window: u64,
    },
    Kvwatch {
        #[arg(long, default_value_t = 128)]
        size: usize,
        #[arg(long, default_value_t = 10_000)]
        keys: u64,
    },
    Kvscale {
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
    },
    Objclient {
        #[arg(long, default_value_t = 512)]
        mib: u64,
    },
    Object {
        #[arg(long, default_value_t = 256)]
        mib: u64,
        #[arg(long, default_value_t = 64)]
        window: u64,
    },
    /// Open many connections with many subscriptions each, print `ready`, and hold them.
    Conns {
        #[arg(long, default_value_t = 1000)]
        conns: usize,
        /// Subscriptions per connection, each on its own subject.
        #[arg(long, default_value_t = 100)]
        subs: usize,
        /// Hold for this long; without it, hold until stdin is closed.
        #[arg(long)]
        hold_secs: Option<u64>,
        /// While held, each connection publishes this many 16-byte messages per second to
        /// its first subject (0: idle).
        #[arg(long, default_value_t = 0)]
        publish_rate: u32,
    },
}

/// Arguments of the throughput scenarios.
#[derive(Args, Clone, Copy)]
struct Load {
    /// Payload bytes per message.
    #[arg(long, default_value_t = 16)]
    size: usize,
    /// Messages to publish.
    #[arg(long, default_value_t = 1_000_000)]
    msgs: u64,
    /// Target bytes per write (many PUB frames each).
    #[arg(long, default_value_t = 256 * 1024)]
    batch_bytes: usize,
    /// Bytes of messages allowed in flight ahead of the slowest subscriber.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    window_bytes: usize,
}

impl Load {
    fn pacing(&self) -> Pacing {
        Pacing {
            batch_bytes: self.batch_bytes,
            window_bytes: self.window_bytes,
        }
    }
}

fn main() -> ExitCode {
    match start(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of causes on one line, without a backtrace.
            eprintln!("strom-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start(cli: Cli) -> Result<()> {
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()?
    };
    let timeout = Duration::from_secs(cli.timeout_secs);
    runtime.block_on(async move {
        // Spawned so that on a multi-threaded runtime the scenario runs on a worker.
        tokio::spawn(run(cli, timeout))
            .await
            .context("the scenario panicked")?
    })
}

async fn run(cli: Cli, timeout: Duration) -> Result<()> {
    let addr = cli.url.trim_start_matches("nats://").to_owned();
    let addr = addr.as_str();
    if let Command::Conns {
        conns,
        subs,
        hold_secs,
        publish_rate,
    } = cli.command
    {
        // Holding is open-ended: the timeout covers only the connecting.
        let hold = scenario::conns::Hold {
            secs: hold_secs,
            publish_rate,
        };
        return scenario::conns::run(addr, conns, subs, hold, timeout).await;
    }
    let scenario = async {
        match cli.command {
            Command::Publish(l) => scenario::publish::run(addr, l.size, l.msgs, l.pacing()).await,
            Command::Pubsub(l) => scenario::pubsub::run(addr, l.size, l.msgs, l.pacing()).await,
            Command::Fanout { subs, load: l } => {
                scenario::fanout::run(addr, subs, l.size, l.msgs, l.pacing()).await
            }
            Command::Queue { members, load: l } => {
                scenario::queue::run(addr, members, l.size, l.msgs, l.pacing()).await
            }
            Command::Reqrep {
                size,
                count,
                warmup,
            } => scenario::reqrep::run(addr, size, count, warmup).await,
            Command::Loginflood {
                user,
                pass,
                attackers,
                size,
                count,
                warmup,
            } => {
                scenario::loginflood::run(addr, &user, &pass, attackers, size, count, warmup).await
            }
            Command::Jspub { size, msgs, window } => {
                scenario::jetstream::publish(addr, size, msgs, window).await
            }
            Command::Jsmirror { size, msgs, source } => {
                scenario::mirror::run(addr, size, msgs, source).await
            }
            Command::Jsget {
                size,
                msgs,
                subjects,
                by_last,
                count,
            } => scenario::jetstream::get(addr, size, msgs, subjects, by_last, count).await,
            Command::Jspull {
                size,
                msgs,
                batch,
                ack,
            } => scenario::consume::pull(addr, size, msgs, batch, ack).await,
            Command::Jspush { size, msgs } => scenario::consume::push(addr, size, msgs).await,
            Command::Jsredeliver {
                size,
                msgs,
                ack_wait_ms,
            } => scenario::consume::redeliver(addr, size, msgs, ack_wait_ms).await,
            Command::Jsidle { consumers } => scenario::consume::idle(addr, consumers).await,
            Command::Kvput {
                size,
                keys,
                msgs,
                window,
            } => scenario::kv::put(addr, size, keys, msgs, window).await,
            Command::Kvget {
                size,
                keys,
                count,
                window,
            } => scenario::kv::get(addr, size, keys, count, window).await,
            Command::Kvwatch { size, keys } => scenario::kv::watch(addr, size, keys).await,
            Command::Object { mib, window } => scenario::kv::object(addr, mib, window).await,
            Command::Kvscale { keys } => scenario::kv::scale(addr, keys).await,
            Command::Objclient { mib } => scenario::objclient::run(addr, mib).await,
            Command::Conns { .. } => unreachable!("handled above"),
        }
    };
    tokio::time::timeout(timeout, scenario)
        .await
        .with_context(|| format!("the run did not finish within {}s", timeout.as_secs()))?
}
