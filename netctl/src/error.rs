//! Why the mesh could not be set up or changed. Each kind maps to one
//! catalog code ([`MeshError::code`]); the message names what failed.

use nexus_errors::{ErrorCode, UserError};

/// A mesh failure.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// `/dev/net/tun` is missing or cannot be opened.
    #[error("mesh unavailable: {0}")]
    NoTun(String),
    /// The process lacks CAP_NET_ADMIN (creating the interface, or setting
    /// its address, routes or MTU, was refused).
    #[error("mesh unavailable: {0}")]
    NotPermitted(String),
    /// The device could not be created for another reason.
    #[error("mesh device failed: {0}")]
    Device(String),
    /// Setting the interface's address, routes or MTU over netlink failed.
    #[error("mesh netlink failed: {0}")]
    Netlink(String),
    /// The device's UAPI socket refused or failed a request.
    #[error("mesh uapi failed: {0}")]
    Uapi(String),
    /// A key (from the key file, the registry or the device) is malformed.
    #[error("mesh key invalid: {0}")]
    KeyInvalid(String),
    /// The key file could not be read or written.
    #[error("mesh key file: {0}")]
    KeyFile(String),
}

impl MeshError {
    /// The catalog code of this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            MeshError::NoTun(_) | MeshError::NotPermitted(_) => ErrorCode::MeshUnavailable,
            MeshError::KeyInvalid(_) | MeshError::KeyFile(_) => ErrorCode::MeshKeyInvalid,
            MeshError::Device(_) | MeshError::Netlink(_) | MeshError::Uapi(_) => {
                ErrorCode::MeshDeviceFailed
            }
        }
    }

    /// The user-facing error (code, this message, the code's hint).
    pub fn to_user_error(&self) -> UserError {
        UserError::new(self.code(), self.to_string())
    }
}
