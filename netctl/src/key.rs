//! This node's WireGuard key pair (x25519).
//!
//! The private key is made on the node, kept in one file of the data dir
//! (mode 0600) and never leaves it: only the public key goes into the
//! registry. Keys travel as standard base64 (what `wg` prints) and are
//! given to the device as hex (what the UAPI protocol reads).

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use boringtun::x25519::{PublicKey, StaticSecret};

use crate::error::MeshError;

/// File in the data dir holding the private key (base64, mode 0600).
pub const KEY_FILE: &str = "mesh.key";

/// A WireGuard public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKeyBytes(pub [u8; 32]);

impl PublicKeyBytes {
    /// Parses the base64 form `wg` prints (44 characters).
    pub fn from_base64(s: &str) -> Result<PublicKeyBytes, MeshError> {
        decode_key(s.trim()).map(PublicKeyBytes)
    }

    /// Parses the hex form the UAPI protocol uses.
    pub fn from_hex(s: &str) -> Result<PublicKeyBytes, MeshError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)
            .map_err(|_| MeshError::KeyInvalid(format!("{s:?} is not a 64-digit hex key")))?;
        Ok(PublicKeyBytes(bytes))
    }

    /// The base64 form (as `wg show` prints it).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The hex form (as the UAPI protocol takes it).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for PublicKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKeyBytes({self})")
    }
}

/// This node's key pair. `Debug` never shows the private key.
pub struct MeshKey {
    secret: StaticSecret,
    public: PublicKeyBytes,
}

impl fmt::Debug for MeshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl MeshKey {
    /// Loads the key pair from [`KEY_FILE`] in `data_dir`, making and
    /// saving a fresh one (mode 0600, atomically) when there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<MeshKey, MeshError> {
        let path = data_dir.join(KEY_FILE);
        match nexus_durable::read_to_string(&path) {
            Ok(text) => {
                let bytes = decode_key(text.trim())
                    .map_err(|e| MeshError::KeyInvalid(format!("{}: {e}", path.display())))?;
                Ok(MeshKey::from_secret(bytes))
            }
            Err(e) if e.source.kind() == std::io::ErrorKind::NotFound => {
                let key = MeshKey::generate();
                key.save(data_dir)?;
                Ok(key)
            }
            Err(e) => Err(MeshError::KeyFile(e.to_string())),
        }
    }

    /// A fresh key pair, in memory only (a joiner saves it once admitted).
    pub fn generate() -> MeshKey {
        MeshKey::from_secret(rand::random())
    }

    /// Saves the private key as [`KEY_FILE`] in `data_dir` (mode 0600,
    /// atomically).
    pub fn save(&self, data_dir: &Path) -> Result<(), MeshError> {
        let text = format!("{}\n", STANDARD.encode(self.secret.to_bytes()));
        nexus_durable::write_file(
            &data_dir.join(KEY_FILE),
            text.as_bytes(),
            nexus_durable::PRIVATE_FILE,
        )
        .map_err(|e| MeshError::KeyFile(e.to_string()))
    }

    fn from_secret(bytes: [u8; 32]) -> MeshKey {
        let secret = StaticSecret::from(bytes);
        let public = PublicKeyBytes(PublicKey::from(&secret).to_bytes());
        MeshKey { secret, public }
    }

    /// The public key (what the registry holds).
    pub fn public(&self) -> PublicKeyBytes {
        self.public
    }

    /// The private key in hex, for the device's UAPI only.
    pub(crate) fn private_hex(&self) -> String {
        hex::encode(self.secret.to_bytes())
    }
}

fn decode_key(s: &str) -> Result<[u8; 32], MeshError> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|_| MeshError::KeyInvalid(format!("{s:?} is not base64")))?;
    bytes
        .try_into()
        .map_err(|_| MeshError::KeyInvalid(format!("{s:?} is not a 32-byte key")))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_fresh_key_is_saved_private_and_loaded_again_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let first = MeshKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = MeshKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.public(), again.public());
        assert_eq!(first.private_hex(), again.private_hex());
    }

    #[test]
    fn public_keys_round_trip_through_base64_and_hex() {
        let key = PublicKeyBytes([7; 32]);
        assert_eq!(PublicKeyBytes::from_base64(&key.to_base64()).unwrap(), key);
        assert_eq!(PublicKeyBytes::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(
            PublicKeyBytes::from_base64("AAAA").unwrap_err().to_string(),
            "mesh key invalid: \"AAAA\" is not a 32-byte key"
        );
    }

    #[test]
    fn a_damaged_key_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a key\n").unwrap();
        let err = MeshKey::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("mesh.key"), "{err}");
    }
}
