//! TLS on both sides (DESIGN.md §8), with rustls and its ring provider:
//! PEM loading, the server and client configurations, the facts operators
//! monitor (certificate expiry, names), and a bounded classification of
//! handshake failures for `optgate_tls_handshake_failures_total{side,reason}`.
//!
//! This module takes file paths, not configuration structs, so the config
//! validation can use it to refuse a broken file (at start and on SIGHUP)
//! without an import cycle.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;

use crate::telemetry::limit::LogLimiter;

/// TLS 1.2 and 1.3 only (rustls has nothing older).
static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Why a TLS configuration could not be built; names the file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("{0}")]
    Setup(String),
}

fn file_err(path: &str, why: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_string(),
        why: why.to_string(),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file, in order (leaf first for a chain).
pub fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no CERTIFICATE block in the file"));
    }
    Ok(certs)
}

/// The first private key in a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

fn load_roots(path: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path)? {
        roots.add(c).map_err(|e| file_err(path, e))?;
    }
    Ok(roots)
}

/// The system's trust store (for a carrier with a public certificate).
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError::Setup(
            "upstream.tls.ca is empty and no system trust store was found; name a CA bundle".into(),
        ));
    }
    Ok(roots)
}

/// What a certificate says that operators watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// Subject common name(s), then DNS and IP subject alternative names.
    pub names: Vec<String>,
}

impl CertFacts {
    /// Seconds until it expires (negative once expired).
    pub fn seconds_left(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.not_after - now
    }
}

/// Expiry and names of a DER certificate; `None` if it does not parse.
pub fn facts(cert: &CertificateDer<'_>) -> Option<CertFacts> {
    use x509_parser::extensions::GeneralName;
    let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let mut names: Vec<String> = x
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = x.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_string()),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    let a: [u8; 4] = [b[0], b[1], b[2], b[3]];
                    names.push(std::net::Ipv4Addr::from(a).to_string());
                }
                GeneralName::IPAddress(b) if b.len() == 16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(b);
                    names.push(std::net::Ipv6Addr::from(a).to_string());
                }
                _ => {}
            }
        }
    }
    Some(CertFacts {
        not_after: x.validity().not_after.timestamp(),
        names,
    })
}

/// A built server configuration and the facts of its certificate.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    /// The serving (leaf) certificate.
    pub leaf: CertFacts,
}

/// Builds the platform-side TLS configuration from PEM files; `client_ca`
/// empty means no client certificate is asked for.
pub fn server_config(cert: &str, key: &str, client_ca: &str) -> Result<ServerTls, TlsError> {
    let chain = load_certs(cert)?;
    let leaf =
        facts(&chain[0]).ok_or_else(|| file_err(cert, "the first certificate does not parse"))?;
    let key_der = load_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let verifier = if client_ca.is_empty() {
        WebPkiClientVerifier::no_client_auth()
    } else {
        WebPkiClientVerifier::builder_with_provider(Arc::new(load_roots(client_ca)?), provider())
            .build()
            .map_err(|e| file_err(client_ca, e))?
    };
    let config = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key_der)
        .map_err(|e| file_err(key, format!("does not fit {cert}: {e}")))?;
    Ok(ServerTls {
        config: Arc::new(config),
        leaf,
    })
}

/// A built client configuration, the name it verifies, and the facts of the
/// client certificate (when one is configured).
#[derive(Clone, Debug)]
pub struct ClientTls {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
    pub client_cert: Option<CertFacts>,
}

/// Builds the carrier-side TLS configuration. `ca` empty: the system's trust
/// store. `server_name` empty: the host of `address`. Verification is always
/// on: there is no switch to turn it off.
pub fn client_config(
    ca: &str,
    server_name: &str,
    address: &str,
    cert: &str,
    key: &str,
) -> Result<ClientTls, TlsError> {
    let roots = if ca.is_empty() {
        system_roots()?
    } else {
        load_roots(ca)?
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots);
    let (config, client_cert) = match (cert.is_empty(), key.is_empty()) {
        (true, true) => (builder.with_no_client_auth(), None),
        (false, false) => {
            let chain = load_certs(cert)?;
            let leaf = facts(&chain[0]);
            let c = builder
                .with_client_auth_cert(chain, load_key(key)?)
                .map_err(|e| file_err(key, format!("does not fit {cert}: {e}")))?;
            (c, leaf)
        }
        _ => {
            return Err(TlsError::Setup(
                "upstream.tls.cert and upstream.tls.key go together".into(),
            ))
        }
    };
    let name = if server_name.is_empty() {
        host_of(address)
    } else {
        server_name
    };
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| TlsError::Setup(format!("{name:?} is not a valid TLS server name")))?;
    Ok(ClientTls {
        config: Arc::new(config),
        server_name,
        client_cert,
    })
}

/// The host part of `host:port` or `[v6]:port`.
pub fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((h, _)) => h,
        None => address,
    }
}

/// Bounded reasons of a failed handshake (the metric's `reason` label).
pub fn failure_reason(e: &std::io::Error) -> &'static str {
    use rustls::{CertificateError as C, Error as E};
    if e.kind() == std::io::ErrorKind::TimedOut {
        return "timeout";
    }
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<E>()) else {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe => "closed",
            _ => "io",
        };
    };
    match tls {
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => "not_tls",
        E::NoCertificatesPresented => "no_client_certificate",
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "expired",
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => "not_yet_valid",
        E::InvalidCertificate(C::UnknownIssuer) => "unknown_ca",
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "wrong_name"
        }
        E::InvalidCertificate(_) => "bad_certificate",
        E::AlertReceived(_) => "alert_received",
        E::PeerIncompatible(_) => "incompatible",
        _ => "other",
    }
}

/// Counts a failed handshake and logs it, at most once per second per peer
/// address (a scanner or a misconfigured client must not flood the log);
/// the next line says how many were held back.
pub fn handshake_failed(side: &'static str, peer: &str, e: &std::io::Error) {
    static WARNINGS: std::sync::LazyLock<LogLimiter<String>> =
        std::sync::LazyLock::new(|| LogLimiter::new(Duration::from_secs(1)));
    let reason = failure_reason(e);
    metrics::counter!("optgate_tls_handshake_failures_total", "side" => side, "reason" => reason)
        .increment(1);
    if let Some(suppressed) = WARNINGS.allow(format!("{side} {peer}")) {
        tracing::warn!(side, peer, reason, suppressed, error = %e, "TLS handshake failed");
    }
}

/// Sets `optgate_tls_certificate_expiry_seconds{side,role}`.
pub fn report_expiry(side: &'static str, role: &'static str, cert: &CertFacts) {
    metrics::gauge!("optgate_tls_certificate_expiry_seconds", "side" => side, "role" => role)
        .set(cert.seconds_left() as f64);
}

/// The platform-side acceptor; SIGHUP swaps its configuration (new
/// handshakes use the new certificate, sessions stay up).
pub struct Acceptor {
    current: RwLock<ServerTls>,
}

/// A platform connection's transport as the bind check sees it.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity {
    /// The connection came through the TLS listener.
    pub tls: bool,
    /// Names of the client certificate (CN, SANs), if one was presented.
    pub names: Vec<String>,
}

impl Acceptor {
    pub fn new(tls: ServerTls) -> Acceptor {
        report_expiry("platform", "server", &tls.leaf);
        Acceptor {
            current: RwLock::new(tls),
        }
    }

    /// Uses `tls` for every later handshake.
    pub fn replace(&self, tls: ServerTls) {
        report_expiry("platform", "server", &tls.leaf);
        if let Ok(mut c) = self.current.write() {
            *c = tls;
        }
    }

    /// The serving certificate's facts.
    pub fn leaf(&self) -> Option<CertFacts> {
        self.current.read().ok().map(|c| c.leaf.clone())
    }

    /// Runs the handshake within `deadline`; counts and logs a failure.
    pub async fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        deadline: Duration,
    ) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, PeerIdentity)> {
        let config = self.current.read().ok()?.config.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let r = match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "handshake not finished within bind_timeout",
            )),
        };
        match r {
            Ok(s) => {
                let names = s
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(facts)
                    .map(|f| f.names)
                    .unwrap_or_default();
                Some((s, PeerIdentity { tls: true, names }))
            }
            Err(e) => {
                handshake_failed("platform", &peer.ip().to_string(), &e);
                None
            }
        }
    }
}

/// Connects to the carrier over TLS on an open TCP stream.
pub async fn connect(
    tls: &ClientTls,
    stream: TcpStream,
    peer: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, std::io::Error> {
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    match connector.connect(tls.server_name.clone(), stream).await {
        Ok(s) => {
            let carrier = s.get_ref().1.peer_certificates().and_then(|c| c.first());
            if let Some(f) = carrier.and_then(facts) {
                report_expiry("carrier", "server", &f);
            }
            Ok(s)
        }
        Err(e) => {
            handshake_failed("carrier", peer, &e);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_addresses() {
        assert_eq!(host_of("smsc.example.net:2775"), "smsc.example.net");
        assert_eq!(host_of("10.0.0.1:3550"), "10.0.0.1");
        assert_eq!(host_of("[::1]:3550"), "::1");
        assert_eq!(host_of("smsc"), "smsc");
    }

    #[test]
    fn missing_files_name_the_path() {
        let e = server_config("/nonexistent/cert.pem", "/nonexistent/key.pem", "")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/cert.pem"), "{e}");
    }

    #[test]
    fn failure_reasons_are_the_exported_labels() {
        use crate::telemetry::labels::TLS_FAILURE_REASONS;
        let io = |k| std::io::Error::new(k, "x");
        let tls = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        for e in [
            io(std::io::ErrorKind::TimedOut),
            io(std::io::ErrorKind::UnexpectedEof),
            io(std::io::ErrorKind::Other),
            tls(rustls::Error::NoCertificatesPresented),
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired,
            )),
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName,
            )),
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
            tls(rustls::Error::DecryptError),
        ] {
            let r = failure_reason(&e);
            assert!(TLS_FAILURE_REASONS.contains(&r), "{r} is not exported");
        }
        assert_eq!(
            failure_reason(&tls(rustls::Error::NoCertificatesPresented)),
            "no_client_certificate"
        );
    }
}
