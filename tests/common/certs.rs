//! Certificates made at test time (rcgen): a private CA, a server
//! certificate for localhost / 127.0.0.1, client certificates, an expired
//! one and one for the wrong name, all as PEM files in a directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A certificate and its key, written as `NAME.pem` and `NAME.key`.
pub struct Files {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Files {
    pub fn cert(&self) -> String {
        self.cert.display().to_string()
    }
    pub fn key(&self) -> String {
        self.key.display().to_string()
    }
}

/// A private certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub file: PathBuf,
    dir: PathBuf,
}

impl Ca {
    /// A new CA named `name`; its certificate is written to `dir/NAME-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        let file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&file, issuer.pem()).unwrap();
        Ca {
            issuer,
            file,
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> String {
        self.file.display().to_string()
    }

    /// A leaf certificate with `cn` and the SANs `names`, valid from
    /// `not_before` to `not_after` (years), written as `file.pem/.key`.
    pub fn issue(&self, file: &str, cn: &str, names: &[&str], years: (i32, i32)) -> Files {
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        p.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        self.write(file, &p)
    }

    /// A leaf for localhost valid between two dates (y, m, d).
    pub fn issue_dates(
        &self,
        file: &str,
        cn: &str,
        from: (i32, u8, u8),
        until: (i32, u8, u8),
    ) -> Files {
        let mut p = CertificateParams::new(vec![cn.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        p.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
        self.write(file, &p)
    }

    fn write(&self, file: &str, p: &CertificateParams) -> Files {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let files = Files {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    /// A currently valid leaf (2020 to 2100).
    pub fn leaf(&self, file: &str, cn: &str, names: &[&str]) -> Files {
        self.issue(file, cn, names, (2020, 2100))
    }

    /// A rustls client configuration trusting this CA, with an optional
    /// client certificate.
    pub fn client_config(&self, client: Option<&Files>) -> Arc<rustls::ClientConfig> {
        let c = optgate::tls::client_config(
            &self.path(),
            "localhost",
            "localhost:0",
            &client.map(Files::cert).unwrap_or_default(),
            &client.map(Files::key).unwrap_or_default(),
        )
        .unwrap();
        c.config
    }
}

/// Connects to `addr` over TLS with `config`, verifying `name`.
pub async fn connect(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}
