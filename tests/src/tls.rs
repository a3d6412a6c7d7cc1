//! A throw-away certificate authority for the TLS engine: a CA, a server certificate for
//! `127.0.0.1`/`localhost`, and a client certificate, all made with rcgen and written as PEM files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// PEM texts of the CA and of the client identity (what a Docker client needs), plus the server pair.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

/// Where [`TlsMaterial::write`] put the files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn validity(params: &mut CertificateParams) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    params.not_before = now
        .checked_sub(Duration::days(1))
        .context("computing not_before")?;
    params.not_after = now
        .checked_add(Duration::days(30))
        .context("computing not_after")?;
    Ok(())
}

impl TlsMaterial {
    /// Generates a fresh CA, server and client certificate (ECDSA P-256).
    pub fn generate() -> Result<TlsMaterial> {
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "berth-test CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "berth-test");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut ca_params)?;
        let ca_key = KeyPair::generate().context("generating the CA key")?;
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .context("self-signing the CA")?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .context("server certificate parameters")?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "berth-test engine");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        validity(&mut server_params)?;
        let server_key = KeyPair::generate().context("generating the server key")?;
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .context("signing the server certificate")?;

        let mut client_params = CertificateParams::new(Vec::<String>::new())
            .context("client certificate parameters")?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "berth-test client");
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.use_authority_key_identifier_extension = true;
        validity(&mut client_params)?;
        let client_key = KeyPair::generate().context("generating the client key")?;
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .context("signing the client certificate")?;

        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// Writes the PEM files into `dir` (keys readable by the owner only).
    pub fn write(&self, dir: &Path) -> Result<TlsFiles> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server-cert.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("cert.pem"),
            client_key: dir.join("key.pem"),
        };
        for (path, text, private) in [
            (&files.ca, &self.ca_pem, false),
            (&files.server_cert, &self.server_cert_pem, false),
            (&files.server_key, &self.server_key_pem, true),
            (&files.client_cert, &self.client_cert_pem, false),
            (&files.client_key, &self.client_key_pem, true),
        ] {
            fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            if private {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("restricting {}", path.display()))?;
            }
        }
        Ok(files)
    }
}
