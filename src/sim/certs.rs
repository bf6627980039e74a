//! `optgate sim certs --dir DIR`: certificates for TLS test runs (the
//! benchmark, trying a TLS listener by hand). Writes a private CA
//! (`ca.pem`) and a server certificate for localhost and 127.0.0.1
//! (`server.pem`, leaf then CA, and `server.key`), made with rcgen so no
//! OpenSSL tool (nor its version or config file) is needed. Never for
//! production: the CA key is thrown away, the certificate lasts 30 days.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// Why the certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("making the certificates: {0}")]
    Make(#[from] rcgen::Error),
    #[error("{0}: {1}")]
    Write(String, std::io::Error),
}

fn put(dir: &Path, name: &str, pem: &str) -> Result<(), CertsError> {
    let path = dir.join(name);
    std::fs::write(&path, pem).map_err(|e| CertsError::Write(path.display().to_string(), e))
}

/// Writes `ca.pem`, `server.pem` and `server.key` into `dir` (created if
/// missing), valid from an hour ago (clock skew) for 30 days.
pub fn write(dir: &Path) -> Result<(), CertsError> {
    std::fs::create_dir_all(dir).map_err(|e| CertsError::Write(dir.display().to_string(), e))?;
    let now = SystemTime::now();
    let from = now - Duration::from_secs(3600);
    let until = now + Duration::from_secs(30 * 86_400);

    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "optgate test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = from.into();
    ca.not_after = until.into();
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.not_before = from.into();
    leaf.not_after = until.into();
    let key = KeyPair::generate()?;
    let cert = leaf.signed_by(&key, &issuer)?;

    put(dir, "ca.pem", &issuer.pem())?;
    put(
        dir,
        "server.pem",
        &format!("{}{}", cert.pem(), issuer.pem()),
    )?;
    put(dir, "server.key", &key.serialize_pem())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_make_both_tls_configurations() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path()).unwrap();
        let p = |n: &str| dir.path().join(n).display().to_string();
        let server = crate::tls::server_config(&p("server.pem"), &p("server.key"), "").unwrap();
        assert!(server.leaf.names.contains(&"localhost".to_owned()));
        assert!(server.leaf.names.contains(&"127.0.0.1".to_owned()));
        let left = server.leaf.seconds_left();
        assert!((29 * 86_400..=30 * 86_400).contains(&left), "{left}");
        crate::tls::client_config(&p("ca.pem"), "localhost", "", "", "").unwrap();
    }
}
