//! TLS settings for every TLS listener: rustls with the ring provider, TLS
//! 1.2 and 1.3, a certificate that can be replaced while serving, and
//! client certificates taken when offered.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConnection};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};

use super::session::Session;

/// The server's TLS configuration, shared by every TLS connection, and the
/// files its certificate comes from.
#[derive(Debug)]
pub struct Tls {
    config: Arc<ServerConfig>,
    current: Arc<Current>,
    provider: Arc<CryptoProvider>,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    /// Loads the certificate chain and key (PEM) and makes the
    /// configuration every TLS connection will use.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = certified_key(cert, key, &provider)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(certified))));
        let verifier = Arc::new(AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
        });
        let resolver: Arc<dyn ResolvesServerCert> = current.clone();
        let config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|error| format!("TLS: {error}"))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(resolver);
        Ok(Tls {
            config: Arc::new(config),
            current,
            provider,
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Reads the certificate and key files again and, if they make a valid
    /// pair, serves the new certificate to every handshake from now on;
    /// connections already made keep theirs. On an error the old one stays.
    pub fn reload(&self) -> Result<(), String> {
        let certified = certified_key(&self.cert, &self.key, &self.provider)?;
        *self.current.0.write() = Arc::new(certified);
        Ok(())
    }

    /// A session for a connection just accepted on a TLS listener.
    pub fn session(&self) -> Result<Session, String> {
        ServerConnection::new(Arc::clone(&self.config))
            .map(Session::tls)
            .map_err(|error| format!("TLS: {error}"))
    }

    /// The SHA-256 fingerprint of the certificate served now.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.current.0.read().cert[0])
    }
}

/// The SHA-256 of a certificate (its DER bytes), in lowercase hex, as
/// IRC servers show it (WHOIS 276) and clients configure it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A self-signed certificate for `names` (host names or addresses) and its
/// key, both PEM, for local use (`switchboard gen-cert`).
pub fn self_signed(names: Vec<String>) -> Result<(String, String), String> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).map_err(|error| error.to_string())?;
    Ok((cert.pem(), signing_key.serialize_pem()))
}

/// A client configuration that accepts any server certificate (but checks
/// the handshake's signatures), as `irssi -tls_verify no` does: for tools
/// that talk to a local server with a self-signed certificate (the load
/// generator, tests), never for anything that needs to know who answers.
/// With `identity` (a chain and its key), it offers a client certificate.
pub fn client_trusting_anyone(
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyServerCert {
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Reads a PEM chain and key and checks that they belong together.
fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it",
            cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("--tls-key {}: {error}", key.display()))?;
    CertifiedKey::from_der(chain, private, provider)
        .map_err(|error| format!("--tls-cert and --tls-key: {error}"))
}

/// The certificate served now; replaced whole on reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.read()))
    }
}

/// Asks every client for a certificate, takes any it offers, signed by
/// anyone or by itself, and none: a certificate here is an identity
/// (its fingerprint, for WHOIS and SASL EXTERNAL), not a proof of trust
/// in a name. The handshake's signature is still checked, so a client
/// cannot claim a certificate whose key it does not hold.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Takes any server certificate; see [`client_trusting_anyone`].
#[derive(Debug)]
struct AnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
