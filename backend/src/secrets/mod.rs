//! Encryption at rest for stored secrets (registry passwords, TLS keys): XChaCha20-Poly1305 with a key from
//! `BERTH_SECRET_KEY` or from a key file created once in the data folder with mode 0600. The one place that
//! seals and opens secrets.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};
use std::path::Path;

const PREFIX: &str = "v1:";
const KEY_FILE: &str = "secret.key";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("BERTH_SECRET_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error("a stored secret cannot be decrypted: was the secret key changed? ({0})")]
    Undecryptable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Seals and opens secrets with the server's key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The key given (`BERTH_SECRET_KEY`), else the one in `<data_dir>/secret.key`, created on first use.
    pub fn load(data_dir: &Path, given: Option<&str>) -> Result<SecretBox, SecretError> {
        if let Some(b64) = given {
            return Self::from_base64(b64.trim());
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                crate::private_fs::write_new(&path, &STANDARD.encode(key))?;
                Ok(SecretBox {
                    cipher: XChaCha20Poly1305::new(&key),
                })
            }
            Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display()).into()),
        }
    }

    pub fn from_base64(b64: &str) -> Result<SecretBox, SecretError> {
        let bytes = STANDARD.decode(b64).map_err(|_| SecretError::BadKey)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?;
        Ok(SecretBox { cipher })
    }

    /// `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|e| anyhow::anyhow!("encryption failed: {e}"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let undecryptable = |why: &str| SecretError::Undecryptable(why.to_owned());
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| undecryptable("unknown format"))?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|_| undecryptable("not base64"))?;
        if bytes.len() < 24 {
            return Err(undecryptable("too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| undecryptable("authentication failed"))?;
        String::from_utf8(plain).map_err(|_| undecryptable("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_tampering_fails() {
        let dir = std::env::temp_dir().join(format!("berth-secret-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = SecretBox::load(&dir, None).unwrap();
        let sealed = a.seal("p@ss+w/rd=?").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("p@ss"));
        assert_ne!(
            sealed,
            a.seal("p@ss+w/rd=?").unwrap(),
            "fresh nonce each time"
        );
        // The key file is reused by the next start, and is private.
        let b = SecretBox::load(&dir, None).unwrap();
        assert_eq!(b.open(&sealed).unwrap(), "p@ss+w/rd=?");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = SecretBox::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(matches!(
            other.open(&sealed),
            Err(SecretError::Undecryptable(_))
        ));
        assert!(matches!(
            SecretBox::from_base64("short"),
            Err(SecretError::BadKey)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
