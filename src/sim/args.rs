//! `optgate sim carrier` and `optgate sim load`: arguments and runners.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::carrier::{Carrier, CarrierOpts, CarrierStats};
use super::load::{self, LoadOpts, MixKind};

/// `optgate sim …`: test tools for your set-up.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Which tool.
    #[command(subcommand)]
    pub tool: SimTool,
}

/// The simulator tools.
#[derive(Debug, Subcommand)]
pub enum SimTool {
    /// A simulated carrier SMSC: answers submits, sends receipts, injects MOs.
    Carrier(CarrierArgs),
    /// A load generator ESME: binds, submits, reports throughput and latency.
    Load(LoadArgs),
    /// One message from a platform: bind, submit, print the answer, unbind.
    Send(SendArgs),
    /// One MO from a phone, delivered by a running `sim carrier` (its --control port).
    Mo(MoArgs),
    /// Test certificates for TLS: a private CA and a localhost server certificate.
    #[command(hide = true)]
    Certs(CertsArgs),
}

/// `optgate sim certs` arguments.
#[derive(Debug, Clone, Args)]
pub struct CertsArgs {
    /// Directory to write ca.pem, server.pem and server.key into (created if missing).
    #[arg(long)]
    pub dir: PathBuf,
}

/// `optgate sim send` arguments.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// optgate (or SMSC) address.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub target: SocketAddr,
    /// Bind system_id.
    #[arg(long, default_value = "pbx")]
    pub system_id: String,
    /// Bind password.
    #[arg(long, default_value = "secret")]
    pub password: String,
    /// Sender number (source_addr).
    #[arg(long, default_value = "14155550100")]
    pub from: String,
    /// Recipient number (destination_addr).
    #[arg(long)]
    pub to: String,
    /// The message (one part: 160 GSM or 70 UCS-2 characters).
    pub text: String,
}

/// `optgate sim mo` arguments.
#[derive(Debug, Clone, Args)]
pub struct MoArgs {
    /// The carrier simulator's control port.
    #[arg(long, default_value = "127.0.0.1:2777")]
    pub control: SocketAddr,
    /// The phone number the MO comes from.
    #[arg(long)]
    pub from: String,
    /// The number it is sent to (the platform's sender number).
    #[arg(long, default_value = "14155550100")]
    pub to: String,
    /// The text, e.g. STOP.
    pub text: String,
}

/// A rate such as `500/s` or `500`.
fn parse_rate(s: &str) -> Result<f64, String> {
    let n = s.trim().trim_end_matches("/s");
    n.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| format!("{s:?} is not a rate like 500/s"))
}

/// A share between 0 and 1.
fn parse_share(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("{s:?} is not a share between 0.0 and 1.0"))
}

/// `optgate sim carrier` arguments.
#[derive(Debug, Clone, Args)]
pub struct CarrierArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2776")]
    pub listen: SocketAddr,
    /// Delay before each submit response, e.g. 20ms.
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub delay: Duration,
    /// Send delivery receipts when registered_delivery asks for them.
    #[arg(long)]
    pub receipts: bool,
    /// Share of submits answered ESME_RTHROTTLED (0.0–1.0).
    #[arg(long, default_value = "0.0", value_parser = parse_share)]
    pub throttle_share: f64,
    /// MOs per second on each bound transceiver/receiver, e.g. 10/s.
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub mo_rate: f64,
    /// Share of MOs that say STOP (0.0–1.0).
    #[arg(long, default_value = "0.05", value_parser = parse_share)]
    pub mo_stop_share: f64,
    /// File of MO texts, one per line, used in turn.
    #[arg(long, value_name = "FILE")]
    pub mo_file: Option<PathBuf>,
    /// First subscriber number MOs come from.
    #[arg(long, default_value_t = 15_550_000_000)]
    pub mo_from: u64,
    /// How many subscriber numbers MOs come from (mo-from upwards).
    #[arg(long, default_value_t = 1000)]
    pub mo_senders: u64,
    /// The number MOs are addressed to.
    #[arg(long, default_value = "14155550100")]
    pub mo_to: String,
    /// Only accept binds with this system_id (with --password).
    #[arg(long, requires = "password")]
    pub system_id: Option<String>,
    /// Only accept binds with this password (with --system-id).
    #[arg(long, requires = "system_id")]
    pub password: Option<String>,
    /// Worker threads [default: 1].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Control port for `optgate sim mo` (one-shot MOs); "off" for none.
    #[arg(long, default_value = "127.0.0.1:2777", value_parser = parse_control)]
    pub control: ControlAddr,
    /// Print each submitted message (sender, recipient, text) and each one-shot MO.
    #[arg(long)]
    pub print: bool,
    /// Listen over TLS with this certificate chain (PEM, leaf first; with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `--control`: an address, or none ("off").
#[derive(Debug, Clone, Copy)]
pub struct ControlAddr(pub Option<SocketAddr>);

fn parse_control(s: &str) -> Result<ControlAddr, String> {
    if s == "off" {
        return Ok(ControlAddr(None));
    }
    s.parse()
        .map(|a| ControlAddr(Some(a)))
        .map_err(|_| format!("{s:?} is not an address like 127.0.0.1:2777 or off"))
}

/// `optgate sim load` arguments.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// SMSC or optgate address.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub target: SocketAddr,
    /// Bind system_id.
    #[arg(long, default_value = "pbx")]
    pub system_id: String,
    /// Bind password.
    #[arg(long, default_value = "secret")]
    pub password: String,
    /// Number of transceiver binds.
    #[arg(long, default_value_t = 4)]
    pub binds: usize,
    /// Submits in flight per bind.
    #[arg(long, default_value_t = 100)]
    pub window: usize,
    /// Without --rate: refill a bind's window once this many slots are
    /// free [default: a quarter of the window].
    #[arg(long)]
    pub refill: Option<usize>,
    /// Total submits per second, e.g. 50000/s [default: open throttle].
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Total submit_sm to send.
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// How long to send, e.g. 10s [default: 10s unless --count].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Message kinds sent in turn: gsm7, ucs2, multipart.
    #[arg(long, value_delimiter = ',', default_value = "gsm7")]
    pub mix: Vec<MixKind>,
    /// Distinct recipient numbers.
    #[arg(long, default_value_t = 1000)]
    pub recipients: u64,
    /// Sender number (source_addr).
    #[arg(long, default_value = "14155550100")]
    pub sender: String,
    /// Ask for a delivery receipt on every submit.
    #[arg(long)]
    pub registered_delivery: bool,
    /// Worker threads [default: 1].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Connect over TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// The name the target's certificate must carry (with --tls-ca).
    #[arg(long, default_value = "localhost", requires = "tls_ca")]
    pub tls_name: String,
}

/// Runs a simulator subcommand and returns the exit code.
pub fn main(args: SimArgs) -> ExitCode {
    let threads = match &args.tool {
        SimTool::Carrier(a) => a.threads,
        SimTool::Load(a) => a.threads,
        SimTool::Send(_) | SimTool::Mo(_) => Some(1),
        SimTool::Certs(a) => return run_certs(a),
    };
    // One thread unless asked: each connection is one task, and a second
    // worker costs cross-thread wake-ups (futex calls) per batch.
    let mut builder = match threads {
        Some(n) if n > 1 => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.tool {
        SimTool::Carrier(a) => rt.block_on(run_carrier(a)),
        SimTool::Load(a) => rt.block_on(run_load(a)),
        SimTool::Send(a) => rt.block_on(run_send(a)),
        SimTool::Mo(a) => rt.block_on(run_mo(a)),
        SimTool::Certs(a) => run_certs(&a),
    }
}

fn run_certs(a: &CertsArgs) -> ExitCode {
    match super::certs::write(&a.dir) {
        Ok(()) => {
            println!(
                "wrote ca.pem, server.pem, server.key (localhost, 127.0.0.1) in {}",
                a.dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sim certs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn path_str(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Exit code of `sim send` / `sim mo` when the peer answered with an error
/// status (1 is for not getting an answer at all).
const EXIT_REFUSED: u8 = 2;

async fn run_send(a: SendArgs) -> ExitCode {
    let opts = super::send::SendOpts {
        target: a.target,
        system_id: a.system_id,
        password: a.password,
        from: a.from,
        to: a.to,
        text: a.text,
    };
    match super::send::send(&opts).await {
        Ok(sent) => {
            println!("{sent}");
            if sent.status == crate::pdu::status::ESME_ROK {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_REFUSED)
            }
        }
        Err(e) => {
            eprintln!("sim send: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_mo(a: MoArgs) -> ExitCode {
    match super::carrier::inject::send_mo(a.control, &a.from, &a.to, &a.text).await {
        Ok(code) => {
            let name = crate::pdu::status::status_name(code);
            println!("delivered: deliver_sm_resp {code:#x} ({name})");
            if code == crate::pdu::status::ESME_ROK {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_REFUSED)
            }
        }
        Err(e) => {
            eprintln!("sim mo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn carrier_opts(a: CarrierArgs) -> std::io::Result<CarrierOpts> {
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => {
            let t = crate::tls::server_config(&path_str(cert), &path_str(key), "")
                .map_err(std::io::Error::other)?;
            Some(t.config)
        }
        _ => None,
    };
    let mo_texts = match &a.mo_file {
        Some(p) => std::fs::read_to_string(p)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    Ok(CarrierOpts {
        listen: a.listen,
        delay: a.delay,
        receipts: a.receipts,
        throttle_share: a.throttle_share,
        mo_rate: a.mo_rate,
        mo_stop_share: a.mo_stop_share,
        mo_texts,
        mo_from: a.mo_from,
        mo_senders: a.mo_senders,
        mo_to: a.mo_to,
        credentials: a.system_id.zip(a.password),
        control: a.control.0,
        print: a.print,
        tls,
    })
}

fn print_stats(s: &CarrierStats) {
    eprintln!(
        "binds={} submits={} throttled={} receipts={}/{} acked mos={}/{} acked ({} STOP)",
        s.binds,
        s.submits,
        s.throttled,
        s.receipts_acked,
        s.receipts_sent,
        s.mos_acked,
        s.mos_sent,
        s.mo_stops
    );
}

async fn run_carrier(a: CarrierArgs) -> ExitCode {
    let carrier = match carrier_opts(a) {
        Ok(opts) => Carrier::start(opts).await,
        Err(e) => Err(e),
    };
    let carrier = match carrier {
        Ok(c) => c,
        Err(e) => {
            eprintln!("carrier simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts wait for this line before starting a load.
    println!("listening on {}", carrier.addr());
    match carrier.control() {
        Ok(c) => println!("control port (optgate sim mo) on {c}"),
        Err(why) => eprintln!("{why}: optgate sim mo cannot reach this simulator"),
    }
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last = carrier.stats();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let now = carrier.stats();
                if now != last {
                    print_stats(&now);
                    last = now;
                }
            }
        }
    }
    print_stats(&carrier.stats());
    carrier.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGINT or SIGTERM (never, if neither can be installed).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! { _ = t.recv() => {}, _ = i.recv() => {} }
        }
        _ => std::future::pending().await,
    }
}

async fn run_load(a: LoadArgs) -> ExitCode {
    let tls = match &a.tls_ca {
        None => None,
        Some(ca) => match crate::tls::client_config(&path_str(ca), &a.tls_name, "", "", "") {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("load generator: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let opts = LoadOpts {
        target: a.target,
        system_id: a.system_id,
        password: a.password,
        binds: a.binds,
        window: a.window,
        refill: a.refill,
        rate: a.rate.unwrap_or(0.0),
        count: a.count,
        duration: a.duration,
        mix: a.mix,
        recipients: a.recipients,
        sender: a.sender,
        registered_delivery: a.registered_delivery,
        tls,
        ..LoadOpts::default()
    };
    match load::run(&opts).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("load generator: {e}");
            ExitCode::FAILURE
        }
    }
}
