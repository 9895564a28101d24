//! `strom`: runs the Strom server with nats-server's command line.
//!
//! `strom` and `strom server` both run the server. The binary only reads arguments, sets up
//! logging and signals, and calls into `strom-server`.

mod config;
mod flags;
mod help;
mod signal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use strom_server::auth::{Secret, User};
use strom_server::identity::NATS_VERSION;
use strom_server::tls::TlsOptions;
use strom_server::{info, log, warn, Controller, Options, Server};

/// mimalloc keeps freed buffers for reuse instead of handing pages back and faulting them in
/// again: outbound buffers grow and shrink with every burst (measured: ~7% of a fan-out
/// profile was page faults under the system allocator).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match flags::parse(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}\n\n{}", help::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strom: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(f: flags::Parsed) -> Result<()> {
    if f.switch("help") {
        print!("{}", help::USAGE);
        return Ok(());
    }
    if f.switch("version") {
        println!(
            "strom: v{} (nats-server v{NATS_VERSION} compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(());
    }
    if f.switch("help_tls") {
        print!("{}", help::TLS);
        return Ok(());
    }
    if let Some(spec) = f.value("signal") {
        return signal::send(spec);
    }
    if !f.rest.is_empty() {
        return Err(anyhow!("unexpected arguments: {}", f.rest.join(" ")));
    }
    let mut opts = match f.value("config") {
        Some(path) => config::load(path)?,
        None => config::Loaded::default(),
    };
    apply_flags(&f, &mut opts.options)?;
    if f.switch("t") {
        match f.value("config") {
            Some(path) => println!("strom: configuration file {path} is valid"),
            None => println!("strom: no configuration file given; the command line is valid"),
        }
        return Ok(());
    }
    strom_server::log::configure(&log_settings(&f, &opts)?)?;
    for (flag, what) in &f.not_yet {
        warn!("Flag --{flag} is accepted but not yet supported: Strom does not serve {what} yet");
    }
    for note in &opts.not_yet {
        warn!("{note}");
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("STROM_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder.worker_threads(n);
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let reloader = Reloader {
        config: f.value("config").map(str::to_string),
        flags: f,
    };
    runtime.block_on(serve(opts.options, reloader))
}

/// Logging from the flags over the configuration file.
fn log_settings(f: &flags::Parsed, opts: &config::Loaded) -> Result<log::Settings> {
    let (debug, trace) = levels(f, opts);
    // -T defaults to on; `-T=false` or `logtime: false` drops the timestamps.
    let timestamps = match f.value("logtime") {
        Some(v) => v == "true",
        None => opts.logtime || f.value("config").is_none(),
    };
    let format = match f.value("log_format") {
        Some(v) => v.parse()?,
        None => opts.log_format,
    };
    Ok(log::Settings {
        debug,
        trace,
        timestamps,
        utc: f.switch("logtime_utc") || opts.logtime_utc,
        format,
        file: f.value("log").map(PathBuf::from).or(opts.log_file.clone()),
        // nats-server: a limit of 0 or less never rotates.
        size_limit: f
            .int("log_size_limit")
            .map_or(opts.log_size_limit, |n| u64::try_from(n).unwrap_or(0)),
        max_files: opts.log_max_num,
        max_traced_msg_len: max_traced_msg_len(f, opts),
    })
}

/// Debug and trace from `-D`, `-V`, `-DV`, ... or the file.
fn levels(f: &flags::Parsed, opts: &config::Loaded) -> (bool, bool) {
    let trace =
        f.switch("trace") || f.switch("VV") || f.switch("DV") || f.switch("DVV") || opts.trace;
    let debug = f.switch("debug") || f.switch("DV") || f.switch("DVV") || opts.debug;
    (debug, trace)
}

fn max_traced_msg_len(f: &flags::Parsed, opts: &config::Loaded) -> usize {
    f.int("max_traced_msg_len")
        .map_or(opts.max_traced_msg_len, |n| usize::try_from(n).unwrap_or(0))
}

/// Command-line flags win over the configuration file, as in nats-server.
fn apply_flags(f: &flags::Parsed, o: &mut Options) -> Result<()> {
    if let Some(a) = f.value("addr") {
        o.host = a.to_string();
    }
    if let Some(p) = f.value("port") {
        let port: i64 = p.parse().with_context(|| format!("invalid port \"{p}\""))?;
        // nats-server: -1 asks for a random port.
        o.port = if port < 0 {
            0
        } else {
            u16::try_from(port).with_context(|| format!("invalid port {port}"))?
        };
    }
    if let Some(n) = f.value("name") {
        o.server_name = Some(n.to_string());
    }
    if let Some(p) = f.value("pid") {
        o.pid_file = Some(PathBuf::from(p));
    }
    if let Some(d) = f.value("ports_file_dir") {
        o.ports_file_dir = Some(PathBuf::from(d));
    }
    if let Some(p) = f.value("http_port") {
        o.http_port = monitor_port(p)?;
    }
    if let Some(p) = f.value("https_port") {
        o.https_port = monitor_port(p)?;
    }
    // nats-server: --user/--pass and --auth replace the file's authorization.
    if let Some(u) = f.value("user") {
        o.auth.users = vec![User {
            username: Some(u.to_string()),
            password: f.value("pass").map(Secret::new),
            ..User::default()
        }];
    }
    if let Some(t) = f.value("auth") {
        o.auth.token = Some(Secret::new(t));
    }
    // nats-server: --tlscert/--tlskey turn TLS on (--tls alone needs them too); --tlsverify
    // asks for client certificates signed by --tlscacert.
    if let (Some(cert), Some(key)) = (f.value("tlscert"), f.value("tlskey")) {
        let mut tls = TlsOptions::new(PathBuf::from(cert), PathBuf::from(key));
        tls.verify = f.switch("tlsverify");
        tls.ca_file = f.value("tlscacert").map(PathBuf::from);
        o.tls = Some(tls);
    } else if f.switch("tls") || f.switch("tlsverify") {
        return Err(anyhow!(
            "TLS needs a certificate and a key: --tlscert FILE --tlskey FILE"
        ));
    }
    if f.switch("jetstream") {
        o.jetstream = true;
    }
    if let Some(d) = f.value("store_dir") {
        o.store_dir = Some(PathBuf::from(d));
    }
    Ok(())
}

/// Re-reads the configuration file on SIGHUP, with the command line's flags over it again.
struct Reloader {
    config: Option<String>,
    flags: flags::Parsed,
}

impl Reloader {
    fn load(&self) -> Result<config::Loaded> {
        let mut loaded = match &self.config {
            Some(path) => config::load(path)?,
            None => config::Loaded::default(),
        };
        apply_flags(&self.flags, &mut loaded.options)?;
        Ok(loaded)
    }

    async fn reload(&self, ctl: &Controller) {
        info!("Reloading server configuration");
        match self.load() {
            Ok(loaded) => {
                let (debug, trace) = levels(&self.flags, &loaded);
                log::set_levels(debug, trace);
                log::set_max_traced_msg_len(max_traced_msg_len(&self.flags, &loaded));
                for note in ctl.reload(&loaded.options).await {
                    warn!("{note}");
                }
                info!("Reloaded server configuration");
            }
            Err(e) => strom_server::error!("Failed to reload server configuration: {e:#}"),
        }
    }
}

/// A monitoring port flag as nats-server reads it: 0 serves none, a negative port a random
/// one.
fn monitor_port(p: &str) -> Result<Option<u16>> {
    let port: i64 = p
        .parse()
        .with_context(|| format!("invalid monitoring port \"{p}\""))?;
    Ok(match port {
        0 => None,
        p if p < 0 => Some(0),
        p => Some(u16::try_from(p).with_context(|| format!("invalid monitoring port {p}"))?),
    })
}

async fn serve(opts: Options, reloader: Reloader) -> Result<()> {
    let config = reloader.config.clone();
    let config = config.as_deref();
    info!("Starting strom");
    info!(
        "  Version:  {} (nats-server {NATS_VERSION} compatible)",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(path) = config {
        info!("Using configuration file: {path}");
    }
    let pid_file = opts.pid_file.clone();
    let ports_dir = opts.ports_file_dir.clone();
    let server = Server::bind(opts).await?;
    let shared = server.shared().clone();
    info!("  Name:     {}", shared.server_name);
    info!("  ID:       {}", shared.server_id);
    server.start_jetstream().await?;
    server.start_monitoring().await?;
    if let Some(path) = &pid_file {
        std::fs::write(path, std::process::id().to_string())
            .with_context(|| format!("could not write pid file {}", path.display()))?;
    }
    let mut ports_file = None;
    if let Some(dir) = &ports_dir {
        let addr = server.local_addr()?;
        let path = dir.join(format!("strom_{}.ports", std::process::id()));
        let json = serde_json_ports(&shared.opts.host, addr.port());
        std::fs::write(&path, json)
            .with_context(|| format!("could not write ports file {}", path.display()))?;
        ports_file = Some(path);
    }
    spawn_signal_handlers(server.controller(), reloader)?;
    server.run().await;
    for path in [pid_file, ports_file].into_iter().flatten() {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn serde_json_ports(host: &str, port: u16) -> String {
    format!("{{\"nats\":[\"nats://{host}:{port}\"]}}")
}

/// SIGINT/SIGTERM shut down, SIGUSR2 enters lame duck mode, SIGHUP asks for a reload and
/// SIGUSR1 for reopening the log file — as nats-server.
fn spawn_signal_handlers(ctl: Controller, reloader: Reloader) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => { info!("Trapped \"interrupt\" signal"); ctl.shutdown(); }
                _ = term.recv() => { info!("Trapped \"terminated\" signal"); ctl.shutdown(); }
                _ = usr2.recv() => {
                    info!("Trapped \"user defined signal 2\" signal");
                    ctl.lame_duck();
                }
                _ = hup.recv() => {
                    info!("Trapped \"hangup\" signal");
                    reloader.reload(&ctl).await;
                }
                _ = usr1.recv() => {
                    info!("Trapped \"user defined signal 1\" signal");
                    match log::reopen() {
                        Ok(true) => info!("File log re-opened"),
                        Ok(false) => info!("File log re-open ignored, not a file logger"),
                        Err(e) => strom_server::error!("Could not reopen the log file: {e}"),
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    Ok(())
}
