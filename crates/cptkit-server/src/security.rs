//! TLS, mutual TLS and bearer tokens, loaded from files and reloadable without a restart.
//!
//! [`Security`] holds what the accept path and the auth layer read on every connection and request:
//! the rustls server configuration (certificate, key, client CA) and the tokens file. [`Security::reload`]
//! re-reads them all and swaps them atomically; on any error the old ones stay. A new connection uses
//! the configuration current when it is accepted; an established one keeps its certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;
use crate::tokens::Tokens;

/// The files behind TLS: certificate chain and key (PEM), and the CA that client certificates must
/// chain to (mutual TLS), if any.
#[derive(Debug, Clone)]
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
}

/// TLS configuration, tokens and connection limits of a server; shared by the accept path and the
/// auth layer, reloadable ([`Security::reload`]).
#[derive(Debug)]
pub struct Security {
    tls_files: Option<TlsFiles>,
    /// gRPC-Web is served: offer HTTP/1.1 beside h2 in the TLS handshake.
    grpc_web: bool,
    tokens_file: Option<PathBuf>,
    tls: ArcSwapOption<ServerConfig>,
    tokens: ArcSwapOption<Tokens>,
    pub(crate) open_reflection: bool,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) idle_timeout: Option<Duration>,
}

impl Security {
    /// Reads the TLS files and the tokens file named by `config`. An error names the file (and, for
    /// the tokens file, the entry and field).
    pub fn from_config(config: &Config) -> Result<Arc<Security>, String> {
        let tls_files = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(TlsFiles { cert: cert.clone(), key: key.clone(), client_ca: config.tls_client_ca.clone() })
            }
            (Some(_), None) => return Err("--tls-cert needs --tls-key (the certificate's private key)".into()),
            (None, Some(_)) => return Err("--tls-key needs --tls-cert (the certificate chain)".into()),
            (None, None) if config.tls_client_ca.is_some() => {
                return Err("--tls-client-ca needs --tls-cert and --tls-key: client certificates need TLS".into());
            }
            (None, None) => None,
        };
        let security = Security {
            tls_files,
            grpc_web: config.grpc_web,
            tokens_file: config.tokens_file.clone(),
            tls: ArcSwapOption::empty(),
            tokens: ArcSwapOption::empty(),
            open_reflection: config.open_reflection,
            rate_limit: config.rate_limit,
            idle_timeout: (!config.idle_timeout.is_zero()).then_some(config.idle_timeout),
        };
        security.reload()?;
        Ok(Arc::new(security))
    }

    /// The files [`Security::reload`] reads, for `--watch`.
    pub fn files(&self) -> Vec<PathBuf> {
        let tls = self.tls_files.iter().flat_map(|f| [Some(f.cert.clone()), Some(f.key.clone()), f.client_ca.clone()]);
        tls.flatten().chain(self.tokens_file.clone()).collect()
    }

    /// Re-reads the certificate, key, client CA and tokens file and swaps them in together. On an
    /// error nothing changes and the error names the file.
    pub fn reload(&self) -> Result<(), String> {
        let tls = self.tls_files.as_ref().map(|files| load_tls(files, self.grpc_web)).transpose()?;
        let tokens = self.tokens_file.as_deref().map(Tokens::load).transpose()?;
        self.tls.store(tls);
        self.tokens.store(tokens.map(Arc::new));
        Ok(())
    }

    /// Whether connections are TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_files.is_some()
    }

    /// Whether clients must present a certificate signed by `--tls-client-ca`.
    pub fn mutual_tls(&self) -> bool {
        self.tls_files.as_ref().is_some_and(|files| files.client_ca.is_some())
    }

    /// The TLS configuration for a connection accepted now.
    pub(crate) fn tls_config(&self) -> Option<Arc<ServerConfig>> {
        self.tls.load_full()
    }

    /// The tokens for a request received now; `None` without `--tokens-file` (no authentication).
    pub(crate) fn tokens(&self) -> Option<Arc<Tokens>> {
        self.tokens.load_full()
    }
}

fn load_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{what} {}: no PEM CERTIFICATE block", path.display()));
    }
    Ok(certificates)
}

/// The rustls server configuration of `files`, offering ALPN `h2` (gRPC).
fn load_tls(files: &TlsFiles, http1: bool) -> Result<Arc<ServerConfig>, String> {
    let certificates = load_certificates(&files.cert, "TLS certificate")?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("TLS key {}: {e}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match &files.client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in load_certificates(path, "TLS client CA")? {
                roots.add(certificate).map_err(|e| format!("TLS client CA {}: {e}", path.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("TLS client CA {}: {e}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certificates, key)
        .map_err(|e| format!("TLS certificate {} with key {}: {e}", files.cert.display(), files.key.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    if http1 {
        config.alpn_protocols.push(b"http/1.1".to_vec());
    }
    Ok(Arc::new(config))
}
